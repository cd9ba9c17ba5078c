//! The update rules of SGD, Adam and AdamW, written once: the scalars of one update
//! ([`AdamStep`], [`SgdStep`]) for every implementation, and the element-wise update on
//! flat slices ([`adam_update`], [`sgd_update`]) for engines that keep their parameters as
//! plain `f32` buffers. burn's tensor optimizers ([`Adam`](super::Adam),
//! [`Sgd`](super::Sgd)) apply the same scalars with tensor operations.

/// The scalars of one Adam (or AdamW) update: bias corrections, weight decay and the step
/// size, as PyTorch computes them with the current beta1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamStep {
    /// First-moment decay (the momentum a schedule may cycle).
    pub beta1: f32,
    /// Second-moment decay.
    pub beta2: f32,
    /// L2 term added to the gradient: Adam's weight decay, 0 for AdamW.
    pub l2: f32,
    /// What the weights are multiplied by before the step: AdamW's `1 - lr * weight_decay`,
    /// 1 for Adam.
    pub keep: f32,
    /// `lr * sqrt(1 - beta2^t) / (1 - beta1^t)`.
    pub step_size: f32,
    /// `epsilon * sqrt(1 - beta2^t)`: epsilon moved inside the rearranged denominator.
    pub epsilon: f32,
}

impl AdamStep {
    /// The scalars of update `t` (1-based) at learning rate `lr`; `decoupled` for AdamW.
    pub fn new(
        t: u64,
        lr: f64,
        beta1: f32,
        beta2: f32,
        epsilon: f32,
        weight_decay: f64,
        decoupled: bool,
    ) -> Self {
        let (l2, keep) = if decoupled {
            (0.0, (1.0 - lr * weight_decay) as f32)
        } else {
            (weight_decay as f32, 1.0)
        };
        let t = t.min(i32::MAX as u64) as i32;
        let bc1 = 1.0 - (beta1 as f64).powi(t);
        let bc2_sqrt = (1.0 - (beta2 as f64).powi(t)).sqrt();
        Self {
            beta1,
            beta2,
            l2,
            keep,
            // lr * m_hat / (sqrt(v_hat) + eps), rearranged to scale the small terms once.
            step_size: (lr * bc2_sqrt / bc1) as f32,
            epsilon: epsilon * bc2_sqrt as f32,
        }
    }
}

/// One Adam update of `params` by `grads`, with the moments `m` and `v`, element by element
/// (so slices of them may be updated on any thread in any order).
pub fn adam_update(s: &AdamStep, params: &mut [f32], grads: &[f32], m: &mut [f32], v: &mut [f32]) {
    for (((p, &g), m), v) in params.iter_mut().zip(grads).zip(m).zip(v) {
        let g = if s.l2 != 0.0 { g + *p * s.l2 } else { g };
        *m = *m * s.beta1 + g * (1.0 - s.beta1);
        *v = *v * s.beta2 + g * g * (1.0 - s.beta2);
        if s.keep != 1.0 {
            *p *= s.keep;
        }
        *p -= *m / (v.sqrt() + s.epsilon) * s.step_size;
    }
}

/// The scalars of one SGD update (PyTorch semantics: no dampening).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdStep {
    /// The learning rate.
    pub lr: f32,
    /// The momentum (a schedule may cycle it).
    pub momentum: f32,
    /// L2 term added to the gradient.
    pub l2: f32,
    /// Nesterov momentum.
    pub nesterov: bool,
}

/// One SGD update of `params` by `grads` with the momentum `buffer`, element by element;
/// `first` for the first update, whose buffer is the gradient itself.
pub fn sgd_update(s: &SgdStep, params: &mut [f32], grads: &[f32], buffer: &mut [f32], first: bool) {
    for ((p, &g), b) in params.iter_mut().zip(grads).zip(buffer) {
        let g = if s.l2 != 0.0 { g + *p * s.l2 } else { g };
        *b = if first { g } else { *b * s.momentum + g };
        let d = if s.nesterov { g + *b * s.momentum } else { *b };
        *p -= d * s.lr;
    }
}
