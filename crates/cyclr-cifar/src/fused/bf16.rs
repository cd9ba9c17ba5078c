//! The matrix product in bfloat16 with f32 sums, for the fused engine's `fused-bf16`
//! precision: both operands are rounded to bf16 (round to nearest even, subnormals to
//! zero, as `vcvtne2ps2bf16` does) and multiplied with AVX-512 BF16's `vdpbf16ps`, which
//! adds two products per f32 lane per instruction: about 1.8x the f32 FMA rate on the EPYC
//! of BENCHMARKS.md. The f32 product ([`super::kernels::mm`]) stays the default; this one
//! changes the numbers (by bf16's 8-bit mantissa), so it is a separate engine.
//!
//! Layout: an operand is packed into 32-bit words, each holding a pair of bf16 values that
//! are consecutive along the sum (`k`), element `2p` in the low half, which is the order
//! `vdpbf16ps` multiplies in. The left operand's words are broadcast, the right operand's
//! are loaded 16 columns at a time; the output is a tile of `MR x 16*NV` f32 sums held in
//! registers for the whole sum.

use std::cell::RefCell;

/// Whether this CPU can run [`mm_bf16`] (AVX-512 F, BW and BF16).
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `f32` to `bf16` bits as `vcvtne2ps2bf16` rounds: to nearest even, subnormal inputs
/// to zero of their sign, NaN kept quiet.
#[inline]
pub(super) fn to_bf16(x: f32) -> u16 {
    let b = x.to_bits();
    if x.is_nan() {
        ((b >> 16) | 0x40) as u16
    } else if b & 0x7f80_0000 == 0 {
        ((b >> 16) & 0x8000) as u16
    } else {
        ((b + 0x7fff + ((b >> 16) & 1)) >> 16) as u16
    }
}

/// The f32 value of `bf16` bits (for the tests).
#[inline]
#[cfg(test)]
fn from_bf16(h: u16) -> f32 {
    f32::from_bits(u32::from(h) << 16)
}

#[inline]
fn word(lo: f32, hi: f32) -> u32 {
    u32::from(to_bf16(lo)) | (u32::from(to_bf16(hi)) << 16)
}

