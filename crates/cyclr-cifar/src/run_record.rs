//! What a run leaves in its folder: `metrics.csv` rows, `run.json`, and how a run ended.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::environment::{Hardware, Versions};
use crate::io::write_atomic;
use crate::train::TrainConfig;

/// The metrics of a run, one row per evaluation.
pub const METRICS_FILE: &str = "metrics.csv";
/// The run's description, status and final figures.
pub const RUN_FILE: &str = "run.json";

/// One evaluation: a row of `metrics.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsRow {
    /// Iterations trained so far.
    pub step: u64,
    /// Epochs trained so far (fractional between epoch ends).
    pub epoch: f64,
    /// Learning rate of the last batch.
    pub lr: f64,
    /// Momentum (Adam: beta1) of the last batch.
    pub momentum: f64,
    /// Mean training loss and accuracy over the batches since the previous row.
    pub train_loss: f64,
    /// Fraction of training images classified correctly since the previous row.
    pub train_accuracy: f64,
    /// Mean cross-entropy on the test split.
    pub test_loss: f64,
    /// Accuracy on the test split (0-1).
    pub test_accuracy: f64,
    /// Wall-clock seconds of the run so far, across resumptions.
    pub elapsed_s: f64,
    /// Training throughput since the previous row, evaluation excluded.
    pub images_per_s: f64,
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Training, or killed before it could record an end.
    Running,
    /// Trained to its last iteration.
    Finished,
    /// Stopped on request (Ctrl-C) with a checkpoint; it can resume.
    Interrupted,
    /// Stopped because the loss became NaN or infinite.
    Diverged,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Finished, interrupted or diverged.
    pub status: RunStatus,
    /// Iterations trained.
    pub steps: u64,
    /// Test accuracy (0-1) at the last evaluation; None before the first.
    pub final_test_accuracy: Option<f64>,
    /// Highest test accuracy (0-1) of any evaluation; None before the first.
    pub best_test_accuracy: Option<f64>,
    /// Mean test cross-entropy at the last evaluation; None before the first.
    pub final_test_loss: Option<f64>,
    /// Training wall time, evaluation included, across resumptions.
    pub wall_s: f64,
    /// A sentence for the user when the run did not finish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Every evaluation, in order.
    pub metrics: Vec<MetricsRow>,
}

/// `run.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run's configuration.
    pub config: TrainConfig,
    /// The data it trained on.
    pub data: DataInfo,
    /// Versions of cyclr and burn.
    pub versions: Versions,
    /// The machine, backend and engine.
    pub hardware: Hardware,
    /// Where the run stands.
    pub status: RunStatus,
    /// Iterations trained so far.
    pub steps: u64,
    /// Iterations the run trains in all.
    pub total_steps: u64,
    /// Test accuracy (0-1) at the last evaluation; None before the first.
    pub final_test_accuracy: Option<f64>,
    /// Highest test accuracy (0-1) of any evaluation; None before the first.
    pub best_test_accuracy: Option<f64>,
    /// Mean test cross-entropy at the last evaluation; None before the first.
    pub final_test_loss: Option<f64>,
    /// Training wall time in seconds so far, evaluation included, across resumptions.
    pub wall_s: f64,
    /// A sentence for the user when the run did not finish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Changes made when the run was resumed (more epochs, another iteration budget).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
}

/// The data a run used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    /// Where the data came from (archive or folder).
    pub source: String,
    /// Training images used.
    pub train_images: usize,
    /// Test images used.
    pub test_images: usize,
    /// SHA-256 of the images and labels used (hex), so a resumed run can check it is given
    /// the same data; absent in runs written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// How a run that has ended (finished or diverged) ended, from its `run.json` and
/// `metrics.csv`; `None` while it can still go on. Unlike [`load_summary`](crate::train::load_summary), this holds for
/// a diverged run what it returned at the time: the checkpoint keeps the last good
/// weights, and a run that diverged before its first epoch end has no checkpoint at all.
pub fn load_outcome(dir: &Path) -> anyhow::Result<Option<RunSummary>> {
    let path = dir.join(RUN_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let run: RunRecord = serde_json::from_str(&text)
        .with_context(|| format!("{} is damaged: delete the run folder", path.display()))?;
    if !matches!(run.status, RunStatus::Finished | RunStatus::Diverged) {
        return Ok(None);
    }
    Ok(Some(RunSummary {
        status: run.status,
        steps: run.steps,
        final_test_accuracy: run.final_test_accuracy,
        best_test_accuracy: run.best_test_accuracy,
        final_test_loss: run.final_test_loss,
        wall_s: run.wall_s,
        note: run.note,
        metrics: read_metrics(dir)?,
    }))
}

pub(crate) fn append_metrics(path: &Path, row: &MetricsRow) -> anyhow::Result<()> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    w.serialize(row)?;
    let line = w.into_inner()?;
    let mut f = OpenOptions::new()
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    // One write call per row: a crash leaves whole rows only.
    f.write_all(&line)
        .and_then(|()| f.sync_data())
        .with_context(|| format!("appending to {}", path.display()))
}

/// Writes the whole metrics file (header and rows) atomically.
pub(crate) fn rewrite_metrics(path: &Path, rows: &[MetricsRow]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    if rows.is_empty() {
        w.write_record([
            "step",
            "epoch",
            "lr",
            "momentum",
            "train_loss",
            "train_accuracy",
            "test_loss",
            "test_accuracy",
            "elapsed_s",
            "images_per_s",
        ])?;
    }
    for r in rows {
        w.serialize(r)?;
    }
    write_atomic(path, &w.into_inner()?)
}

/// Reads a run folder's `metrics.csv`.
pub fn read_metrics(dir: &Path) -> anyhow::Result<Vec<MetricsRow>> {
    let path = dir.join(METRICS_FILE);
    let mut r =
        csv::Reader::from_path(&path).with_context(|| format!("reading {}", path.display()))?;
    r.deserialize()
        .collect::<Result<Vec<MetricsRow>, _>>()
        .with_context(|| format!("parsing {}", path.display()))
}
