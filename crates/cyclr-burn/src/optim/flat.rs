//! SGD, Adam and AdamW over one flat `f32` buffer of parameters, for engines that keep
//! their weights outside burn's tensors (the CIFAR application's fused CPU kernels). The
//! same rules as burn's [`Adam`](super::Adam) and [`Sgd`](super::Sgd)
//! ([`rule`](super::rule)), and every [`OptimizerConfig`] is handled here, in the crate
//! that defines it: an optimizer added to the config cannot silently train as another.

use rayon::prelude::*;

use super::OptimizerConfig;
use super::rule::{AdamStep, SgdStep, adam_update, sgd_update};

/// Elements per parallel slice of an update (element-wise, so any split gives the same
/// numbers).
const CHUNK: usize = 8192;

/// The magic of the state's bytes ([`FlatOptimizer::to_bytes`]).
const MAGIC: &[u8] = b"CYCLRFO1";

#[derive(Debug, Clone, PartialEq)]
enum State {
    Adam { step: u64, m: Vec<f32>, v: Vec<f32> },
    Sgd { buffer: Option<Vec<f32>> },
}

/// An optimizer and its state over `len` parameters held in one slice.
#[derive(Debug, Clone, PartialEq)]
pub struct FlatOptimizer {
    config: OptimizerConfig,
    len: usize,
    state: State,
}

/// Optimizer state bytes that are not this optimizer's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not the state of {optimizer} over {len} parameters")]
pub struct FlatStateError {
    /// The optimizer reading it.
    pub optimizer: &'static str,
    /// Its number of parameters.
    pub len: usize,
}

impl FlatOptimizer {
    /// `config`'s optimizer over `len` parameters, with no updates made yet.
    pub fn new(config: &OptimizerConfig, len: usize) -> Self {
        let state = match config {
            OptimizerConfig::Adam { .. } | OptimizerConfig::AdamW { .. } => State::Adam {
                step: 0,
                m: vec![0.0; len],
                v: vec![0.0; len],
            },
            OptimizerConfig::Sgd { .. } => State::Sgd { buffer: None },
        };
        Self {
            config: config.clone(),
            len,
            state,
        }
    }

    /// Its settings.
    pub fn config(&self) -> &OptimizerConfig {
        &self.config
    }

    /// Updates made so far (Adam's `t`; for SGD, 0 before the first and 1 after).
    pub fn updates(&self) -> u64 {
        match &self.state {
            State::Adam { step, .. } => *step,
            State::Sgd { buffer } => u64::from(buffer.is_some()),
        }
    }

    /// One update of `params` by `grads` at learning rate `lr`, with `momentum` as SGD's
    /// momentum or Adam's beta1 now (a schedule may cycle it).
    pub fn step(&mut self, params: &mut [f32], grads: &[f32], lr: f64, momentum: f64) {
        assert_eq!(params.len(), self.len, "parameters of the optimizer");
        assert_eq!(grads.len(), self.len, "gradients of the optimizer");
        let momentum = momentum as f32;
        match (&self.config, &mut self.state) {
            (
                &OptimizerConfig::Adam {
                    beta2,
                    epsilon,
                    weight_decay,
                    ..
                },
                State::Adam { step, m, v },
            )
            | (
                &OptimizerConfig::AdamW {
                    beta2,
                    epsilon,
                    weight_decay,
                    ..
                },
                State::Adam { step, m, v },
            ) => {
                *step += 1;
                let decoupled = matches!(self.config, OptimizerConfig::AdamW { .. });
                let s = AdamStep::new(
                    *step,
                    lr,
                    momentum,
                    beta2 as f32,
                    epsilon as f32,
                    weight_decay,
                    decoupled,
                );
                params
                    .par_chunks_mut(CHUNK)
                    .zip(grads.par_chunks(CHUNK))
                    .zip(m.par_chunks_mut(CHUNK))
                    .zip(v.par_chunks_mut(CHUNK))
                    .for_each(|(((p, g), m), v)| adam_update(&s, p, g, m, v));
            }
            (
                &OptimizerConfig::Sgd {
                    weight_decay,
                    nesterov,
                    ..
                },
                State::Sgd { buffer },
            ) => {
                let s = SgdStep {
                    lr: lr as f32,
                    momentum,
                    l2: weight_decay as f32,
                    nesterov,
                };
                let first = buffer.is_none();
                let buf = buffer.get_or_insert_with(|| vec![0.0; params.len()]);
                sgd_update(&s, params, grads, buf, first);
            }
            // The state is built for its config in `new` and `load_bytes`.
            (OptimizerConfig::Adam { .. } | OptimizerConfig::AdamW { .. }, State::Sgd { .. })
            | (OptimizerConfig::Sgd { .. }, State::Adam { .. }) => {
                unreachable!("a FlatOptimizer's state always matches its config")
            }
        }
    }

    /// The state as bytes (little-endian): a magic, the kind, then the moments (Adam) or
    /// the momentum buffer (SGD).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        let floats = |out: &mut Vec<u8>, v: &[f32]| {
            v.iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes()))
        };
        match &self.state {
            State::Adam { step, m, v } => {
                out.push(0);
                out.extend_from_slice(&step.to_le_bytes());
                floats(&mut out, m);
                floats(&mut out, v);
            }
            State::Sgd { buffer } => {
                out.push(1);
                out.push(u8::from(buffer.is_some()));
                if let Some(b) = buffer {
                    floats(&mut out, b);
                }
            }
        }
        out
    }

    /// Restores what [`to_bytes`](Self::to_bytes) wrote for the same optimizer and length.
    pub fn load_bytes(&mut self, bytes: &[u8]) -> Result<(), FlatStateError> {
        let bad = FlatStateError {
            optimizer: self.config.name(),
            len: self.len,
        };
        let mut r = Reader(bytes);
        if r.take(MAGIC.len()) != Some(MAGIC) {
            return Err(bad);
        }
        let n = self.len;
        let state = match (r.byte(), &self.config) {
            (Some(0), OptimizerConfig::Adam { .. } | OptimizerConfig::AdamW { .. }) => {
                let step = r
                    .take(8)
                    .and_then(|b| b.try_into().ok())
                    .map(u64::from_le_bytes);
                match (step, r.floats(n), r.floats(n)) {
                    (Some(step), Some(m), Some(v)) => State::Adam { step, m, v },
                    _ => return Err(bad),
                }
            }
            (Some(1), OptimizerConfig::Sgd { .. }) => match r.byte() {
                Some(1) => State::Sgd {
                    buffer: Some(r.floats(n).ok_or(bad.clone())?),
                },
                Some(0) => State::Sgd { buffer: None },
                _ => return Err(bad),
            },
            // Another optimizer's state, or not a state at all.
            _ => return Err(bad),
        };
        if !r.0.is_empty() {
            return Err(bad);
        }
        self.state = state;
        Ok(())
    }
}

/// Reads the state's bytes in order.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }

    fn byte(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn floats(&mut self, n: usize) -> Option<Vec<f32>> {
        let bytes = self.take(n.checked_mul(4)?)?;
        Some(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        )
    }
}
