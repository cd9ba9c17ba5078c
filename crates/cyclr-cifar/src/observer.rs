//! What a caller hears while a long job runs, and how it asks to stop.

use crate::run_record::MetricsRow;

/// Progress reported while training.
#[derive(Debug, Clone, Copy)]
pub struct BatchProgress {
    pub step: u64,
    pub total_steps: u64,
    pub epoch: u64,
    pub lr: f64,
    pub loss: f64,
    /// Training accuracy since the last evaluation.
    pub accuracy: f64,
    pub images_per_s: f64,
}

/// What a caller wants to hear about, and whether to stop (Ctrl-C).
pub trait Observer {
    fn on_start(&mut self, _start_step: u64, _total_steps: u64) {}
    fn on_batch(&mut self, _p: &BatchProgress) {}
    fn on_eval(&mut self, _row: &MetricsRow) {}
    fn message(&mut self, _text: &str) {}
    /// A new phase of a longer job begins (e.g. one run of a recreation).
    fn phase(&mut self, _name: &str) {}
    fn should_stop(&self) -> bool {
        false
    }
}

/// An observer that ignores everything.
pub struct Silent;
impl Observer for Silent {}
