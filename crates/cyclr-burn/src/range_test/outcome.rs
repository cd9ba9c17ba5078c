//! What a range test found, as plain values, and the files written from it alone.

use std::path::Path;

use cyclr::range_test::{Analysis, EarlyStop, RangePoint, RangeTestConfig, StepsizeAdvice};
use serde::{Deserialize, Serialize};

use crate::io::write_atomic;

/// The result of [`RangeTest::run`](super::RangeTest::run): every point, why the test
/// stopped early (if it did), each rule's suggestion with the recommended (base, max) pair,
/// and the stepsize advice.
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

    /// Writes `range_test.csv` and `range_test.json` (and, with the `plot` feature,
    /// `range_test.png` and `range_test.svg`, titled `title`) into `dir`, each file
    /// atomically.
    pub fn save(&self, dir: &Path, title: &str) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        self.write_csv(dir)?;
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        write_atomic(&dir.join("range_test.json"), &json)?;
        #[cfg(feature = "plot")]
        self.write_charts(dir, title)?;
        #[cfg(not(feature = "plot"))]
        let _ = title;
        Ok(())
    }

    /// Writes `range_test.csv` into `dir`, atomically.
    pub fn write_csv(&self, dir: &Path) -> std::io::Result<()> {
        let csv = self.to_csv().map_err(std::io::Error::other)?;
        write_atomic(&dir.join("range_test.csv"), &csv)
    }

    /// Writes `range_test.png` and `range_test.svg` into `dir` (nothing when there are no
    /// points).
    #[cfg(feature = "plot")]
    pub fn write_charts(&self, dir: &Path, title: &str) -> std::io::Result<()> {
        if self.points.is_empty() {
            return Ok(());
        }
        let chart = self.chart(title);
        for name in ["range_test.png", "range_test.svg"] {
            chart.save(&dir.join(name)).map_err(std::io::Error::other)?;
        }
        Ok(())
    }

    /// The plot: smoothed (and held-out) accuracy against LR with the smoothed loss on the
    /// right axis (the loss alone when there is no accuracy), the recommended band shaded
    /// and each rule's point marked.
    #[cfg(feature = "plot")]
    pub fn chart(&self, title: &str) -> cyclr::plot::Chart {
        use cyclr::plot::{Chart, Marker, Series};
        let pts = &self.points;
        let train_acc: Vec<(f64, f64)> = pts
            .iter()
            .filter_map(|p| Some((p.lr, p.smoothed_accuracy?)))
            .collect();
        let held_acc: Vec<(f64, f64)> = pts
            .iter()
            .filter_map(|p| Some((p.lr, p.test_accuracy?)))
            .collect();
        let held_loss: Vec<(f64, f64)> = pts
            .iter()
            .filter_map(|p| Some((p.lr, p.test_loss?)))
            .collect();
        let loss = Series::new(
            "loss (smoothed)",
            pts.iter().map(|p| (p.lr, p.smoothed_loss)).collect(),
        );
        let has_accuracy = !train_acc.is_empty() || !held_acc.is_empty();
        let mut chart = if has_accuracy {
            let mut c = Chart::new(title, "learning rate", "accuracy");
            if !train_acc.is_empty() {
                c = c.line(Series::new("train accuracy (smoothed)", train_acc));
            }
            if !held_acc.is_empty() {
                c = c.line(Series::new("test accuracy", held_acc));
            }
            let mut right = vec![loss];
            if !held_loss.is_empty() {
                right.push(Series::new("test loss", held_loss));
            }
            c.right_axis("loss", right)
        } else {
            let mut c = Chart::new(title, "learning rate", "loss").line(loss);
            if !held_loss.is_empty() {
                c = c.line(Series::new("test loss", held_loss));
            }
            c
        };
        chart.log_x = self.ramp.ramp == cyclr::range_test::Ramp::Exponential;
        if let Some(r) = &self.analysis.recommendation {
            chart.band = Some((
                r.base_lr,
                r.max_lr,
                format!("recommended {:.2e} - {:.2e}", r.base_lr, r.max_lr),
            ));
        }
        for s in &self.analysis.suggestions {
            // On the left-axis curve at the suggested rate (some rules suggest a rate that
            // is not the one of the point they read, like fastai's minimum / 10).
            let y = pts
                .iter()
                .filter(|p| !has_accuracy || p.smoothed_accuracy.is_some())
                .min_by(|a, b| (a.lr - s.lr).abs().total_cmp(&(b.lr - s.lr).abs()))
                .map(|p| {
                    if has_accuracy {
                        p.smoothed_accuracy.unwrap_or(f64::NAN)
                    } else {
                        p.smoothed_loss
                    }
                })
                .filter(|y| y.is_finite());
            chart.markers.push(Marker {
                label: format!("{} {:.2e}", s.rule, s.lr),
                x: s.lr,
                y,
            });
        }
        chart
    }
}
