//! Fused CPU kernels for the reference CNN: the whole training step (forward, backward,
//! optimizer) and evaluation, written for this one network.
//!
//! burn's generic CPU ops spend much of a step on layout copies, zero-filled temporaries
//! and per-op allocation. Here every layer is an `im2col` and one AVX-512/AVX2 matrix
//! product (the `gemm` crate burn itself uses), ReLU, bias and pooling are fused into the
//! passes around it, buffers live for the whole run, and the batch is split across threads
//! by images with per-thread gradient sums added in a fixed order (same thread count, same
//! numbers). The parameters are the burn model's (same layout, same initialisation, same
//! checkpoint format); `tests/fused.rs` checks losses and gradients against burn's autodiff.

use burn::module::{Module, Param};
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device, Tensor, TensorData};
use gemm::{Parallelism, gemm};
use rayon::prelude::*;

use crate::data::{Batch, IMAGE_BYTES, Split, make_batch};
use crate::measure::{BatchResult, Evaluation};
use crate::model::ReferenceCnn;
use cyclr_burn::optim::{FlatOptimizer, MomentumHandle, OptimizerConfig};

// Shapes: 3x32x32 -> conv 32x30x30 -> pool 32x15x15 -> conv 64x13x13 -> pool 64x6x6 ->
// conv 64x4x4 -> 1024 -> 64 -> 10.
const C0: usize = 3;
const S0: usize = 32;
const C1: usize = 32;
const S1: usize = 30;
const Q1: usize = 15;
const C2: usize = 64;
const S2: usize = 13;
const Q2: usize = 6;
const C3: usize = 64;
const S3: usize = 4;
const K1: usize = C0 * 9;
const K2: usize = C1 * 9;
const K3: usize = C2 * 9;
const N1: usize = S1 * S1;
const N2: usize = S2 * S2;
const N3: usize = S3 * S3;
const FLAT: usize = C3 * N3;
const HID: usize = 64;
const OUT: usize = 10;

/// Where each parameter sits in the flat parameter vector.
#[derive(Clone, Copy)]
struct Slot {
    at: usize,
    len: usize,
}

const fn slots() -> [Slot; 10] {
    let lens = [
        C1 * K1,
        C1,
        C2 * K2,
        C2,
        C3 * K3,
        C3,
        FLAT * HID,
        HID,
        HID * OUT,
        OUT,
    ];
    let mut out = [Slot { at: 0, len: 0 }; 10];
    let mut at = 0;
    let mut i = 0;
    while i < 10 {
        out[i] = Slot { at, len: lens[i] };
        at += lens[i];
        i += 1;
    }
    out
}
const SLOTS: [Slot; 10] = slots();
const W1: Slot = SLOTS[0];
const B1: Slot = SLOTS[1];
const W2: Slot = SLOTS[2];
const B2: Slot = SLOTS[3];
const W3: Slot = SLOTS[4];
const B3: Slot = SLOTS[5];
const F1: Slot = SLOTS[6];
const G1: Slot = SLOTS[7];
const F2: Slot = SLOTS[8];
const G2: Slot = SLOTS[9];
/// Parameters of the reference CNN.
pub const NUM_PARAMS: usize = G2.at + G2.len;
/// The convolution parameters, accumulated per thread.
const CONV_PARAMS: usize = F1.at;

/// `dst (m x n) = [dst +] a (m x k) * b (k x n)`, each given by pointer and (row, column)
/// strides, so transposes cost nothing. Public, but hidden, for the `gemm_probe` example,
/// which times the engine's products in each orientation.
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
    (a_rs, a_cs): (usize, usize),
    b: &[f32],
    (b_rs, b_cs): (usize, usize),
) {
    // Real checks, in release builds too: they guard the unsafe call below and cost nothing
    // next to the product itself.
    assert!(
        m > 0 && n > 0 && k > 0,
        "empty matrix product {m}x{k} * {k}x{n}"
    );
    assert!(
        dst.len() >= (m - 1) * ldd + n,
        "dst too small for {m}x{n} (ld {ldd})"
    );
    assert!(
        a.len() > (m - 1) * a_rs + (k - 1) * a_cs,
        "a too small for {m}x{k}"
    );
    assert!(
        b.len() > (k - 1) * b_rs + (n - 1) * b_cs,
        "b too small for {k}x{n}"
    );
    // SAFETY: the asserts above keep every element gemm touches inside the slices.
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
            Parallelism::None,
        );
    }
}

