//! Running the LR range test on the reference CNN, and writing its CSV, JSON and plots.

use std::path::Path;

use anyhow::Context;
use cyclr::plot::{Chart, Marker, Series};
use cyclr::range_test::{
    Analysis, EarlyStop, RangePoint, RangeTestConfig, Ramp, Recorder, StepsizeAdvice, analyze,
    stepsize_advice,
};
use serde::{Deserialize, Serialize};

use crate::data::{Cifar10, Prefetcher, epoch_order};
use crate::engine::{Backend, Engine, EngineKind};
use crate::io::write_atomic;
use crate::optim::OptimizerConfig;
use crate::train::{BatchProgress, DataInfo, Hardware, Observer, Versions};

/// A range test on CIFAR-10.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RangeTestSettings {
    pub ramp: RangeTestConfig,
    pub optimizer: OptimizerConfig,
    pub batch_size: usize,
    pub seed: u64,
    /// Measure held-out accuracy every this many iterations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_every: Option<u64>,
    #[serde(default)]
    pub backend: Backend,
    #[serde(default)]
    pub engine: EngineKind,
}

impl RangeTestSettings {
    /// Everything that can be wrong before the ramp starts, said as what to change.
    pub fn validate(&self) -> Result<(), String> {
        if self.batch_size == 0 {
            return Err("--batch-size is 0: give at least 1 (the paper uses 100)".into());
        }
        if self.eval_every == Some(0) {
            return Err("--eval-every is 0: give a number of iterations, or leave it out".into());
        }
        self.ramp.validate()?;
        self.engine.check(self.backend)?;
        self.optimizer.validate()
    }
}

/// `range_test.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RangeTestResult {
    pub settings: RangeTestSettings,
    pub data: DataInfo,
    pub versions: Versions,
    pub hardware: Hardware,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stop: Option<EarlyStop>,
    pub analysis: Analysis,
    pub stepsize: StepsizeAdvice,
    pub wall_s: f64,
    pub points: Vec<RangePoint>,
}

impl RangeTestResult {
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| {
            format!("{} is not a range_test.json written by `cyclr range-test`", path.display())
        })
    }
}

/// Runs the ramp on `engine` as it is, then puts its model and optimizer back as they were
/// (library use: test a model mid-project without disturbing it).
pub fn run_on_engine(
    engine: &mut Engine,
    settings: &RangeTestSettings,
    data: &Cifar10,
    observer: &mut dyn Observer,
) -> anyhow::Result<(Recorder, f64)> {
    settings.validate().map_err(anyhow::Error::msg)?;
    let (model, optim) = engine.save()?;
    let result = ramp(engine, settings, data, observer);
    engine.load(model, optim).context("restoring the model after the range test")?;
    result
}

fn ramp(
    engine: &mut Engine,
    settings: &RangeTestSettings,
    data: &Cifar10,
    observer: &mut dyn Observer,
) -> anyhow::Result<(Recorder, f64)> {
    let start = std::time::Instant::now();
    let mut rec = Recorder::new(settings.ramp.clone());
    let total = settings.ramp.iterations;
    observer.on_start(0, total);
    let train = data.train.clone();
    let mut epoch = 0;
    let mut compute_s = 0.0;
    'outer: while !rec.is_done() {
        let order = epoch_order(train.len(), settings.seed, epoch);
        for batch in Prefetcher::new(train.clone(), order, settings.batch_size, 0) {
            let i = rec.points.len() as u64;
            let lr = settings.ramp.lr(i);
            let t = std::time::Instant::now();
            let r = engine.train_batch(&batch, lr, None);
            compute_s += t.elapsed().as_secs_f64();
            let acc = r.correct as f64 / r.size.max(1) as f64;
            let go_on = rec.record(lr, r.loss, acc);
            if let Some(p) = rec.points.last().filter(|p| p.iteration == i) {
                observer.on_batch(&BatchProgress {
                    step: i + 1,
                    total_steps: total,
                    epoch: epoch + 1,
                    lr,
                    loss: p.smoothed_loss,
                    accuracy: p.smoothed_accuracy,
                    images_per_s: (i + 1) as f64 * settings.batch_size as f64 / compute_s.max(1e-9),
                });
            }
            if go_on
                && let Some(k) = settings.eval_every
                && (i + 1).is_multiple_of(k)
            {
                let eval = engine.evaluate(&data.test, 500);
                rec.record_test_accuracy(eval.accuracy);
            }
            if !go_on || rec.is_done() {
                break 'outer;
            }
            if observer.should_stop() {
                rec.stop = Some(EarlyStop::Interrupted { iteration: i + 1 });
                break 'outer;
            }
        }
        epoch += 1;
    }
    if let Some(stop) = &rec.stop {
        observer.message(&stop.describe());
    }
    Ok((rec, start.elapsed().as_secs_f64()))
}

