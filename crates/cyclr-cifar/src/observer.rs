//! What a caller hears while a long job runs, and how it asks to stop.

use crate::run_record::MetricsRow;

/// Progress reported while training.
#[derive(Debug, Clone, Copy)]
pub struct BatchProgress {
    /// Iterations done so far, this batch included.
    pub step: u64,
    /// Iterations the job runs in all.
    pub total_steps: u64,
    /// Current epoch, counted from 1.
    pub epoch: u64,
    /// Learning rate of this batch.
    pub lr: f64,
    /// Loss of this batch (the range test: smoothed).
    pub loss: f64,
    /// Training accuracy since the last evaluation.
    pub accuracy: f64,
    /// Training throughput, images per second.
    pub images_per_s: f64,
}

/// What a caller wants to hear about, and whether to stop (Ctrl-C).
pub trait Observer {
    /// The job starts (or resumes) at iteration `start_step` of `total_steps`.
    fn on_start(&mut self, _start_step: u64, _total_steps: u64) {}
    /// A training batch finished.
    fn on_batch(&mut self, _p: &BatchProgress) {}
    /// An evaluation finished; `row` is what goes into `metrics.csv`.
    fn on_eval(&mut self, _row: &MetricsRow) {}
    /// A note for the user, e.g. that a run resumes.
    fn message(&mut self, _text: &str) {}
    /// A new phase of a longer job begins (e.g. one run of a recreation).
    fn phase(&mut self, _name: &str) {}
    /// Whether the job should stop at the next safe point, e.g. after Ctrl-C.
    fn should_stop(&self) -> bool {
        false
    }
}

/// An observer that ignores everything.
pub struct Silent;
impl Observer for Silent {}
