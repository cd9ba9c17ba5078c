//! The building blocks: the matrix product, im2row and its adjoint, pooling with bias and
//! ReLU, weight permutations, row and column sums.

use gemm::{Parallelism, gemm};

/// `dst (m x n) = [dst +] a (m x k) * b (k x n)`, each given by pointer and (row, column)
/// strides, so transposes cost nothing; on the calling thread. Public, but hidden, for the
/// `gemm_probe` example, which times the engine's products at their shapes.
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn mm(
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
    product(
        m,
        n,
        k,
        dst,
        ldd,
        acc,
        a,
        a_strides,
        b,
        b_strides,
        Parallelism::None,
    );
}

/// [`mm`] spread over rayon's threads (gemm splits the output, not the sum, so the
/// numbers are those of [`mm`]): for the dense layers, which run between the parallel
/// parts.
#[allow(clippy::too_many_arguments)]
pub(super) fn mm_parallel(
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
    product(
        m,
        n,
        k,
        dst,
        ldd,
        acc,
        a,
        a_strides,
        b,
        b_strides,
        Parallelism::Rayon(0),
    );
}

/// The bounds every matrix product here relies on, f32 ([`mm`]) and bf16 alike: real
/// checks, in release builds too, as they guard unsafe code and cost nothing next to a
/// product. The arithmetic is checked: a wrapped bound would pass and let a product write
/// anywhere.
#[allow(clippy::too_many_arguments)]
pub(super) fn check_product(
    m: usize,
    n: usize,
    k: usize,
    dst: &[f32],
    ldd: usize,
    a: &[f32],
    (a_rs, a_cs): (usize, usize),
    b: &[f32],
    (b_rs, b_cs): (usize, usize),
) {
    assert!(
        m > 0 && n > 0 && k > 0,
        "empty matrix product {m}x{k} * {k}x{n}"
    );
    // The offset of the last element of a `rows x cols` matrix with these strides.
    let last = |rows: usize, rs: usize, cols: usize, cs: usize| {
        (rows - 1)
            .checked_mul(rs)
            .and_then(|x| (cols - 1).checked_mul(cs).and_then(|y| x.checked_add(y)))
            .expect("matrix extent overflows usize")
    };
    assert!(
        ldd >= n && dst.len() > last(m, ldd, n, 1),
        "dst too small for {m}x{n} (ld {ldd})"
    );
    assert!(a.len() > last(m, a_rs, k, a_cs), "a too small for {m}x{k}");
    assert!(b.len() > last(k, b_rs, n, b_cs), "b too small for {k}x{n}");
}

