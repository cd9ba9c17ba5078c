//! The convolutional part, forward and backward, a group of images at a time, with the
//! buffers each group and each thread keeps.

use super::Precision;
use super::bf16::mm_bf16;
use super::kernels::*;
use super::layout::*;
use crate::data::IMAGE_BYTES;

/// Images per group: each layer of a group is one matrix product, small enough to stay in
/// the core's cache (a conv2 patch matrix of 8 images is 1.5 MB).
pub(super) const GROUP: usize = 8;

/// Parameters per slice when the optimizer update and the sum of the threads' gradients
/// are spread over the threads: large enough that a slice outweighs handing it out.
pub(super) const UPDATE_CHUNK: usize = 8192;

/// One of the convolutions' products, in bf16 when `bf16` is set (see [`Precision`] for
/// which products are), else in f32 with [`mm`].
#[allow(clippy::too_many_arguments)]
#[inline]
fn conv_mm(
    bf16: bool,
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
    if bf16 {
        mm_bf16(m, n, k, dst, ldd, acc, a, a_strides, b, b_strides);
    } else {
        mm(m, n, k, dst, ldd, acc, a, a_strides, b, b_strides);
    }
}

/// What the forward pass keeps of a group of images for the backward pass. Each buffer
/// holds the group's images one after another (image `i` at `i * size`).
#[derive(Clone)]
pub(super) struct GroupState {
    /// The group's first image in the batch, and how many it holds.
    pub(super) first: usize,
    pub(super) len: usize,
    pub(super) x: Vec<f32>,
    pub(super) rows1: Vec<f32>,
    /// Which of its window's four positions each pooled value came from (see
    /// [`pool_bias_relu`]): all the backward pass needs of the convolution's raw output,
    /// a byte per pooled value instead of four floats.
    pub(super) arg1: Vec<u8>,
    pub(super) p1: Vec<f32>,
    pub(super) rows2: Vec<f32>,
    pub(super) arg2: Vec<u8>,
    pub(super) p2: Vec<f32>,
    pub(super) rows3: Vec<f32>,
    pub(super) a3: Vec<f32>,
}

impl GroupState {
    pub(super) fn new() -> Self {
        let g = GROUP;
        Self {
            first: 0,
            len: 0,
            x: vec![0.0; g * S0 * S0 * C0],
            rows1: vec![0.0; g * N1 * K1],
            arg1: vec![0; g * Q1 * Q1 * C1],
            p1: vec![0.0; g * Q1 * Q1 * C1],
            rows2: vec![0.0; g * N2 * K2],
            arg2: vec![0; g * Q2 * Q2 * C2],
            p2: vec![0.0; g * Q2 * Q2 * C2],
            rows3: vec![0.0; g * N3 * K3],
            a3: vec![0.0; g * N3 * C3],
        }
    }
}

/// Per-thread scratch of the backward pass, with that thread's convolution gradients (in
/// the transposed layout of `permute_out_add`: `[kh][kw][c][co]`). Before the backward
/// pass, `da1` and `da2` also hold the forward pass's raw conv1 and conv2 outputs until
/// they are pooled (see [`conv_forward`]).
#[derive(Clone)]
pub(super) struct Scratch {
    pub(super) da3: Vec<f32>,
    pub(super) drows3: Vec<f32>,
    pub(super) dp2: Vec<f32>,
    pub(super) da2: Vec<f32>,
    pub(super) drows2: Vec<f32>,
    pub(super) dp1: Vec<f32>,
    pub(super) da1: Vec<f32>,
    pub(super) grads: Vec<f32>,
}

impl Scratch {
    pub(super) fn new() -> Self {
        let g = GROUP;
        Self {
            da3: vec![0.0; g * N3 * C3],
            drows3: vec![0.0; g * N3 * K3],
            dp2: vec![0.0; Q2 * Q2 * C2],
            da2: vec![0.0; g * N2 * C2],
            drows2: vec![0.0; g * N2 * K2],
            dp1: vec![0.0; Q1 * Q1 * C1],
            da1: vec![0.0; g * N1 * C1],
            grads: vec![0.0; CONV_PARAMS],
        }
    }
}

