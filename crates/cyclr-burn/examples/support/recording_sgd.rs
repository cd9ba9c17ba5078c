//! cyclr's SGD, writing down the (rate, momentum) of every step it takes: what the
//! optimizer actually received, for the tests of burn-train's strategies
//! (`tests/strategies.rs`) and of remote devices (`examples/remote_devices.rs`).

use std::sync::{Arc, Mutex};

use burn::optim::{ModuleOptimizer, Optimizer};
use burn::tensor::{Device, Tensor};
use cyclr_burn::optim::{MomentumHandle, Sgd, SgdState};

/// What the optimizer received, `(lr, momentum)` per step, in order.
pub type StepLog = Arc<Mutex<Vec<(f64, f64)>>>;

/// SGD whose every `step` logs `(lr, momentum)`.
#[derive(Clone)]
pub struct RecordingSgd {
    inner: Sgd,
    log: StepLog,
}

impl RecordingSgd {
    /// Plain SGD (no weight decay, no Nesterov) with `momentum` as a handle the scheduler
    /// sets; the optimizer and the log it fills.
    pub fn optimizer(momentum: &MomentumHandle) -> (ModuleOptimizer, StepLog) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let optim = ModuleOptimizer::from(Self {
            inner: Sgd {
                momentum: momentum.clone(),
                weight_decay: 0.0,
                nesterov: false,
            },
            log: log.clone(),
        });
        (optim, log)
    }
}

impl Optimizer for RecordingSgd {
    type State<const D: usize> = SgdState<D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<SgdState<D>>,
    ) -> (Tensor<D>, Option<SgdState<D>>) {
        self.log
            .lock()
            .unwrap()
            .push((lr, self.inner.momentum.get()));
        self.inner.step(lr, tensor, grad, state)
    }

    fn to_device<const D: usize>(state: SgdState<D>, device: &Device) -> SgdState<D> {
        Sgd::to_device(state, device)
    }
}