#[allow(clippy::too_many_arguments)]
#[inline]
fn product(
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
    parallelism: Parallelism,
) {
    check_product(m, n, k, dst, ldd, a, (a_rs, a_cs), b, (b_rs, b_cs));
    // SAFETY: the checks above keep every element gemm touches inside the slices.
    unsafe {
        gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            ldd as isize,
            acc,
            a.as_ptr(),
            a_cs as isize,
            a_rs as isize,
            b.as_ptr(),
            b_cs as isize,
            b_rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

// Activations are channels-last (NHWC): a position's channels are contiguous, so the
// column matrix is built from runs of `3 * C` floats, pooling and bias work on whole
// channel vectors, and the products take their fastest orientation. The weights are
// permuted to match, `(kh, kw, c)` instead of burn's `(c, kh, kw)`, once per batch.

/// Rows of a 3x3 valid convolution's input patches: `rows[(oh*so + ow) x ((kh*3 + kw)*C + c)]
/// = x[oh + kh][ow + kw][c]` for channels-last `x [S x S x C]`.
#[inline(always)]
pub(super) fn im2row<const C: usize, const S: usize>(x: &[f32], rows: &mut [f32]) {
    let so = S - 2;
    for oh in 0..so {
        for ow in 0..so {
            let row = &mut rows[(oh * so + ow) * 9 * C..][..9 * C];
            for kh in 0..3 {
                let src = &x[((oh + kh) * S + ow) * C..][..3 * C];
                row[kh * 3 * C..(kh + 1) * 3 * C].copy_from_slice(src);
            }
        }
    }
}

/// The transpose of [`im2row`]: adds the patches' gradients back onto the input.
#[inline(always)]
pub(super) fn row2im<const C: usize, const S: usize>(drows: &[f32], dx: &mut [f32]) {
    let so = S - 2;
    dx[..S * S * C].fill(0.0);
    for oh in 0..so {
        for ow in 0..so {
            let row = &drows[(oh * so + ow) * 9 * C..][..9 * C];
            for kh in 0..3 {
                let dst = &mut dx[((oh + kh) * S + ow) * C..][..3 * C];
                for (d, v) in dst.iter_mut().zip(&row[kh * 3 * C..(kh + 1) * 3 * C]) {
                    *d += v;
                }
            }
        }
    }
}

/// `a.max(b)` (the larger, ignoring a NaN), written as a compare and a select, which
/// vectorises in the pooling loops (the old `f32::max` fold with a search per channel
/// stayed scalar). The same value as `f32::max` for every input but two choices it leaves
/// unspecified, which zero of `+0.0` and `-0.0` and which of two NaNs; neither reaches a
/// result here (no raw output is `-0.0`, and ReLU's maximum with 0 drops any NaN).
#[inline(always)]
fn max_num(a: f32, b: f32) -> f32 {
    if a > b || b.is_nan() { a } else { b }
}

/// The position (0-3, row by row) of a window's first maximum, 4 when it has none (all
/// NaN): the maximum is the fold of `max_num` from minus infinity in window order, the
/// rule burn's pooling gradient follows.
#[inline(always)]
fn first_max(v0: f32, v1: f32, v2: f32, v3: f32) -> u8 {
    let m = max_num(max_num(max_num(max_num(f32::NEG_INFINITY, v0), v1), v2), v3);
    if v0 == m {
        0
    } else if v1 == m {
        1
    } else if v2 == m {
        2
    } else if v3 == m {
        3
    } else {
        4
    }
}

/// 2x2 max pooling (stride 2, floor) of a raw convolution output `[O x O x C]`, then bias
/// and ReLU on the four-times smaller result: `relu(max(a) + b) = max(relu(a + b))`, so no
/// full-size pass is needed. Output `[q x q x C]`, and with `ARG` (training) in `arg` where
/// each value came from ([`first_max`]), which is all [`unpool`] needs of `a`.
#[inline(always)]
pub(super) fn pool_bias_relu<const C: usize, const O: usize, const ARG: bool>(
    a: &[f32],
    bias: &[f32],
    out: &mut [f32],
    arg: &mut [u8],
) {
    let q = O / 2;
    for i in 0..q {
        for j in 0..q {
            let at = |di: usize, dj: usize| &a[((2 * i + di) * O + 2 * j + dj) * C..][..C];
            let (x0, x1, x2, x3) = (at(0, 0), at(0, 1), at(1, 0), at(1, 1));
            let k = (i * q + j) * C;
            let (dst, arg) = (&mut out[k..k + C], &mut arg[k..k + C]);
            for c in 0..C {
                dst[c] = max_num(
                    max_num(max_num(x0[c], x1[c]), max_num(x2[c], x3[c])) + bias[c],
                    0.0,
                );
                if ARG {
                    arg[c] = first_max(x0[c], x1[c], x2[c], x3[c]);
                }
            }
        }
    }
}

/// The backward of [`pool_bias_relu`]: each pooled gradient goes to its window's first
/// maximum (`arg`; burn's order: row by row) when the output was positive (ReLU's mask);
/// the bias gradient is their sum per channel. Everything else in `da` is zero.
///
/// Branch-free over whole channel vectors (a select per window position), so it
/// vectorises.
#[inline(always)]
pub(super) fn unpool<const C: usize, const O: usize>(
    dp: &[f32],
    pooled: &[f32],
    arg: &[u8],
    da: &mut [f32],
    dbias: &mut [f32],
) {
    let q = O / 2;
    // With an odd size the last row and column belong to no window; every other element
    // is written below.
    if O % 2 == 1 {
        da[..O * O * C].fill(0.0);
    }
    let dbias = &mut dbias[..C];
    for i in 0..q {
        for j in 0..q {
            let k = (i * q + j) * C;
            let (g, p, arg) = (&dp[k..k + C], &pooled[k..k + C], &arg[k..k + C]);
            for (w, (di, dj)) in [(0, 0), (0, 1), (1, 0), (1, 1)].into_iter().enumerate() {
                let at = ((2 * i + di) * O + 2 * j + dj) * C;
                let d = &mut da[at..at + C];
                for c in 0..C {
                    d[c] = if p[c] > 0.0 && arg[c] == w as u8 {
                        g[c]
                    } else {
                        0.0
                    };
                }
            }
            for c in 0..C {
                // Added only where a window has a maximum, as the scalar rule did.
                if p[c] > 0.0 && arg[c] < 4 {
                    dbias[c] += g[c];
                }
            }
        }
    }
}

/// burn's conv weight `[co][c][kh][kw]` as `[co][kh][kw][c]`.
pub(super) fn permute_in<const CO: usize, const CI: usize>(w: &[f32], out: &mut [f32]) {
    for co in 0..CO {
        for c in 0..CI {
            for t in 0..9 {
                out[co * 9 * CI + t * CI + c] = w[co * 9 * CI + c * 9 + t];
            }
        }
    }
}

/// The weight gradient as the backward pass sums it, `[kh][kw][c][co]` (the products
/// write it contiguously in that order, their fastest), added into burn's
/// `[co][c][kh][kw]`.
pub(super) fn permute_out_add<const CO: usize, const CI: usize>(gt: &[f32], out: &mut [f32]) {
    for co in 0..CO {
        for c in 0..CI {
            for t in 0..9 {
                out[co * 9 * CI + c * 9 + t] += gt[(t * CI + c) * CO + co];
            }
        }
    }
}

pub(super) fn bias_relu_rows(h: &mut [f32], bias: &[f32]) {
    for row in h.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v = (*v + b).max(0.0);
        }
    }
}