/// Forward through the convolutions for a group (`images`: the batch, CHW; `wp`: the
/// permuted parameters); `out` receives the group's flattened features in burn's CHW order.
/// The raw outputs of conv1 and conv2 live only until they are pooled, in the thread's
/// backward scratch (`sc.da1`, `sc.da2`, free until the backward pass), so they stay in
/// cache and no group keeps them.
///
/// Compiled for AVX-512 and AVX2 too and chosen at run time (the build targets baseline
/// x86-64): the per-image loops inlined here (im2row, pooling; their adjoints in
/// [`conv_backward`], compiled alike) then run on whole vectors. The matrix products
/// dispatch on their own.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512cd+avx512dq+avx512vl+avx2+avx+fma+bmi1+bmi2+lzcnt+popcnt+sse4.2",
    "x86_64+avx2+avx+fma+sse4.2"
))]
pub(super) fn conv_forward(
    wp: &[f32],
    images: &[f32],
    st: &mut GroupState,
    sc: &mut Scratch,
    out: &mut [f32],
    train: bool,
    precision: Precision,
) {
    let bf16 = precision == Precision::Bf16;
    let n = st.len;
    for i in 0..n {
        let x = &images[(st.first + i) * IMAGE_BYTES..][..IMAGE_BYTES];
        let xi = &mut st.x[i * S0 * S0 * C0..][..S0 * S0 * C0];
        for c in 0..C0 {
            for (k, &v) in x[c * S0 * S0..][..S0 * S0].iter().enumerate() {
                xi[k * C0 + c] = v;
            }
        }
        im2row::<C0, S0>(xi, &mut st.rows1[i * N1 * K1..]);
    }
    conv_mm(
        bf16,
        n * N1,
        C1,
        K1,
        &mut sc.da1,
        C1,
        false,
        &st.rows1,
        (K1, 1),
        &wp[W1.at..],
        (1, K1),
    );
    for i in 0..n {
        let p1 = &mut st.p1[i * Q1 * Q1 * C1..][..Q1 * Q1 * C1];
        let arg = &mut st.arg1[i * Q1 * Q1 * C1..][..Q1 * Q1 * C1];
        // Where each pooled value came from is only needed for a backward pass. (Calls,
        // not a function pointer: they must inline to take this function's features.)
        let (a1, b1) = (&sc.da1[i * N1 * C1..], &wp[B1.at..B1.at + C1]);
        if train {
            pool_bias_relu::<C1, S1, true>(a1, b1, p1, arg);
        } else {
            pool_bias_relu::<C1, S1, false>(a1, b1, p1, arg);
        }
        im2row::<C1, Q1>(p1, &mut st.rows2[i * N2 * K2..]);
    }
    conv_mm(
        bf16,
        n * N2,
        C2,
        K2,
        &mut sc.da2,
        C2,
        false,
        &st.rows2,
        (K2, 1),
        &wp[W2.at..],
        (1, K2),
    );
    for i in 0..n {
        let p2 = &mut st.p2[i * Q2 * Q2 * C2..][..Q2 * Q2 * C2];
        let arg = &mut st.arg2[i * Q2 * Q2 * C2..][..Q2 * Q2 * C2];
        let (a2, b2) = (&sc.da2[i * N2 * C2..], &wp[B2.at..B2.at + C2]);
        if train {
            pool_bias_relu::<C2, S2, true>(a2, b2, p2, arg);
        } else {
            pool_bias_relu::<C2, S2, false>(a2, b2, p2, arg);
        }
        im2row::<C2, Q2>(p2, &mut st.rows3[i * N3 * K3..]);
    }
    // f32 even in bf16: at conv3's forward shape the bf16 product measured slower.
    mm(
        n * N3,
        C3,
        K3,
        &mut st.a3,
        C3,
        false,
        &st.rows3,
        (K3, 1),
        &wp[W3.at..],
        (1, K3),
    );
    for i in 0..n {
        let (a3, o) = (
            &st.a3[i * N3 * C3..][..N3 * C3],
            &mut out[i * FLAT..][..FLAT],
        );
        for pos in 0..N3 {
            for c in 0..C3 {
                o[c * N3 + pos] = (a3[pos * C3 + c] + wp[B3.at + c]).max(0.0);
            }
        }
    }
}

