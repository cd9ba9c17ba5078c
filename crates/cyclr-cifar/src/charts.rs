//! Charts of a training run.

use cyclr::plot::{Chart, Series};
use cyclr::{LrSchedule, Schedule};

use crate::run_record::MetricsRow;

/// The training chart: test and train accuracy, and the learning rate on a second axis.
pub fn training_chart(
    title: &str,
    metrics: &[MetricsRow],
    schedule: &Schedule,
    steps: u64,
) -> Chart {
    let lr: Vec<(f64, f64)> = cyclr::plot::sample_steps(steps.max(1), 2000)
        .into_iter()
        .map(|s| (s as f64, schedule.lr(s)))
        .collect();
    Chart::new(title, "iteration", "accuracy")
        .line(Series::new(
            "test accuracy",
            metrics
                .iter()
                .map(|m| (m.step as f64, m.test_accuracy))
                .collect(),
        ))
        .line(Series::new(
            "train accuracy",
            metrics
                .iter()
                .map(|m| (m.step as f64, m.train_accuracy))
                .collect(),
        ))
        .right_axis("learning rate", vec![Series::new("learning rate", lr)])
}