pub(super) fn col_sums(m: &[f32], cols: usize, out: &mut [f32]) {
    out.fill(0.0);
    for row in m.chunks_exact(cols) {
        for (o, v) in out.iter_mut().zip(row) {
            *o += v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_num_gives_f32_max_for_every_kind_of_value() {
        let values = [
            -1.5f32,
            0.25,
            3.0,
            0.0,
            -0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            f32::MIN_POSITIVE / 4.0, // subnormal
        ];
        for &a in &values {
            for &b in &values {
                let (ours, std) = (max_num(a, b), a.max(b));
                if a == 0.0 && b == 0.0 {
                    // Which zero is unspecified for f32::max; it is a zero either way.
                    assert_eq!(ours, 0.0, "max_num({a}, {b})");
                } else if ours.is_nan() || std.is_nan() {
                    assert!(ours.is_nan() && std.is_nan(), "max_num({a}, {b}) = {ours}");
                } else {
                    assert_eq!(ours.to_bits(), std.to_bits(), "max_num({a}, {b})");
                }
            }
        }
    }

    /// The weight gradients are computed as `rows^T . da` into `[k][co]`, where they were
    /// `da^T . rows` into `[co][k]`: the same numbers only while `gemm` blocks the sum
    /// alike in both orientations (it does in 0.19: the block depends on `k`). Checked
    /// bit for bit at each layer's shape, for groups of 1 and of 8 images, so an upgrade
    /// that changes it fails here rather than moving every result.
    #[test]
    fn both_orientations_of_a_weight_gradient_give_the_same_bits() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut random = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        for (positions, co, k) in [(900, 32, 27), (169, 64, 288), (16, 64, 576)] {
            for images in [1, 8] {
                let n = images * positions;
                let da: Vec<f32> = (0..n * co).map(|_| random()).collect();
                let rows: Vec<f32> = (0..n * k).map(|_| random()).collect();
                let start: Vec<f32> = (0..co * k).map(|_| random()).collect();
                let mut old = start.clone(); // [co][k]
                mm(co, k, n, &mut old, k, true, &da, (1, co), &rows, (k, 1));
                let mut new: Vec<f32> = (0..co * k).map(|i| start[(i % co) * k + i / co]).collect();
                mm(k, co, n, &mut new, co, true, &rows, (1, k), &da, (co, 1));
                for (i, v) in new.iter().enumerate() {
                    let was = old[(i % co) * k + i / co];
                    assert_eq!(
                        v.to_bits(),
                        was.to_bits(),
                        "k {k}, {images} images, element {i}"
                    );
                }
            }
        }
    }

    /// One 2x2 window of one channel, raw values `a` and bias 0: what pooling keeps and
    /// where the backward pass sends a pooled gradient of 1.
    fn window(a: [f32; 4]) -> (f32, u8, [f32; 4], f32) {
        let mut pooled = [0.0f32];
        let mut arg = [9u8];
        pool_bias_relu::<1, 2, true>(&a, &[0.0], &mut pooled, &mut arg);
        let (mut da, mut dbias) = ([7.0f32; 4], [0.0f32]);
        unpool::<1, 2>(&[1.0], &pooled, &arg, &mut da, &mut dbias);
        (pooled[0], arg[0], da, dbias[0])
    }

    #[test]
    fn the_pooled_gradient_goes_to_the_first_maximum_of_its_window() {
        assert_eq!(
            window([1.0, 3.0, 2.0, 0.5]),
            (3.0, 1, [0.0, 1.0, 0.0, 0.0], 1.0)
        );
        // A tie: the first in row order, as burn's pooling gradient.
        assert_eq!(
            window([2.0, 1.0, 2.0, 2.0]),
            (2.0, 0, [1.0, 0.0, 0.0, 0.0], 1.0)
        );
        // A NaN is passed over, as f32::max does.
        assert_eq!(
            window([f32::NAN, 1.0, 4.0, f32::NAN]),
            (4.0, 2, [0.0, 0.0, 1.0, 0.0], 1.0)
        );
    }

    #[test]
    fn relu_and_a_window_without_a_maximum_send_no_gradient() {
        // Negative: ReLU made the output 0, so nothing flows back, not even to the bias.
        assert_eq!(window([-1.0, -3.0, -2.0, -0.5]), (0.0, 3, [0.0; 4], 0.0));
        // All NaN: no maximum (ReLU's max with 0 gives 0, as f32::max would).
        assert_eq!(window([f32::NAN; 4]), (0.0, 4, [0.0; 4], 0.0));
    }

    #[test]
    fn an_odd_size_leaves_the_last_row_and_column_at_zero() {
        // 3x3, one channel: one window (the top-left 2x2); the rest belongs to none.
        let a = [1.0f32, 5.0, 9.0, 2.0, 3.0, 9.0, 9.0, 9.0, 9.0];
        let (mut pooled, mut arg) = ([0.0f32], [0u8]);
        pool_bias_relu::<1, 3, true>(&a, &[0.0], &mut pooled, &mut arg);
        let (mut da, mut dbias) = ([7.0f32; 9], [0.0f32]);
        unpool::<1, 3>(&[2.0], &pooled, &arg, &mut da, &mut dbias);
        assert_eq!((pooled[0], arg[0], dbias[0]), (5.0, 1, 2.0));
        assert_eq!(da, [0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    }
}