thread_local! {
    /// Packed operands, kept per thread so a product allocates nothing once warm.
    static PACKED: RefCell<(Vec<u32>, Vec<u32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// `dst (m x n) = [dst +] a (m x k) * b (k x n)` like [`super::kernels::mm`] (same
/// arguments, same bounds checks), with `a` and `b` rounded to bf16 and f32 sums. Only
/// where [`available`] says so; the engine checks before it picks this precision.
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub fn mm_bf16(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    ldd: usize,
    acc: bool,
    a: &[f32],
    a_strides: (usize, usize),
    b: &[f32],
    b_strides: (usize, usize),
) {
    super::kernels::check_product(m, n, k, dst, ldd, a, a_strides, b, b_strides);
    assert!(available(), "mm_bf16 needs AVX-512 BF16");
    #[cfg(target_arch = "x86_64")]
    PACKED.with_borrow_mut(|(pa, pb)| {
        // SAFETY: the features were checked just above; the packers and the tiles stay
        // inside the slices by the asserts (sources) and by their own sizing (packs).
        unsafe { x86::product(m, n, k, dst, ldd, acc, a, a_strides, b, b_strides, pa, pb) }
    });
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::word;
    use std::arch::x86_64::*;

    /// Rows of a tile when it has 3 or 4 column vectors (18 or 24 sums in registers), and
    /// when it has 1 or 2 (12 rows: 12 or 24 sums).
    const MR_WIDE: usize = 6;
    const MR_NARROW: usize = 12;

    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    pub(super) unsafe fn product(
        m: usize,
        n: usize,
        k: usize,
        dst: &mut [f32],
        ldd: usize,
        acc: bool,
        a: &[f32],
        (a_rs, a_cs): (usize, usize),
        b: &[f32],
        (b_rs, b_cs): (usize, usize),
        pa: &mut Vec<u32>,
        pb: &mut Vec<u32>,
    ) {
        let k2 = k.div_ceil(2);
        let np = n.div_ceil(16) * 16;
        // Rows padded to a multiple of both tile heights (zero rows are summed, never
        // stored), so every tile reads whole rows.
        let mp = m.div_ceil(MR_NARROW) * MR_NARROW;
        // The left operand: row-major words `[i][p]` when its sum runs along memory,
        // pair-major `[p][i]` when its rows do; (word stride per row, per pair).
        let (ai, ap) = if a_cs == 1 { (k2, 1) } else { (1, mp) };
        pa.clear();
        pa.resize(mp * k2, 0);
        if a_cs == 1 {
            for i in 0..m {
                unsafe { pack_run(&a[i * a_rs..][..k], &mut pa[i * k2..][..k2]) };
            }
        } else if a_rs == 1 {
            unsafe { pack_row_pairs(a, a_cs, k, m, pa, mp) };
        } else {
            for p in 0..k2 {
                for i in 0..m {
                    let hi = if 2 * p + 1 < k {
                        a[i * a_rs + (2 * p + 1) * a_cs]
                    } else {
                        0.0
                    };
                    pa[p * mp + i] = word(a[i * a_rs + 2 * p * a_cs], hi);
                }
            }
        }
        // The right operand: always `[p][j]`, 16 columns per vector.
        pb.clear();
        pb.resize(k2 * np, 0);
        if b_cs == 1 {
            unsafe { pack_row_pairs(b, b_rs, k, n, pb, np) };
        } else {
            for p in 0..k2 {
                for j in 0..n {
                    let hi = if 2 * p + 1 < k {
                        b[(2 * p + 1) * b_rs + j * b_cs]
                    } else {
                        0.0
                    };
                    pb[p * np + j] = word(b[2 * p * b_rs + j * b_cs], hi);
                }
            }
        }
        let d = dst.as_mut_ptr();
        let mut j = 0;
        while j < n {
            let vectors = (n - j).div_ceil(16).min(4);
            let cols = (n - j).min(16 * vectors);
            let bp = unsafe { pb.as_ptr().add(j) };
            let mut i = 0;
            while i < m {
                let ap_i = unsafe { pa.as_ptr().add(i * ai) };
                let dij = unsafe { d.add(i * ldd + j) };
                let rows;
                unsafe {
                    match vectors {
                        4 => {
                            rows = (m - i).min(MR_WIDE);
                            tile::<MR_WIDE, 4>(rows, cols, k2, ap_i, ai, ap, bp, np, dij, ldd, acc)
                        }
                        3 => {
                            rows = (m - i).min(MR_WIDE);
                            tile::<MR_WIDE, 3>(rows, cols, k2, ap_i, ai, ap, bp, np, dij, ldd, acc)
                        }
                        2 => {
                            rows = (m - i).min(MR_NARROW);
                            tile::<MR_NARROW, 2>(
                                rows, cols, k2, ap_i, ai, ap, bp, np, dij, ldd, acc,
                            )
                        }
                        _ => {
                            rows = (m - i).min(MR_NARROW);
                            tile::<MR_NARROW, 1>(
                                rows, cols, k2, ap_i, ai, ap, bp, np, dij, ldd, acc,
                            )
                        }
                    }
                }
                i += rows;
            }
            j += cols;
        }
    }

    /// Packs `k` consecutive values into `ceil(k/2)` words (the last one padded with zero).
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    unsafe fn pack_run(src: &[f32], out: &mut [u32]) {
        let k = src.len();
        let mut c = 0;
        while c + 32 <= k {
            unsafe {
                let lo = _mm512_loadu_ps(src.as_ptr().add(c));
                let hi = _mm512_loadu_ps(src.as_ptr().add(c + 16));
                // Elements 0..16 from `lo`, 16..32 from `hi`: 16 words already in pair order.
                let v: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(hi, lo));
                _mm512_storeu_si512(out.as_mut_ptr().add(c / 2).cast(), v);
            }
            c += 32;
        }
        if c < k {
            // The tail, by masked loads: zeros beyond `k` pad the last word.
            let rest = k - c;
            let (m_lo, m_hi) = (mask16(rest), mask16(rest.saturating_sub(16)));
            unsafe {
                let lo = _mm512_maskz_loadu_ps(m_lo, src.as_ptr().add(c));
                // `wrapping_add`: with 16 or fewer left this points past the slice, which
                // `add` must not; the all-zero mask then reads nothing.
                let hi = _mm512_maskz_loadu_ps(m_hi, src.as_ptr().wrapping_add(c + 16));
                let v: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(hi, lo));
                _mm512_mask_storeu_epi32(
                    out.as_mut_ptr().add(c / 2).cast(),
                    mask16(rest.div_ceil(2)),
                    v,
                );
            }
        }
    }

    /// The first `n` of 16 lanes (all of them from 16 up).
    #[inline]
    fn mask16(n: usize) -> __mmask16 {
        if n >= 16 { 0xffff } else { (1u16 << n) - 1 }
    }

    /// Packs a matrix whose sum runs along rows (`src[p * stride + x]`, `k` rows of
    /// `width`) into pair-major words `out[p/2 * out_stride + x]`: rows `2p` and `2p + 1`
    /// interleaved.
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    unsafe fn pack_row_pairs(
        src: &[f32],
        stride: usize,
        k: usize,
        width: usize,
        out: &mut [u32],
        out_stride: usize,
    ) {
        // Interleaves the two 16-element halves: (lo0, hi0, lo1, hi1, ...).
        let idx = _mm512_set_epi16(
            31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21, 5, 20,
            4, 19, 3, 18, 2, 17, 1, 16, 0,
        );
        for p in 0..k.div_ceil(2) {
            let r0 = &src[2 * p * stride..][..width];
            let r1 = (2 * p + 1 < k).then(|| &src[(2 * p + 1) * stride..][..width]);
            let o = &mut out[p * out_stride..][..width];
            let mut x = 0;
            while x + 16 <= width {
                unsafe {
                    let lo = _mm512_loadu_ps(r0.as_ptr().add(x));
                    let hi = match r1 {
                        Some(r1) => _mm512_loadu_ps(r1.as_ptr().add(x)),
                        None => _mm512_setzero_ps(),
                    };
                    let v: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(hi, lo));
                    _mm512_storeu_si512(
                        o.as_mut_ptr().add(x).cast(),
                        _mm512_permutexvar_epi16(idx, v),
                    );
                }
                x += 16;
            }
            if x < width {
                let mask = mask16(width - x);
                unsafe {
                    let lo = _mm512_maskz_loadu_ps(mask, r0.as_ptr().add(x));
                    let hi = match r1 {
                        Some(r1) => _mm512_maskz_loadu_ps(mask, r1.as_ptr().add(x)),
                        None => _mm512_setzero_ps(),
                    };
                    let v: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(hi, lo));
                    let v = _mm512_permutexvar_epi16(idx, v);
                    _mm512_mask_storeu_epi32(o.as_mut_ptr().add(x).cast(), mask, v);
                }
            }
        }
    }

    /// One output tile: `rows <= MR` rows, `cols <= 16 * NV` columns, the whole sum of
    /// `k2` word pairs in registers, then added to or stored in `dst`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    unsafe fn tile<const MR: usize, const NV: usize>(
        rows: usize,
        cols: usize,
        k2: usize,
        a: *const u32,
        ai: usize,
        ap: usize,
        b: *const u32,
        bs: usize,
        dst: *mut f32,
        ldd: usize,
        acc: bool,
    ) {
        let mut c = [[_mm512_setzero_ps(); NV]; MR];
        for p in 0..k2 {
            let mut bv = [_mm512_setzero_si512(); NV];
            for (v, bv) in bv.iter_mut().enumerate() {
                *bv = unsafe { _mm512_loadu_si512(b.add(p * bs + 16 * v).cast()) };
            }
            for (r, cr) in c.iter_mut().enumerate() {
                let w = unsafe { *a.add(r * ai + p * ap) };
                let x: __m512bh = unsafe { std::mem::transmute(_mm512_set1_epi32(w as i32)) };
                for v in 0..NV {
                    let y: __m512bh = unsafe { std::mem::transmute(bv[v]) };
                    cr[v] = _mm512_dpbf16_ps(cr[v], x, y);
                }
            }
        }
        for (r, cr) in c.iter().enumerate().take(rows) {
            for (v, &sum) in cr.iter().enumerate() {
                let first = 16 * v;
                if first >= cols {
                    break;
                }
                let mask = mask16(cols - first);
                unsafe {
                    let out = dst.add(r * ldd + first);
                    let s = if acc {
                        _mm512_add_ps(_mm512_maskz_loadu_ps(mask, out), sum)
                    } else {
                        sum
                    };
                    _mm512_mask_storeu_ps(out, mask, s);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_to_nearest_even_with_subnormals_to_zero() {
        assert_eq!(from_bf16(to_bf16(1.0)), 1.0);
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: to the even one, 1.
        assert_eq!(from_bf16(to_bf16(1.0 + 1.0 / 256.0)), 1.0);
        assert_eq!(from_bf16(to_bf16(1.0 + 3.0 / 256.0)), 1.0 + 4.0 / 256.0);
        assert_eq!(to_bf16(f32::MIN_POSITIVE / 2.0), 0);
        assert_eq!(to_bf16(-f32::MIN_POSITIVE / 2.0), 0x8000);
        assert!(from_bf16(to_bf16(f32::NAN)).is_nan());
        assert_eq!(from_bf16(to_bf16(f32::INFINITY)), f32::INFINITY);
    }

    /// The product of the bf16-rounded operands in f64, the reference every layout must
    /// match to f32 summation error.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        m: usize,
        n: usize,
        k: usize,
        a: &[f32],
        (ars, acs): (usize, usize),
        b: &[f32],
        (brs, bcs): (usize, usize),
    ) -> Vec<f64> {
        let r = |x: f32| f64::from(from_bf16(to_bf16(x)));
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k)
                    .map(|p| r(a[i * ars + p * acs]) * r(b[p * brs + j * bcs]))
                    .sum();
            }
        }
        out
    }

    #[test]
    fn every_operand_layout_matches_the_rounded_reference() {
        if !available() {
            eprintln!("skipped: this CPU has no AVX-512 BF16");
            return;
        }
        let mut seed = 7u32;
        let mut next = move || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        // Shapes like the engine's (odd sums, partial tiles and partial vectors).
        for &(m, n, k) in &[
            (37, 32, 27),
            (13, 64, 288),
            (29, 288, 64),
            (27, 32, 61),
            (5, 10, 3),
            (1, 1, 1),
            (50, 70, 33),
            // 3-vector tiles (33..48 columns left over).
            (13, 40, 27),
            (7, 100, 50),
        ] {
            // Room for the strided layout below, which uses every other value.
            let a: Vec<f32> = (0..2 * m * k).map(|_| next()).collect();
            let b: Vec<f32> = (0..k * n).map(|_| next()).collect();
            // Rows along memory, columns along memory, and neither (the general packer).
            for a_strides in [(k, 1), (1, m), (2 * k, 2)] {
                for b_strides in [(n, 1), (1, k)] {
                    let want = reference(m, n, k, &a, a_strides, &b, b_strides);
                    for acc in [false, true] {
                        let ldd = n + 3;
                        let mut dst = vec![0.25f32; m * ldd];
                        mm_bf16(m, n, k, &mut dst, ldd, acc, &a, a_strides, &b, b_strides);
                        for i in 0..m {
                            for j in 0..ldd {
                                let got = f64::from(dst[i * ldd + j]);
                                if j >= n {
                                    assert_eq!(got, 0.25, "wrote outside the output at {i},{j}");
                                    continue;
                                }
                                let w = want[i * n + j] + if acc { 0.25 } else { 0.0 };
                                assert!(
                                    (got - w).abs() < 1e-5 * (k as f64).sqrt() + 1e-6,
                                    "{m}x{n}x{k} {a_strides:?} {b_strides:?} acc {acc}: [{i},{j}] {got} vs {w}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}