/// Backward through the convolutions for a group (`da3`: the gradient of the group's
/// flattened features, already masked by ReLU), adding into `sc.grads` (laid out
/// `[kh][kw][c][co]`: see `permute_out_add`).
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512cd+avx512dq+avx512vl+avx2+avx+fma+bmi1+bmi2+lzcnt+popcnt+sse4.2",
    "x86_64+avx2+avx+fma+sse4.2"
))]
pub(super) fn conv_backward(
    wp: &[f32],
    st: &GroupState,
    da3: &[f32],
    sc: &mut Scratch,
    precision: Precision,
) {
    let bf16 = precision == Precision::Bf16;
    let n = st.len;
    let g = &mut sc.grads;
    for i in 0..n {
        let (src, dst) = (
            &da3[i * FLAT..][..FLAT],
            &mut sc.da3[i * N3 * C3..][..N3 * C3],
        );
        for pos in 0..N3 {
            for c in 0..C3 {
                let v = src[c * N3 + pos];
                dst[pos * C3 + c] = v;
                g[B3.at + c] += v;
            }
        }
    }
    conv_mm(
        bf16,
        K3,
        C3,
        n * N3,
        &mut g[W3.at..],
        C3,
        true,
        &st.rows3,
        (1, K3),
        &sc.da3,
        (C3, 1),
    );
    conv_mm(
        bf16,
        n * N3,
        K3,
        C3,
        &mut sc.drows3,
        K3,
        false,
        &sc.da3,
        (C3, 1),
        &wp[W3.at..],
        (K3, 1),
    );
    for i in 0..n {
        row2im::<C2, Q2>(&sc.drows3[i * N3 * K3..], &mut sc.dp2);
        let (p2, arg) = (&st.p2[i * Q2 * Q2 * C2..], &st.arg2[i * Q2 * Q2 * C2..]);
        unpool::<C2, S2>(
            &sc.dp2,
            p2,
            arg,
            &mut sc.da2[i * N2 * C2..],
            &mut g[B2.at..B2.at + C2],
        );
    }
    conv_mm(
        bf16,
        K2,
        C2,
        n * N2,
        &mut g[W2.at..],
        C2,
        true,
        &st.rows2,
        (1, K2),
        &sc.da2,
        (C2, 1),
    );
    conv_mm(
        bf16,
        n * N2,
        K2,
        C2,
        &mut sc.drows2,
        K2,
        false,
        &sc.da2,
        (C2, 1),
        &wp[W2.at..],
        (K2, 1),
    );
    for i in 0..n {
        row2im::<C1, Q1>(&sc.drows2[i * N2 * K2..], &mut sc.dp1);
        let (p1, arg) = (&st.p1[i * Q1 * Q1 * C1..], &st.arg1[i * Q1 * Q1 * C1..]);
        unpool::<C1, S1>(
            &sc.dp1,
            p1,
            arg,
            &mut sc.da1[i * N1 * C1..],
            &mut g[B1.at..B1.at + C1],
        );
    }
    // f32 even in bf16: at this shape (27 x 32, summed over 8 x 1024) bf16 measured slower.
    mm(
        K1,
        C1,
        n * N1,
        &mut g[W1.at..],
        C1,
        true,
        &st.rows1,
        (1, K1),
        &sc.da1,
        (C1, 1),
    );
}
