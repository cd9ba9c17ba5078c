//! A burn-train renderer that prints nothing.

use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};

/// burn-train's renderer and progress logger, silenced: for a `SupervisedTraining` run
/// whose progress is reported some other way (the range test under burn-train, tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct SilentRenderer;

impl MetricsRendererTraining for SilentRenderer {
    fn update_train(&mut self, _: MetricState) {}
    fn update_valid(&mut self, _: MetricState) {}
}
impl MetricsRendererEvaluation for SilentRenderer {
    fn update_test(&mut self, _: EvaluationName, _: MetricState) {}
}
impl TrainingProgressLogger for SilentRenderer {
    fn start(&mut self, _: usize, _: usize, _: Option<usize>, _: Option<&str>) {}
    fn update_epoch(&mut self, _: usize) {}
    fn start_split(&mut self, _: &str, _: usize) {}
    fn update_split(&mut self, _: usize) {}
    fn end_split(&mut self) {}
    fn end(&mut self) {}
    fn log_event_training(&mut self, _: String) {}
}
impl EvaluationProgressLogger for SilentRenderer {
    fn start_global_progress(&mut self, _: usize) {}
    fn start_test(&mut self, _: &str, _: usize) {}
    fn update_test_progress(&mut self, _: usize) {}
    fn end_test(&mut self) {}
    fn end_global_progress(&mut self) {}
    fn log_event_evaluation(&mut self, _: String) {}
}
impl MetricsRenderer for SilentRenderer {
    fn manual_close(&mut self) {}
    fn register_metric(&mut self, _: burn::train::metric::MetricDefinition) {}
}

/// A `SupervisedTraining` made fit to run more than once in a process, and silently: no
/// terminal dashboard ([`SilentRenderer`]) and no application logger. burn-train installs
/// its logger as the process's global one on every `launch`, so a second training in the
/// same process (a range test then a training, a grid of runs, a test suite) must not ask
/// for it again.
///
/// ```no_run
/// # use burn::train::{LearnerModel, SupervisedTraining};
/// # fn f<M: LearnerModel>(training: SupervisedTraining<M>) {
/// use cyclr_burn::silent_renderer::InProcess;
/// let training = training.in_process(); // then .launch(learner), as often as needed
/// # }
/// ```
pub trait InProcess {
    /// The same training, silent and without a global logger.
    fn in_process(self) -> Self;
}

impl<M: burn::train::LearnerModel> InProcess for burn::train::SupervisedTraining<M> {
    fn in_process(self) -> Self {
        self.with_application_logger(None)
            .renderer(Box::new(SilentRenderer))
    }
}
