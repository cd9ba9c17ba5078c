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
use crate::engine::{BatchResult, Evaluation};
use crate::model::ReferenceCnn;
use crate::optim::{MomentumHandle, OptimizerConfig};

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
const N3: usize = S3 * S3;
const FLAT: usize = C3 * N3;
// Convolution outputs are computed on a "wide" grid: every output row as long as an input
// row (the last two columns are discarded). Then each im2col row is one contiguous copy
// instead of a short copy per output row, which dominated the forward pass.
const M1: usize = S1 * S0;
const M2: usize = S2 * Q1;
const M3: usize = S3 * Q2;
const HID: usize = 64;
const OUT: usize = 10;

/// Where each parameter sits in the flat parameter vector.
#[derive(Clone, Copy)]
struct Slot {
    at: usize,
    len: usize,
}

const fn slots() -> [Slot; 10] {
    let lens = [C1 * K1, C1, C2 * K2, C2, C3 * K3, C3, FLAT * HID, HID, HID * OUT, OUT];
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
/// strides, so transposes cost nothing.
#[allow(clippy::too_many_arguments)]
#[inline]
fn mm(
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
    debug_assert!(dst.len() >= (m - 1) * ldd + n);
    debug_assert!(a.len() > (m - 1) * a_rs + (k - 1) * a_cs);
    debug_assert!(b.len() > (k - 1) * b_rs + (n - 1) * b_cs);
    // SAFETY: the extents above are within the slices (checked in debug builds; every call
    // site passes buffers sized by the constants of this network).
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

/// 3x3 valid convolution's columns on the wide grid:
/// `cols[(c*9 + kh*3 + kw) x (oh*S + ow)] = x[c][oh + kh][ow + kw]`, one copy per row.
/// Positions past the input's end (only in the discarded columns) are zero.
fn im2col<const C: usize, const S: usize>(x: &[f32], cols: &mut [f32]) {
    let n = (S - 2) * S;
    let len = C * S * S;
    for ci in 0..C {
        for kh in 0..3 {
            for kw in 0..3 {
                let row = &mut cols[(ci * 9 + kh * 3 + kw) * n..][..n];
                let start = ci * S * S + kh * S + kw;
                let take = n.min(len - start);
                row[..take].copy_from_slice(&x[start..start + take]);
                row[take..].fill(0.0);
            }
        }
    }
}

/// The transpose of [`im2col`]: adds the columns' gradients back onto the input (the
/// discarded columns carry zeros).
fn col2im<const C: usize, const S: usize>(dcols: &[f32], dx: &mut [f32]) {
    let n = (S - 2) * S;
    let len = C * S * S;
    dx[..len].fill(0.0);
    for ci in 0..C {
        for kh in 0..3 {
            for kw in 0..3 {
                let row = &dcols[(ci * 9 + kh * 3 + kw) * n..][..n];
                let start = ci * S * S + kh * S + kw;
                let take = n.min(len - start);
                for (d, v) in dx[start..start + take].iter_mut().zip(&row[..take]) {
                    *d += v;
                }
            }
        }
    }
}

/// 2x2 max pooling (stride 2, floor) of a raw convolution output on the wide grid
/// (`O x O` valid values, rows `R` apart), then bias and ReLU on the four-times smaller
/// result: `relu(max(a) + b) = max(relu(a + b))`, so no full-size pass is needed.
fn pool_bias_relu<const C: usize, const O: usize, const R: usize>(a: &[f32], bias: &[f32], out: &mut [f32]) {
    let q = O / 2;
    for ci in 0..C {
        let plane = &a[ci * O * R..][..O * R];
        let dst = &mut out[ci * q * q..][..q * q];
        let b = bias[ci];
        for (i, drow) in dst.chunks_exact_mut(q).enumerate() {
            let r0 = &plane[2 * i * R..][..2 * q];
            let r1 = &plane[(2 * i + 1) * R..][..2 * q];
            for ((d, p0), p1) in drow.iter_mut().zip(r0.chunks_exact(2)).zip(r1.chunks_exact(2)) {
                *d = (p0[0].max(p0[1]).max(p1[0].max(p1[1])) + b).max(0.0);
            }
        }
    }
}

/// The backward of [`pool_bias_relu`]: each pooled gradient goes to its window's first
/// maximum (burn's choice) when the output was positive (ReLU's mask); the bias gradient
/// is their sum per channel. Everything else in `da` is zero.
fn unpool<const C: usize, const O: usize, const R: usize>(
    dp: &[f32],
    pooled: &[f32],
    a: &[f32],
    da: &mut [f32],
    dbias: &mut [f32],
) {
    let q = O / 2;
    da[..C * O * R].fill(0.0);
    for ci in 0..C {
        let plane = &a[ci * O * R..][..O * R];
        let dplane = &mut da[ci * O * R..][..O * R];
        let mut db = 0.0;
        for i in 0..q {
            for j in 0..q {
                let k = ci * q * q + i * q + j;
                if pooled[k] <= 0.0 {
                    continue;
                }
                let at = [2 * i * R + 2 * j, 2 * i * R + 2 * j + 1, (2 * i + 1) * R + 2 * j, (2 * i + 1) * R + 2 * j + 1];
                let m = at.iter().fold(f32::NEG_INFINITY, |m, &w| m.max(plane[w]));
                if let Some(&w) = at.iter().find(|&&w| plane[w] == m) {
                    dplane[w] = dp[k];
                    db += dp[k];
                }
            }
        }
        dbias[ci] += db;
    }
}

/// What the forward pass keeps of one image for the backward pass.
#[derive(Clone)]
struct ImageState {
    cols1: Vec<f32>,
    a1: Vec<f32>,
    p1: Vec<f32>,
    cols2: Vec<f32>,
    a2: Vec<f32>,
    p2: Vec<f32>,
    cols3: Vec<f32>,
    a3: Vec<f32>,
}

impl ImageState {
    fn new() -> Self {
        Self {
            cols1: vec![0.0; K1 * M1],
            a1: vec![0.0; C1 * M1],
            // Zero padding past the end: the shifted views of `conv_shifted` read into it.
            p1: vec![0.0; C1 * Q1 * Q1 + 2 * Q1 + 2],
            cols2: vec![0.0; K2 * M2],
            a2: vec![0.0; C2 * M2],
            p2: vec![0.0; C2 * Q2 * Q2],
            cols3: vec![0.0; K3 * M3],
            a3: vec![0.0; C3 * M3],
        }
    }
}

/// Per-thread scratch of the backward pass, with that thread's convolution gradients.
#[derive(Clone)]
struct Scratch {
    da3: Vec<f32>,
    dcols3: Vec<f32>,
    dp2: Vec<f32>,
    da2: Vec<f32>,
    dcols2: Vec<f32>,
    dp1: Vec<f32>,
    da1: Vec<f32>,
    grads: Vec<f32>,
}

impl Scratch {
    fn new() -> Self {
        Self {
            da3: vec![0.0; C3 * M3],
            dcols3: vec![0.0; K3 * M3],
            dp2: vec![0.0; C2 * Q2 * Q2],
            da2: vec![0.0; C2 * M2],
            dcols2: vec![0.0; K2 * M2],
            dp1: vec![0.0; C1 * Q1 * Q1],
            da1: vec![0.0; C1 * M1],
            grads: vec![0.0; CONV_PARAMS],
        }
    }
}

/// A 3x3 valid convolution on the wide grid without building columns: nine products of
/// the weights' `(kh, kw)` slice with the input shifted by `kh * S + kw` (strided views,
/// so nothing is copied). `x` must be zero-padded by `2 * S + 2` values.
fn conv_shifted<const CI: usize, const CO: usize, const S: usize>(w: &[f32], x: &[f32], out: &mut [f32]) {
    let n = (S - 2) * S;
    let k = CI * 9;
    for kh in 0..3 {
        for kw in 0..3 {
            let tap = kh * 3 + kw;
            mm(CO, n, CI, out, n, tap > 0, &w[tap..], (k, 9), &x[kh * S + kw..], (S * S, 1));
        }
    }
}

/// Forward through the convolutions for one image; `out` receives the flattened features.
/// Training keeps conv2's columns for the weight gradient; evaluation skips them.
fn conv_forward(p: &[f32], x: &[f32], st: &mut ImageState, out: &mut [f32], train: bool) {
    im2col::<C0, S0>(x, &mut st.cols1);
    mm(C1, M1, K1, &mut st.a1, M1, false, &p[W1.at..], (K1, 1), &st.cols1, (M1, 1));
    pool_bias_relu::<C1, S1, S0>(&st.a1, &p[B1.at..B1.at + C1], &mut st.p1);

    if train {
        im2col::<C1, Q1>(&st.p1, &mut st.cols2);
        mm(C2, M2, K2, &mut st.a2, M2, false, &p[W2.at..], (K2, 1), &st.cols2, (M2, 1));
    } else {
        conv_shifted::<C1, C2, Q1>(&p[W2.at..W2.at + W2.len], &st.p1, &mut st.a2);
    }
    pool_bias_relu::<C2, S2, Q1>(&st.a2, &p[B2.at..B2.at + C2], &mut st.p2);

    im2col::<C2, Q2>(&st.p2, &mut st.cols3);
    mm(C3, M3, K3, &mut st.a3, M3, false, &p[W3.at..], (K3, 1), &st.cols3, (M3, 1));
    // Bias and ReLU while dropping the wide grid's extra columns.
    for c in 0..C3 {
        let b = p[B3.at + c];
        for oh in 0..S3 {
            for ow in 0..S3 {
                out[c * N3 + oh * S3 + ow] = (st.a3[c * M3 + oh * Q2 + ow] + b).max(0.0);
            }
        }
    }
}

/// Backward through the convolutions for one image (`da3`: the gradient of the flattened
/// features, already masked by ReLU), adding into `sc.grads`.
fn conv_backward(p: &[f32], st: &ImageState, da3: &[f32], sc: &mut Scratch) {
    let g = &mut sc.grads;
    // conv3: back onto the wide grid (zeros in the extra columns).
    sc.da3.fill(0.0);
    for c in 0..C3 {
        let mut db = 0.0;
        for oh in 0..S3 {
            for ow in 0..S3 {
                let v = da3[c * N3 + oh * S3 + ow];
                sc.da3[c * M3 + oh * Q2 + ow] = v;
                db += v;
            }
        }
        g[B3.at + c] += db;
    }
    mm(C3, K3, M3, &mut g[W3.at..], K3, true, &sc.da3, (M3, 1), &st.cols3, (1, M3));
    mm(K3, M3, C3, &mut sc.dcols3, M3, false, &p[W3.at..], (1, K3), &sc.da3, (M3, 1));
    col2im::<C2, Q2>(&sc.dcols3, &mut sc.dp2);

    unpool::<C2, S2, Q1>(&sc.dp2, &st.p2, &st.a2, &mut sc.da2, &mut g[B2.at..B2.at + C2]);
    mm(C2, K2, M2, &mut g[W2.at..], K2, true, &sc.da2, (M2, 1), &st.cols2, (1, M2));
    mm(K2, M2, C2, &mut sc.dcols2, M2, false, &p[W2.at..], (1, K2), &sc.da2, (M2, 1));
    col2im::<C1, Q1>(&sc.dcols2, &mut sc.dp1);

    unpool::<C1, S1, S0>(&sc.dp1, &st.p1, &st.a1, &mut sc.da1, &mut g[B1.at..B1.at + C1]);
    mm(C1, K1, M1, &mut g[W1.at..], K1, true, &sc.da1, (M1, 1), &st.cols1, (1, M1));
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

/// The optimizer's state, flat over all parameters.
#[derive(Clone)]
enum OptimState {
    Adam { step: u64, m: Vec<f32>, v: Vec<f32> },
    Sgd { buffer: Option<Vec<f32>> },
}

/// The reference CNN and its optimizer, on fused CPU kernels.
pub struct FusedCnn {
    params: Vec<f32>,
    optimizer: OptimizerConfig,
    state: OptimState,
    pub momentum: MomentumHandle,
    images: Vec<ImageState>,
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
        assert_eq!(params.len(), NUM_PARAMS, "the reference CNN's parameter count");
        let state = match optimizer {
            OptimizerConfig::Adam { .. } => OptimState::Adam {
                step: 0,
                m: vec![0.0; NUM_PARAMS],
                v: vec![0.0; NUM_PARAMS],
            },
            OptimizerConfig::Sgd { .. } => OptimState::Sgd { buffer: None },
        };
        Self {
            params,
            optimizer: optimizer.clone(),
            state,
            momentum: MomentumHandle::new(optimizer.momentum()),
            images: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// The weights as a burn model on `device`.
    pub fn to_model(&self, device: &Device) -> ReferenceCnn {
        let data = |s: Slot| self.params[s.at..s.at + s.len].to_vec();
        let conv = |w: Slot, co: usize, ci: usize| {
            Param::from_tensor(Tensor::<4>::from_data(TensorData::new(data(w), [co, ci, 3, 3]), device))
        };
        let dense = |w: Slot, i: usize, o: usize| {
            Param::from_tensor(Tensor::<2>::from_data(TensorData::new(data(w), [i, o]), device))
        };
        let bias = |b: Slot| Some(Param::from_tensor(Tensor::<1>::from_data(TensorData::new(data(b), [b.len]), device)));
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

    fn ensure(&mut self, batch: usize, threads: usize) {
        if self.images.len() < batch {
            self.images.resize_with(batch, ImageState::new);
        }
        if self.scratch.len() < threads {
            self.scratch.resize_with(threads, Scratch::new);
        }
    }

    /// Loss, correct count and (when `grads` is given) the mean gradient of a batch.
    fn forward_backward(&mut self, images: &[f32], labels: &[i64], grads: Option<&mut Vec<f32>>) -> (f64, usize) {
        let b = labels.len();
        let threads = rayon::current_num_threads().max(1);
        let chunk = b.div_ceil(threads);
        self.ensure(b, threads);
        let p = &self.params;
        let mut a3 = vec![0.0f32; b * FLAT];

        // Convolutions, by images, in parallel.
        let train = grads.is_some();
        self.images[..b]
            .par_chunks_mut(chunk)
            .zip(self.scratch.par_iter_mut())
            .zip(a3.par_chunks_mut(chunk * FLAT))
            .enumerate()
            .for_each(|(t, ((states, _), a3c))| {
                for (i, (st, out)) in states.iter_mut().zip(a3c.chunks_exact_mut(FLAT)).enumerate() {
                    let img = t * chunk + i;
                    conv_forward(p, &images[img * IMAGE_BYTES..][..IMAGE_BYTES], st, out, train);
                }
            });

        // The dense layers on the whole batch.
        let mut h = vec![0.0f32; b * HID];
        mm(b, HID, FLAT, &mut h, HID, false, &a3, (FLAT, 1), &p[F1.at..], (HID, 1));
        bias_relu_rows(&mut h, &p[G1.at..G1.at + HID]);
        let mut logits = vec![0.0f32; b * OUT];
        mm(b, OUT, HID, &mut logits, OUT, false, &h, (HID, 1), &p[F2.at..], (OUT, 1));
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
        mm(HID, OUT, b, &mut g[F2.at..], OUT, false, &h, (1, HID), &dlogits, (OUT, 1));
        col_sums(&dlogits, OUT, &mut g[G2.at..G2.at + OUT]);
        let mut dh = vec![0.0f32; b * HID];
        mm(b, HID, OUT, &mut dh, HID, false, &dlogits, (OUT, 1), &p[F2.at..], (1, OUT));
        for (d, &v) in dh.iter_mut().zip(&h) {
            if v <= 0.0 {
                *d = 0.0;
            }
        }
        mm(FLAT, HID, b, &mut g[F1.at..], HID, false, &a3, (1, FLAT), &dh, (HID, 1));
        col_sums(&dh, HID, &mut g[G1.at..G1.at + HID]);
        let mut da3 = vec![0.0f32; b * FLAT];
        mm(b, FLAT, HID, &mut da3, FLAT, false, &dh, (HID, 1), &p[F1.at..], (1, HID));
        for (d, &v) in da3.iter_mut().zip(&a3) {
            if v <= 0.0 {
                *d = 0.0;
            }
        }

        // Convolutions backward, by images, each thread summing its own gradients.
        for sc in &mut self.scratch[..threads] {
            sc.grads.fill(0.0);
        }
        self.images[..b]
            .par_chunks(chunk)
            .zip(self.scratch.par_iter_mut())
            .enumerate()
            .for_each(|(t, (states, sc))| {
                for (i, st) in states.iter().enumerate() {
                    let img = t * chunk + i;
                    conv_backward(p, st, &da3[img * FLAT..][..FLAT], sc);
                }
            });
        // A fixed order of summation: the same numbers for the same thread count.
        for sc in &self.scratch[..b.div_ceil(chunk)] {
            for (dst, src) in g[..CONV_PARAMS].iter_mut().zip(&sc.grads) {
                *dst += src;
            }
        }
        (loss, correct)
    }

    /// One training step; a non-finite loss leaves the parameters untouched.
    pub fn train_batch(&mut self, batch: &Batch, lr: f64, momentum: Option<f64>) -> BatchResult {
        if let Some(m) = momentum {
            self.momentum.set(m);
        }
        let mut grads = Vec::new();
        let (loss, correct) = self.forward_backward(&batch.images, &batch.labels, Some(&mut grads));
        if loss.is_finite() {
            self.apply(&grads, lr);
        }
        BatchResult { loss, correct, size: batch.len() }
    }

    /// The same update as [`crate::optim::Adam`] and [`crate::optim::Sgd`].
    fn apply(&mut self, grads: &[f32], lr: f64) {
        let momentum = self.momentum.get() as f32;
        match (&self.optimizer, &mut self.state) {
            (OptimizerConfig::Adam { beta2, epsilon, weight_decay, .. }, OptimState::Adam { step, m, v }) => {
                *step += 1;
                let (b1, b2, wd) = (momentum, *beta2 as f32, *weight_decay as f32);
                let t = (*step).min(i32::MAX as u64) as i32;
                let bc1 = 1.0 - (b1 as f64).powi(t);
                let bc2_sqrt = (1.0 - (b2 as f64).powi(t)).sqrt();
                let step_size = (lr * bc2_sqrt / bc1) as f32;
                let eps = *epsilon as f32 * bc2_sqrt as f32;
                for (((p, &g), m), v) in self.params.iter_mut().zip(grads).zip(m.iter_mut()).zip(v.iter_mut()) {
                    let g = if wd != 0.0 { g + *p * wd } else { g };
                    *m = *m * b1 + g * (1.0 - b1);
                    *v = *v * b2 + g * g * (1.0 - b2);
                    *p -= *m / (v.sqrt() + eps) * step_size;
                }
            }
            (OptimizerConfig::Sgd { weight_decay, nesterov, .. }, OptimState::Sgd { buffer }) => {
                let wd = *weight_decay as f32;
                let lr = lr as f32;
                let first = buffer.is_none();
                let buf = buffer.get_or_insert_with(|| vec![0.0; NUM_PARAMS]);
                for ((p, &g), b) in self.params.iter_mut().zip(grads).zip(buf.iter_mut()) {
                    let g = if wd != 0.0 { g + *p * wd } else { g };
                    *b = if first { g } else { *b * momentum + g };
                    let d = if *nesterov { g + *b * momentum } else { *b };
                    *p -= d * lr;
                }
            }
            _ => unreachable!("the state is built for its optimizer"),
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
        Evaluation { loss: loss / n, accuracy: correct as f64 / n }
    }

    /// Loss and gradient of one batch, without updating (for tests).
    pub fn gradients(&mut self, batch: &Batch) -> (f64, Vec<f32>) {
        let mut g = Vec::new();
        let (loss, _) = self.forward_backward(&batch.images, &batch.labels, Some(&mut g));
        (loss, g)
    }

    /// The model as a burn record, and the optimizer state in this engine's format.
    pub fn save(&self) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
        let model = self.to_model(&Device::flex()).into_record().into_bytes()?.to_vec();
        let mut optim = OPTIM_MAGIC.to_vec();
        let floats = |out: &mut Vec<u8>, v: &[f32]| v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
        match &self.state {
            OptimState::Adam { step, m, v } => {
                optim.push(0);
                optim.extend_from_slice(&step.to_le_bytes());
                floats(&mut optim, m);
                floats(&mut optim, v);
            }
            OptimState::Sgd { buffer } => {
                optim.push(1);
                optim.push(u8::from(buffer.is_some()));
                if let Some(b) = buffer {
                    floats(&mut optim, b);
                }
            }
        }
        Ok((model, optim))
    }

    /// Restores what [`save`](Self::save) wrote.
    pub fn load(&mut self, model: Vec<u8>, optim: Vec<u8>) -> anyhow::Result<()> {
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(model))?;
        let burn_model = ReferenceCnn::new(&Device::flex()).try_load_record(record)?;
        let restored = FusedCnn::from_model(&burn_model, &self.optimizer);
        let mut r = Reader(&optim);
        if r.take(OPTIM_MAGIC.len()) != Some(OPTIM_MAGIC) {
            return Err(Reader::bad());
        }
        let state = match (r.byte()?, &self.optimizer) {
            (0, OptimizerConfig::Adam { .. }) => {
                let step = u64::from_le_bytes(r.take(8).ok_or_else(Reader::bad)?.try_into()?);
                OptimState::Adam { step, m: r.floats(NUM_PARAMS)?, v: r.floats(NUM_PARAMS)? }
            }
            (1, OptimizerConfig::Sgd { .. }) => {
                let buffer = if r.byte()? == 1 { Some(r.floats(NUM_PARAMS)?) } else { None };
                OptimState::Sgd { buffer }
            }
            _ => return Err(Reader::bad()),
        };
        self.params = restored.params;
        self.state = state;
        Ok(())
    }
}

/// Reads the optimizer state back.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bad() -> anyhow::Error {
        anyhow::anyhow!("the optimizer state was not written by the fused engine, or is damaged")
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }

    fn byte(&mut self) -> anyhow::Result<u8> {
        Ok(self.take(1).ok_or_else(Self::bad)?[0])
    }

    fn floats(&mut self, n: usize) -> anyhow::Result<Vec<f32>> {
        let bytes = self.take(4 * n).ok_or_else(Self::bad)?;
        Ok(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    }
}

const OPTIM_MAGIC: &[u8] = b"CYCLRFO1";

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