// Activations are channels-last (NHWC): a position's channels are contiguous, so the
// column matrix is built from runs of `3 * C` floats, pooling and bias work on whole
// channel vectors, and the products take their fastest orientation. The weights are
// permuted to match, `(kh, kw, c)` instead of burn's `(c, kh, kw)`, once per batch.

/// Rows of a 3x3 valid convolution's input patches: `rows[(oh*so + ow) x ((kh*3 + kw)*C + c)]
/// = x[oh + kh][ow + kw][c]` for channels-last `x [S x S x C]`.
fn im2row<const C: usize, const S: usize>(x: &[f32], rows: &mut [f32]) {
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
fn row2im<const C: usize, const S: usize>(drows: &[f32], dx: &mut [f32]) {
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

/// 2x2 max pooling (stride 2, floor) of a raw convolution output `[O x O x C]`, then bias
/// and ReLU on the four-times smaller result: `relu(max(a) + b) = max(relu(a + b))`, so no
/// full-size pass is needed. Output `[q x q x C]`.
fn pool_bias_relu<const C: usize, const O: usize>(a: &[f32], bias: &[f32], out: &mut [f32]) {
    let q = O / 2;
    for i in 0..q {
        for j in 0..q {
            let at = |di: usize, dj: usize| &a[((2 * i + di) * O + 2 * j + dj) * C..][..C];
            let (x0, x1, x2, x3) = (at(0, 0), at(0, 1), at(1, 0), at(1, 1));
            let dst = &mut out[(i * q + j) * C..][..C];
            for c in 0..C {
                dst[c] = (x0[c].max(x1[c]).max(x2[c].max(x3[c])) + bias[c]).max(0.0);
            }
        }
    }
}

/// The backward of [`pool_bias_relu`]: each pooled gradient goes to its window's first
/// maximum (burn's order: row by row) when the output was positive (ReLU's mask); the bias
/// gradient is their sum per channel. Everything else in `da` is zero.
fn unpool<const C: usize, const O: usize>(
    dp: &[f32],
    pooled: &[f32],
    a: &[f32],
    da: &mut [f32],
    dbias: &mut [f32],
) {
    let q = O / 2;
    da[..O * O * C].fill(0.0);
    for i in 0..q {
        for j in 0..q {
            let pos = [
                (2 * i) * O + 2 * j,
                (2 * i) * O + 2 * j + 1,
                (2 * i + 1) * O + 2 * j,
                (2 * i + 1) * O + 2 * j + 1,
            ];
            let k = (i * q + j) * C;
            for c in 0..C {
                if pooled[k + c] <= 0.0 {
                    continue;
                }
                let m = pos
                    .iter()
                    .fold(f32::NEG_INFINITY, |m, &w| m.max(a[w * C + c]));
                if let Some(&w) = pos.iter().find(|&&w| a[w * C + c] == m) {
                    da[w * C + c] = dp[k + c];
                    dbias[c] += dp[k + c];
                }
            }
        }
    }
}

/// burn's conv weight `[co][c][kh][kw]` as `[co][kh][kw][c]`.
fn permute_in<const CO: usize, const CI: usize>(w: &[f32], out: &mut [f32]) {
    for co in 0..CO {
        for c in 0..CI {
            for t in 0..9 {
                out[co * 9 * CI + t * CI + c] = w[co * 9 * CI + c * 9 + t];
            }
        }
    }
}

/// The inverse of [`permute_in`], adding into `out`.
fn permute_out_add<const CO: usize, const CI: usize>(wp: &[f32], out: &mut [f32]) {
    for co in 0..CO {
        for c in 0..CI {
            for t in 0..9 {
                out[co * 9 * CI + c * 9 + t] += wp[co * 9 * CI + t * CI + c];
            }
        }
    }
}

/// Images per group: each layer of a group is one matrix product, small enough to stay in
/// the core's cache (a conv2 patch matrix of 8 images is 1.5 MB).
const GROUP: usize = 8;

/// Parameters per slice when the optimizer update and the sum of the threads' gradients
/// are spread over the threads: large enough that a slice outweighs handing it out.
const UPDATE_CHUNK: usize = 8192;

/// What the forward pass keeps of a group of images for the backward pass. Each buffer
/// holds the group's images one after another (image `i` at `i * size`).
#[derive(Clone)]
struct GroupState {
    /// The group's first image in the batch, and how many it holds.
    first: usize,
    len: usize,
    x: Vec<f32>,
    rows1: Vec<f32>,
    a1: Vec<f32>,
    p1: Vec<f32>,
    rows2: Vec<f32>,
    a2: Vec<f32>,
    p2: Vec<f32>,
    rows3: Vec<f32>,
    a3: Vec<f32>,
}

impl GroupState {
    fn new() -> Self {
        let g = GROUP;
        Self {
            first: 0,
            len: 0,
            x: vec![0.0; g * S0 * S0 * C0],
            rows1: vec![0.0; g * N1 * K1],
            a1: vec![0.0; g * N1 * C1],
            p1: vec![0.0; g * Q1 * Q1 * C1],
            rows2: vec![0.0; g * N2 * K2],
            a2: vec![0.0; g * N2 * C2],
            p2: vec![0.0; g * Q2 * Q2 * C2],
            rows3: vec![0.0; g * N3 * K3],
            a3: vec![0.0; g * N3 * C3],
        }
    }
}

/// Per-thread scratch of the backward pass, with that thread's convolution gradients (in
/// the permuted layout).
#[derive(Clone)]
struct Scratch {
    da3: Vec<f32>,
    drows3: Vec<f32>,
    dp2: Vec<f32>,
    da2: Vec<f32>,
    drows2: Vec<f32>,
    dp1: Vec<f32>,
    da1: Vec<f32>,
    grads: Vec<f32>,
}

impl Scratch {
    fn new() -> Self {
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
fn conv_forward(wp: &[f32], images: &[f32], st: &mut GroupState, out: &mut [f32]) {
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
    mm(
        n * N1,
        C1,
        K1,
        &mut st.a1,
        C1,
        false,
        &st.rows1,
        (K1, 1),
        &wp[W1.at..],
        (1, K1),
    );
    for i in 0..n {
        let p1 = &mut st.p1[i * Q1 * Q1 * C1..][..Q1 * Q1 * C1];
        pool_bias_relu::<C1, S1>(&st.a1[i * N1 * C1..], &wp[B1.at..B1.at + C1], p1);
        im2row::<C1, Q1>(p1, &mut st.rows2[i * N2 * K2..]);
    }
    mm(
        n * N2,
        C2,
        K2,
        &mut st.a2,
        C2,
        false,
        &st.rows2,
        (K2, 1),
        &wp[W2.at..],
        (1, K2),
    );
    for i in 0..n {
        let p2 = &mut st.p2[i * Q2 * Q2 * C2..][..Q2 * Q2 * C2];
        pool_bias_relu::<C2, S2>(&st.a2[i * N2 * C2..], &wp[B2.at..B2.at + C2], p2);
        im2row::<C2, Q2>(p2, &mut st.rows3[i * N3 * K3..]);
    }
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
/// flattened features, already masked by ReLU), adding into `sc.grads` (permuted layout).
fn conv_backward(wp: &[f32], st: &GroupState, da3: &[f32], sc: &mut Scratch) {
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
    mm(
        C3,
        K3,
        n * N3,
        &mut g[W3.at..],
        K3,
        true,
        &sc.da3,
        (1, C3),
        &st.rows3,
        (K3, 1),
    );
    mm(
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
        let (p2, a2) = (&st.p2[i * Q2 * Q2 * C2..], &st.a2[i * N2 * C2..]);
        unpool::<C2, S2>(
            &sc.dp2,
            p2,
            a2,
            &mut sc.da2[i * N2 * C2..],
            &mut g[B2.at..B2.at + C2],
        );
    }
    mm(
        C2,
        K2,
        n * N2,
        &mut g[W2.at..],
        K2,
        true,
        &sc.da2,
        (1, C2),
        &st.rows2,
        (K2, 1),
    );
    mm(
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
        let (p1, a1) = (&st.p1[i * Q1 * Q1 * C1..], &st.a1[i * N1 * C1..]);
        unpool::<C1, S1>(
            &sc.dp1,
            p1,
            a1,
            &mut sc.da1[i * N1 * C1..],
            &mut g[B1.at..B1.at + C1],
        );
    }
    mm(
        C1,
        K1,
        n * N1,
        &mut g[W1.at..],
        K1,
        true,
        &sc.da1,
        (1, C1),
        &st.rows1,
        (K1, 1),
    );
}

/// Mean cross-entropy of `logits [b x 10]`, correct predictions, and (when asked) the
/// gradient of the mean loss with respect to the logits.
fn softmax_xent(logits: &[f32], labels: &[i64], mut dlogits: Option<&mut [f32]>) -> (f64, usize) {
    let b = labels.len();
    let (mut loss, mut correct) = (0.0f64, 0usize);
    for (i, row) in logits.chunks_exact(OUT).enumerate() {
        let y = labels[i] as usize;
        let (mut best, mut max) = (0usize, f32::NEG_INFINITY);
        for (k, &v) in row.iter().enumerate() {
            if v > max {
                max = v;
                best = k;
            }
        }
        correct += usize::from(best == y);
        let sum: f32 = row.iter().map(|&v| (v - max).exp()).sum();
        let lse = max + sum.ln();
        loss += (lse - row[y]) as f64;
        if let Some(d) = dlogits.as_deref_mut() {
            for (k, &v) in row.iter().enumerate() {
                let prob = (v - lse).exp();
                d[i * OUT + k] = (prob - f32::from(k == y)) / b as f32;
            }
        }
    }
    (loss / b as f64, correct)
}

/// The reference CNN and its optimizer, on fused CPU kernels.
pub struct FusedCnn {
    params: Vec<f32>,
    /// The optimizer over `params`: cyclr-burn's rules, the same as its burn optimizers.
    optim: FlatOptimizer,
    /// Momentum (Adam: beta1) of the optimizer, settable every step.
    pub momentum: MomentumHandle,
    groups: Vec<GroupState>,
    scratch: Vec<Scratch>,
}

fn to_vec(t: Tensor<1>) -> Vec<f32> {
    t.into_data().try_into_vec_as::<f32>().unwrap_or_default()
}

impl FusedCnn {
    /// Takes the weights of a burn model (so initialisation and records are burn's).
    pub fn from_model(model: &ReferenceCnn, optimizer: &OptimizerConfig) -> Self {
        let flat = to_vec;
        let mut params = Vec::with_capacity(NUM_PARAMS);
        for conv in [&model.conv1, &model.conv2, &model.conv3] {
            params.extend(flat(conv.weight.val().flatten::<1>(0, 3)));
            params.extend(flat(conv.bias.as_ref().expect("conv bias").val()));
        }
        for fc in [&model.fc1, &model.fc2] {
            params.extend(flat(fc.weight.val().flatten::<1>(0, 1)));
            params.extend(flat(fc.bias.as_ref().expect("linear bias").val()));
        }
        assert_eq!(
            params.len(),
            NUM_PARAMS,
            "the reference CNN's parameter count"
        );
        Self {
            params,
            optim: FlatOptimizer::new(optimizer, NUM_PARAMS),
            momentum: MomentumHandle::new(optimizer.momentum()),
            groups: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// The weights as a burn model on `device`.
    pub fn to_model(&self, device: &Device) -> ReferenceCnn {
        let data = |s: Slot| self.params[s.at..s.at + s.len].to_vec();
        let conv = |w: Slot, co: usize, ci: usize| {
            Param::from_tensor(Tensor::<4>::from_data(
                TensorData::new(data(w), [co, ci, 3, 3]),
                device,
            ))
        };
        let dense = |w: Slot, i: usize, o: usize| {
            Param::from_tensor(Tensor::<2>::from_data(
                TensorData::new(data(w), [i, o]),
                device,
            ))
        };
        let bias = |b: Slot| {
            Some(Param::from_tensor(Tensor::<1>::from_data(
                TensorData::new(data(b), [b.len]),
                device,
            )))
        };
        let mut m = ReferenceCnn::new(device);
        m.conv1.weight = conv(W1, C1, C0);
        m.conv1.bias = bias(B1);
        m.conv2.weight = conv(W2, C2, C1);
        m.conv2.bias = bias(B2);
        m.conv3.weight = conv(W3, C3, C2);
        m.conv3.bias = bias(B3);
        m.fc1.weight = dense(F1, FLAT, HID);
        m.fc1.bias = bias(G1);
        m.fc2.weight = dense(F2, HID, OUT);
        m.fc2.bias = bias(G2);
        m
    }

    /// The parameters, flat, in burn's order (conv1 weight, bias, ..., fc2 bias).
    pub fn params(&self) -> &[f32] {
        &self.params
    }

    /// Adds `delta` to one parameter (for finite-difference checks).
    pub fn perturb(&mut self, index: usize, delta: f32) {
        self.params[index] += delta;
    }

    /// Splits the batch across threads (`chunk` images each), and each thread's share into
    /// groups of up to [`GROUP`] images: `(first image, count)` per group, `per_thread`
    /// groups per thread. The split depends only on the batch size and the thread count,
    /// so results do too.
    fn plan(batch: usize, threads: usize) -> (Vec<(usize, usize)>, usize) {
        let chunk = batch.div_ceil(threads);
        let per_thread = chunk.div_ceil(GROUP).max(1);
        let mut groups = Vec::with_capacity(threads * per_thread);
        for t in 0..threads {
            let (start, end) = ((t * chunk).min(batch), ((t + 1) * chunk).min(batch));
            for k in 0..per_thread {
                let first = (start + k * GROUP).min(end);
                groups.push((first, (end - first).min(GROUP)));
            }
        }
        (groups, per_thread)
    }

    /// Buffers for `states` groups and `threads` scratch spaces.
    fn ensure(&mut self, states: usize, threads: usize) {
        if self.groups.len() < states {
            self.groups.resize_with(states, GroupState::new);
        }
        if self.scratch.len() < threads {
            self.scratch.resize_with(threads, Scratch::new);
        }
    }

    /// Loss, correct count and (when `grads` is given) the mean gradient of a batch.
    fn forward_backward(
        &mut self,
        images: &[f32],
        labels: &[i64],
        grads: Option<&mut Vec<f32>>,
    ) -> (f64, usize) {
        let b = labels.len();
        let threads = rayon::current_num_threads().max(1);
        let (plan, per_thread) = Self::plan(b, threads);
        // Training keeps every group's activations for the backward pass; evaluation reuses
        // one set per thread, so a large evaluation batch costs no extra memory.
        let train = grads.is_some();
        let kept = if train { per_thread } else { 1 };
        self.ensure(threads * kept, threads);
        let p = &self.params;
        // The convolution weights in the channels-last order (biases copied as they are).
        let mut wp = p[..CONV_PARAMS].to_vec();
        permute_in::<C1, C0>(&p[W1.at..W1.at + W1.len], &mut wp[W1.at..W1.at + W1.len]);
        permute_in::<C2, C1>(&p[W2.at..W2.at + W2.len], &mut wp[W2.at..W2.at + W2.len]);
        permute_in::<C3, C2>(&p[W3.at..W3.at + W3.len], &mut wp[W3.at..W3.at + W3.len]);
        let wp = &wp;
        let mut a3 = vec![0.0f32; b * FLAT];

        // Convolutions, by groups of images, the threads' shares in parallel. Each thread
        // writes the features of its own (consecutive) images.
        let mut outs = Vec::with_capacity(threads);
        let mut rest: &mut [f32] = &mut a3;
        for share in plan.chunks(per_thread) {
            let n: usize = share.iter().map(|g| g.1).sum();
            let (head, tail) = rest.split_at_mut(n * FLAT);
            outs.push(head);
            rest = tail;
        }
        self.groups[..threads * kept]
            .par_chunks_mut(kept)
            .zip(plan.par_chunks(per_thread))
            .zip(outs)
            .for_each(|((states, share), out)| {
                let mut at = 0;
                for (k, &(first, len)) in share.iter().enumerate() {
                    let st = &mut states[k % kept];
                    // Empty groups are marked too, so the backward pass skips them.
                    (st.first, st.len) = (first, len);
                    if len > 0 {
                        conv_forward(wp, images, st, &mut out[at * FLAT..]);
                        at += len;
                    }
                }
            });

        // The dense layers on the whole batch.
        let mut h = vec![0.0f32; b * HID];
        mm(
            b,
            HID,
            FLAT,
            &mut h,
            HID,
            false,
            &a3,
            (FLAT, 1),
            &p[F1.at..],
            (HID, 1),
        );
        bias_relu_rows(&mut h, &p[G1.at..G1.at + HID]);
        let mut logits = vec![0.0f32; b * OUT];
        mm(
            b,
            OUT,
            HID,
            &mut logits,
            OUT,
            false,
            &h,
            (HID, 1),
            &p[F2.at..],
            (OUT, 1),
        );
        for row in logits.chunks_exact_mut(OUT) {
            for (v, bias) in row.iter_mut().zip(&p[G2.at..G2.at + OUT]) {
                *v += bias;
            }
        }
        let Some(g) = grads else {
            return softmax_xent(&logits, labels, None);
        };
        let mut dlogits = vec![0.0f32; b * OUT];
        let (loss, correct) = softmax_xent(&logits, labels, Some(&mut dlogits));
        if !loss.is_finite() {
            return (loss, correct);
        }
        g.clear();
        g.resize(NUM_PARAMS, 0.0);
        mm(
            HID,
            OUT,
            b,
            &mut g[F2.at..],
            OUT,
            false,
            &h,
            (1, HID),
            &dlogits,
            (OUT, 1),
        );
        col_sums(&dlogits, OUT, &mut g[G2.at..G2.at + OUT]);
        let mut dh = vec![0.0f32; b * HID];
        mm(
            b,
            HID,
            OUT,
            &mut dh,
            HID,
            false,
            &dlogits,
            (OUT, 1),
            &p[F2.at..],
            (1, OUT),
        );
        for (d, &v) in dh.iter_mut().zip(&h) {
            if v <= 0.0 {
                *d = 0.0;
            }
        }
        mm(
            FLAT,
            HID,
            b,
            &mut g[F1.at..],
            HID,
            false,
            &a3,
            (1, FLAT),
            &dh,
            (HID, 1),
        );
        col_sums(&dh, HID, &mut g[G1.at..G1.at + HID]);
        let mut da3 = vec![0.0f32; b * FLAT];
        mm(
            b,
            FLAT,
            HID,
            &mut da3,
            FLAT,
            false,
            &dh,
            (HID, 1),
            &p[F1.at..],
            (1, HID),
        );
        for (d, &v) in da3.iter_mut().zip(&a3) {
            if v <= 0.0 {
                *d = 0.0;
            }
        }

        // Convolutions backward, by images, each thread summing its own gradients.
        for sc in &mut self.scratch[..threads] {
            sc.grads.fill(0.0);
        }
        self.groups[..threads * per_thread]
            .par_chunks(per_thread)
            .zip(self.scratch.par_iter_mut())
            .for_each(|(share, sc)| {
                for st in share.iter().filter(|g| g.len > 0) {
                    conv_backward(wp, st, &da3[st.first * FLAT..][..st.len * FLAT], sc);
                }
            });
        // A fixed order of summation (thread 0, 1, ...) for every element: the same numbers
        // for the same thread count. Spread over the threads by slices of parameters, as on
        // many cores a serial sum of every thread's gradients would take a share of the step.
        let mut conv = vec![0.0f32; CONV_PARAMS];
        let scratch = &self.scratch[..threads];
        conv.par_chunks_mut(UPDATE_CHUNK)
            .enumerate()
            .for_each(|(i, dst)| {
                for sc in scratch {
                    let src = &sc.grads[i * UPDATE_CHUNK..][..dst.len()];
                    for (d, s) in dst.iter_mut().zip(src) {
                        *d += s;
                    }
                }
            });
        permute_out_add::<C1, C0>(&conv[W1.at..W1.at + W1.len], &mut g[W1.at..W1.at + W1.len]);
        permute_out_add::<C2, C1>(&conv[W2.at..W2.at + W2.len], &mut g[W2.at..W2.at + W2.len]);
        permute_out_add::<C3, C2>(&conv[W3.at..W3.at + W3.len], &mut g[W3.at..W3.at + W3.len]);
        for bias in [B1, B2, B3] {
            g[bias.at..bias.at + bias.len].copy_from_slice(&conv[bias.at..bias.at + bias.len]);
        }
        (loss, correct)
    }

    /// One training step at `lr` (and the momentum the handle holds); a non-finite loss
    /// leaves the parameters untouched.
    pub fn train_batch(&mut self, batch: &Batch, lr: f64) -> BatchResult {
        let mut grads = Vec::new();
        let (loss, correct) = self.forward_backward(&batch.images, &batch.labels, Some(&mut grads));
        if loss.is_finite() {
            self.optim
                .step(&mut self.params, &grads, lr, self.momentum.get());
        }
        BatchResult {
            loss,
            correct,
            size: batch.len(),
        }
    }

    /// Mean loss and accuracy over a split, in batches of `batch_size`.
    pub fn evaluate(&mut self, split: &Split, batch_size: usize) -> Evaluation {
        let indices: Vec<u32> = (0..split.len() as u32).collect();
        let (mut loss, mut correct) = (0.0f64, 0usize);
        for chunk in indices.chunks(batch_size.max(1)) {
            let batch = make_batch(split, chunk);
            let (l, c) = self.forward_backward(&batch.images, &batch.labels, None);
            loss += l * batch.len() as f64;
            correct += c;
        }
        let n = split.len().max(1) as f64;
        Evaluation {
            loss: loss / n,
            accuracy: correct as f64 / n,
        }
    }

    /// Loss and gradient of one batch, without updating (for tests).
    pub fn gradients(&mut self, batch: &Batch) -> (f64, Vec<f32>) {
        let mut g = Vec::new();
        let (loss, _) = self.forward_backward(&batch.images, &batch.labels, Some(&mut g));
        (loss, g)
    }

    /// The model as a burn record, and the optimizer's state.
    pub fn save(&self) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
        let model = self
            .to_model(&Device::flex())
            .into_record()
            .into_bytes()?
            .to_vec();
        Ok((model, self.optim.to_bytes()))
    }

    /// Restores what [`save`](Self::save) wrote.
    pub fn load(&mut self, model: Vec<u8>, optim: Vec<u8>) -> anyhow::Result<()> {
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(model))?;
        let burn_model = ReferenceCnn::new(&Device::flex()).try_load_record(record)?;
        let restored = FusedCnn::from_model(&burn_model, self.optim.config());
        let mut optimizer = restored.optim;
        optimizer.load_bytes(&optim).map_err(|e| {
            anyhow::anyhow!(
                "the optimizer state was not written by the fused engine, or is damaged: {e}"
            )
        })?;
        self.params = restored.params;
        self.optim = optimizer;
        Ok(())
    }
}

fn bias_relu_rows(h: &mut [f32], bias: &[f32]) {
    for row in h.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v = (*v + b).max(0.0);
        }
    }
}

fn col_sums(m: &[f32], cols: usize, out: &mut [f32]) {
    out.fill(0.0);
    for row in m.chunks_exact(cols) {
        for (o, v) in out.iter_mut().zip(row) {
            *o += v;
        }
    }
}
