//! What a range test found, as plain values, and the files written from it alone.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::decision::{Analysis, StepsizeAdvice, analyze_reading, stepsize_advice};
use super::ramp::RangeTestConfig;
use super::recorder::{EarlyStop, RangePoint};
use crate::atomic_write::write_atomic;

/// The result of a range test, whichever front-end ran it (cyclr-burn's `RangeTest`, the
/// Python package's Keras and PyTorch range tests): every point, why the test stopped early
/// (if it did), each rule's suggestion with the recommended (base, max) pair, and the
/// stepsize advice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RangeTestOutcome {
    /// The ramp that ran.
    pub ramp: RangeTestConfig,
    /// Batches per optimizer update.
    #[serde(default = "one")]
    pub accumulation: u32,
    /// Why the test ended before the end of the ramp, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stop: Option<EarlyStop>,
    /// The rules' suggestions, the recommended pair and the warnings.
    pub analysis: Analysis,
    /// The paper's stepsize advice, when the updates per epoch were given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stepsize: Option<StepsizeAdvice>,
    /// Seconds the ramp took.
    pub wall_s: f64,
    /// One point per update.
    pub points: Vec<RangePoint>,
}

fn one() -> u32 {
    1
}

/// The columns of `range_test.csv`.
pub const CSV_COLUMNS: [&str; 8] = [
    "iteration",
    "lr",
    "loss",
    "accuracy",
    "smoothed_loss",
    "smoothed_accuracy",
    "test_accuracy",
    "test_loss",
];

impl RangeTestOutcome {
    /// The outcome of a recorded ramp: the points are analysed here, so every front-end
    /// reads a curve with the same rules. `iterations_per_epoch` (updates per epoch), when
    /// known, gives the stepsize advice; `wall_s` is how long the ramp took.
    pub fn from_recording(
        ramp: RangeTestConfig,
        accumulation: u32,
        points: Vec<RangePoint>,
        early_stop: Option<EarlyStop>,
        iterations_per_epoch: Option<u64>,
        wall_s: f64,
    ) -> Self {
        Self {
            analysis: analyze_reading(&points, early_stop.as_ref(), ramp.curve),
            ramp,
            accumulation,
            early_stop,
            stepsize: iterations_per_epoch.map(stepsize_advice),
            wall_s,
            points,
        }
    }

    /// Every point as CSV with a header row ([`CSV_COLUMNS`]); missing values are empty
    /// cells, numbers are written to full precision.
    pub fn to_csv(&self) -> Result<Vec<u8>, csv::Error> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(CSV_COLUMNS)?;
        let opt = |v: Option<f64>| v.map(|a| format!("{a:?}")).unwrap_or_default();
        for p in &self.points {
            w.write_record([
                p.iteration.to_string(),
                format!("{:?}", p.lr),
                format!("{:?}", p.loss),
                opt(p.accuracy),
                format!("{:?}", p.smoothed_loss),
                opt(p.smoothed_accuracy),
                opt(p.test_accuracy),
                opt(p.test_loss),
            ])?;
        }
        w.into_inner().map_err(|e| e.into_error().into())
    }

    /// Writes `range_test.csv` and `range_test.json` (and, with cyclr's `plot` feature,
    /// `range_test.png` and `range_test.svg`, titled `title`) into `dir`, each file
    /// atomically.
    pub fn save(&self, dir: &Path, title: &str) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        self.write_csv(dir)?;
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        write_atomic(&dir.join("range_test.json"), &json)?;
        self.write_charts(dir, title)?;
        Ok(())
    }

    /// Writes `range_test.csv` into `dir`, atomically.
    pub fn write_csv(&self, dir: &Path) -> std::io::Result<()> {
        let csv = self.to_csv().map_err(std::io::Error::other)?;
        write_atomic(&dir.join("range_test.csv"), &csv)
    }

    /// Writes `range_test.png` and `range_test.svg` into `dir` when cyclr's `plot` feature
    /// is on (enabled through `cyclr` or `cyclr-burn`, either will do), nothing when there
    /// are no points; returns the files written.
    pub fn write_charts(&self, dir: &Path, title: &str) -> std::io::Result<Vec<PathBuf>> {
        super::chart::write_charts(dir, title, self.ramp.ramp, &self.points, &self.analysis)
    }
}
