//! Fused CPU kernels for the reference CNN: the whole training step (forward, backward,
//! optimizer) and evaluation, written for this one network.
//!
//! burn's generic CPU ops spend much of a step on layout copies, zero-filled temporaries
//! and per-op allocation. Here every layer is an `im2col` and one AVX-512/AVX2 matrix
//! product (the `gemm` crate burn itself uses), ReLU, bias and pooling are fused into the
//! passes around it, buffers live for the whole run, and the batch is split across threads
//! by images with per-thread gradient sums added in a fixed order (same thread count, same
//! numbers). [`Precision::Bf16`] (the `fused-bf16` engine) runs most convolution products
//! on bf16 operands instead, with a kernel of our own. The parameters are the burn model's
//! (same layout, same initialisation, same checkpoint format); `tests/fused.rs` checks
//! losses and gradients against burn's autodiff.

use burn::module::{Module, Param};
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device, Tensor, TensorData};
use rayon::prelude::*;

use crate::data::{Batch, Split, make_batch};
use crate::measure::{BatchResult, Evaluation};
use crate::model::ReferenceCnn;
use cyclr_burn::optim::{FlatOptimizer, MomentumHandle, OptimizerConfig};

mod bf16;
mod conv;
mod kernels;
mod layout;
mod loss;

pub use bf16::{available as bf16_available, mm_bf16};
use conv::*;
pub use kernels::mm;
use kernels::*;
pub use layout::NUM_PARAMS;
use layout::*;
use loss::softmax_xent;

/// The number format of the convolutions' matrix products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// f32 throughout: the default, whose numbers the tests check against burn's.
    #[default]
    F32,
    /// bf16 operands with f32 sums ([`mm_bf16`]) in the products where `gemm_probe`
    /// measured it faster (conv1's forward, conv2's three, conv3's two gradients), f32 in
    /// the others and everywhere else. Needs AVX-512 BF16 ([`bf16_available`]); the numbers
    /// differ from f32's by bf16's rounding, so it is a separate engine, `fused-bf16`.
    Bf16,
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
    precision: Precision,
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
            precision: Precision::F32,
        }
    }

    /// The same network with its convolutions' products in `precision`. bf16 where the
    /// CPU lacks AVX-512 BF16 is an error that names the fix.
    pub fn with_precision(mut self, precision: Precision) -> Result<Self, String> {
        if precision == Precision::Bf16 && !bf16_available() {
            return Err(
                "bf16 products need a CPU with AVX-512 BF16, which this one lacks: use \
                 Precision::F32"
                    .into(),
            );
        }
        self.precision = precision;
        Ok(self)
    }

    /// The number format of the convolutions' products.
    pub fn precision(&self) -> Precision {
        self.precision
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
    ///
    /// The step runs on one of rayon's threads rather than on the caller's: the serial
    /// parts (the dense layers, the loss) then do not share a core with the pool threads
    /// that spin while they wait for the next parallel part (on 2 cores they took 2.6
    /// times their 1-thread time so, 2 times now), and the caller sleeps until it is done.
    fn forward_backward(
        &mut self,
        images: &[f32],
        labels: &[i64],
        grads: Option<&mut Vec<f32>>,
    ) -> (f64, usize) {
        rayon::scope(|_| self.forward_backward_in_pool(images, labels, grads))
    }

    /// [`forward_backward`](Self::forward_backward)'s work, wherever it is called.
    fn forward_backward_in_pool(
        &mut self,
        images: &[f32],
        labels: &[i64],
        grads: Option<&mut Vec<f32>>,
    ) -> (f64, usize) {
        let b = labels.len();
        // More threads than images would only hold empty shares and their buffers.
        let threads = rayon::current_num_threads().min(b).max(1);
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
        let precision = self.precision;
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
            .zip(self.scratch[..threads].par_iter_mut())
            .for_each(|(((states, share), out), sc)| {
                let mut at = 0;
                for (k, &(first, len)) in share.iter().enumerate() {
                    let st = &mut states[k % kept];
                    // Empty groups are marked too, so the backward pass skips them.
                    (st.first, st.len) = (first, len);
                    if len > 0 {
                        conv_forward(wp, images, st, sc, &mut out[at * FLAT..], train, precision);
                        at += len;
                    }
                }
            });

        // The dense layers on the whole batch.
        let mut h = vec![0.0f32; b * HID];
        mm_parallel(
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
        mm_parallel(
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
        mm_parallel(
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
        mm_parallel(
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
        mm_parallel(
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
        mm_parallel(
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
                    conv_backward(
                        wp,
                        st,
                        &da3[st.first * FLAT..][..st.len * FLAT],
                        sc,
                        precision,
                    );
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