/// The whole range test on a fresh model: ramp, analysis, stepsize advice.
pub fn run_range_test(
    settings: &RangeTestSettings,
    data: &Cifar10,
    observer: &mut dyn Observer,
) -> anyhow::Result<RangeTestResult> {
    settings.validate().map_err(anyhow::Error::msg)?;
    let device = settings.backend.device().map_err(anyhow::Error::msg)?;
    // A fresh engine, dropped afterwards: nothing to restore, unlike run_on_engine.
    let mut engine = Engine::new(&settings.optimizer, settings.seed, device, settings.engine);
    let (rec, wall_s) = ramp(&mut engine, settings, data, observer)?;
    let analysis = analyze(&rec.points, rec.stop.as_ref());
    let per_epoch = data.train.steps_per_epoch(settings.batch_size);
    Ok(RangeTestResult {
        settings: settings.clone(),
        data: DataInfo {
            source: data.source.display().to_string(),
            train_images: data.train.len(),
            test_images: data.test.len(),
        },
        versions: Versions::current(),
        hardware: Hardware::current(settings.backend, settings.engine),
        early_stop: rec.stop,
        analysis,
        stepsize: stepsize_advice(per_epoch),
        wall_s,
        points: rec.points,
    })
}

/// The plot: smoothed (and held-out) accuracy against LR, the smoothed loss on the right
/// axis, the recommended band shaded and each rule's point marked.
pub fn chart(result: &RangeTestResult) -> Chart {
    let pts = &result.points;
    let mut chart = Chart::new(
        format!(
            "LR range test ({} ramp, {})",
            match result.settings.ramp.ramp {
                Ramp::Linear => "linear",
                Ramp::Exponential => "exponential",
            },
            result.settings.optimizer.name()
        ),
        "learning rate",
        "accuracy",
    );
    chart.log_x = result.settings.ramp.ramp == Ramp::Exponential;
    chart = chart.line(Series::new(
        "train accuracy (smoothed)",
        pts.iter().map(|p| (p.lr, p.smoothed_accuracy)).collect(),
    ));
    let held_out: Vec<(f64, f64)> =
        pts.iter().filter_map(|p| Some((p.lr, p.test_accuracy?))).collect();
    if !held_out.is_empty() {
        chart = chart.line(Series::new("test accuracy", held_out));
    }
    chart = chart.right_axis(
        "loss (smoothed)",
        vec![Series::new("loss (smoothed)", pts.iter().map(|p| (p.lr, p.smoothed_loss)).collect())],
    );
    if let Some(r) = &result.analysis.recommendation {
        chart.band = Some((r.base_lr, r.max_lr, format!("recommended {:.2e} - {:.2e}", r.base_lr, r.max_lr)));
    }
    for s in &result.analysis.suggestions {
        // On the accuracy curve at the suggested rate (some rules suggest a rate that is not
        // the one of the point they read, like fastai's minimum / 10).
        let y = pts
            .iter()
            .min_by(|a, b| (a.lr - s.lr).abs().total_cmp(&(b.lr - s.lr).abs()))
            .map(|p| p.smoothed_accuracy);
        chart.markers.push(Marker { label: format!("{} {:.2e}", s.rule, s.lr), x: s.lr, y });
    }
    chart
}

/// Writes `range_test.csv`, `range_test.json`, `range_test.png` and `range_test.svg`.
pub fn write_outputs(result: &RangeTestResult, out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["iteration", "lr", "loss", "accuracy", "smoothed_loss", "smoothed_accuracy", "test_accuracy"])?;
    for p in &result.points {
        w.write_record([
            p.iteration.to_string(),
            format!("{:?}", p.lr),
            format!("{:?}", p.loss),
            format!("{:?}", p.accuracy),
            format!("{:?}", p.smoothed_loss),
            format!("{:?}", p.smoothed_accuracy),
            p.test_accuracy.map(|a| format!("{a:?}")).unwrap_or_default(),
        ])?;
    }
    write_atomic(&out.join("range_test.csv"), &w.into_inner()?)?;
    write_atomic(&out.join("range_test.json"), serde_json::to_string_pretty(result)?.as_bytes())?;
    if result.points.is_empty() {
        return Ok(());
    }
    let c = chart(result);
    c.save(&out.join("range_test.png"))?;
    c.save(&out.join("range_test.svg"))?;
    Ok(())
}
