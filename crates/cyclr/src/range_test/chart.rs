//! The range test's chart: accuracy and loss against the learning rate, with the
//! recommended band and each rule's point. Drawn when the `plot` feature is on.

use std::path::{Path, PathBuf};

/// Whether this build of cyclr draws charts (its `plot` feature).
pub const ENABLED: bool = cfg!(feature = "plot");

use super::decision::Analysis;
use super::ramp::Ramp;
use super::recorder::RangePoint;

/// The plot: smoothed (and held-out) accuracy against LR with the smoothed loss on the
/// right axis (the loss alone when there is no accuracy), the recommended band shaded
/// and each rule's point marked.
#[cfg(feature = "plot")]
pub fn range_test_chart(
    title: &str,
    ramp: Ramp,
    points: &[RangePoint],
    analysis: &Analysis,
) -> crate::plot::Chart {
    use crate::plot::{Chart, Marker, Series};
    let pts = points;
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
    chart.log_x = ramp == Ramp::Exponential;
    if let Some(r) = &analysis.recommendation {
        chart.band = Some((
            r.base_lr,
            r.max_lr,
            format!("recommended {:.2e} - {:.2e}", r.base_lr, r.max_lr),
        ));
    }
    for s in &analysis.suggestions {
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

/// Writes `range_test.png` and `range_test.svg` into `dir` and returns them; nothing when
/// there are no points, or when this build of cyclr has no `plot` feature (enable it on
/// `cyclr` or `cyclr-burn`, either will do).
pub fn write_charts(
    dir: &Path,
    title: &str,
    ramp: Ramp,
    points: &[RangePoint],
    analysis: &Analysis,
) -> std::io::Result<Vec<PathBuf>> {
    #[cfg(feature = "plot")]
    {
        if points.is_empty() {
            return Ok(Vec::new());
        }
        let chart = range_test_chart(title, ramp, points, analysis);
        let mut written = Vec::new();
        for name in ["range_test.png", "range_test.svg"] {
            let path = dir.join(name);
            chart.save(&path).map_err(std::io::Error::other)?;
            written.push(path);
        }
        Ok(written)
    }
    #[cfg(not(feature = "plot"))]
    {
        let _ = (dir, title, ramp, points, analysis);
        Ok(Vec::new())
    }
}
