//! SGD with momentum as a burn optimizer whose momentum is read from a [`MomentumHandle`].

use burn::optim::{Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::{Device, Tensor};

use super::MomentumHandle;
use super::rule::SgdStep;

/// SGD with momentum (PyTorch semantics, no dampening) read from a [`MomentumHandle`].
#[derive(Clone)]
pub struct Sgd {
    /// Momentum, read at every step.
    pub momentum: MomentumHandle,
    /// L2 penalty added to the gradient.
    pub weight_decay: f32,
    /// Nesterov momentum.
    pub nesterov: bool,
}

/// SGD's momentum buffer for one parameter.
#[derive(Clone)]
pub struct SgdState<const D: usize> {
    /// The momentum buffer.
    pub buffer: Tensor<D>,
}

impl<const D: usize> RecordState for SgdState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_tensor(prefix, "buffer", self.buffer.clone().into_data());
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        Some(Self {
            buffer: Tensor::from_data(src.take_tensor(prefix, "buffer")?, device),
        })
    }
}

impl Optimizer for Sgd {
    type State<const D: usize> = SgdState<D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<D>,
        mut grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let s = SgdStep {
            lr: lr as f32,
            momentum: self.momentum.get() as f32,
            l2: self.weight_decay,
            nesterov: self.nesterov,
        };
        if s.l2 != 0.0 {
            grad = grad + tensor.clone().mul_scalar(s.l2);
        }
        let buffer = match state {
            Some(st) => st.buffer.mul_scalar(s.momentum) + grad.clone(),
            None => grad.clone(),
        };
        let direction = if s.nesterov {
            grad + buffer.clone().mul_scalar(s.momentum)
        } else {
            buffer.clone()
        };
        (
            tensor - direction.mul_scalar(s.lr),
            Some(SgdState { buffer }),
        )
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        SgdState {
            buffer: state.buffer.to_device(device),
        }
    }
}
