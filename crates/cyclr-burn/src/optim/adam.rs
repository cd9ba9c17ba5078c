//! Adam and AdamW as a burn optimizer whose beta1 is read from a [`MomentumHandle`].

use burn::optim::{Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::{Device, Tensor};
use burn_pack::Scalar;

use super::MomentumHandle;
use super::rule::AdamStep;

/// Adam (or AdamW, when `decoupled`) whose beta1 is read from a [`MomentumHandle`] at
/// every step.
#[derive(Clone)]
pub struct Adam {
    /// First-moment decay, read at every step.
    pub beta1: MomentumHandle,
    /// Second-moment decay.
    pub beta2: f32,
    /// Added to the denominator.
    pub epsilon: f32,
    /// Weight decay: an L2 term in the gradient, or decoupled when `decoupled`.
    pub weight_decay: f32,
    /// AdamW: decay the weights by `lr * weight_decay` instead of adding to the gradient.
    pub decoupled: bool,
}

/// Adam's state for one parameter.
#[derive(Clone)]
pub struct AdamState<const D: usize> {
    /// Updates made so far (the `t` of the bias correction).
    pub step: u64,
    /// First-moment estimate.
    pub moment_1: Tensor<D>,
    /// Second-moment estimate.
    pub moment_2: Tensor<D>,
}

impl<const D: usize> RecordState for AdamState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_scalar(prefix, "step", Scalar::from(self.step));
        out.push_tensor(prefix, "moment_1", self.moment_1.clone().into_data());
        out.push_tensor(prefix, "moment_2", self.moment_2.clone().into_data());
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        Some(Self {
            step: u64::try_from(src.take_scalar(prefix, "step")?).ok()?,
            moment_1: Tensor::from_data(src.take_tensor(prefix, "moment_1")?, device),
            moment_2: Tensor::from_data(src.take_tensor(prefix, "moment_2")?, device),
        })
    }
}

impl Optimizer for Adam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<D>,
        mut grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let t = state.as_ref().map_or(1, |s| s.step + 1);
        let s = AdamStep::new(
            t,
            lr,
            self.beta1.get() as f32,
            self.beta2,
            self.epsilon,
            self.weight_decay as f64,
            self.decoupled,
        );
        if s.l2 != 0.0 {
            grad = grad + tensor.clone().mul_scalar(s.l2);
        }
        let (beta1, beta2) = (s.beta1, s.beta2);
        let state = match state {
            Some(st) => AdamState {
                step: t,
                moment_1: st.moment_1.mul_scalar(beta1) + grad.clone().mul_scalar(1.0 - beta1),
                moment_2: st.moment_2.mul_scalar(beta2) + grad.square().mul_scalar(1.0 - beta2),
            },
            None => AdamState {
                step: t,
                moment_1: grad.clone().mul_scalar(1.0 - beta1),
                moment_2: grad.square().mul_scalar(1.0 - beta2),
            },
        };
        let denom = state.moment_2.clone().sqrt().add_scalar(s.epsilon);
        let update = state.moment_1.clone().div(denom).mul_scalar(s.step_size);
        let tensor = if s.keep != 1.0 {
            tensor.mul_scalar(s.keep)
        } else {
            tensor
        };
        (tensor - update, Some(state))
    }

    fn to_device<const D: usize>(mut state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.moment_1 = state.moment_1.to_device(device);
        state.moment_2 = state.moment_2.to_device(device);
        state
    }
}
