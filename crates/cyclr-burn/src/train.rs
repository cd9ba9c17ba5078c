//! Training the reference CNN on CIFAR-10 under any schedule: metrics, checkpoints,
//! resumption, interruption and divergence.
//!
//! Files in the run folder:
//! - `metrics.csv`: one row per evaluation, appended whole as it happens;
//! - `checkpoint.bin`: model, optimizer, position and metrics so far, replaced atomically;
//! - `run.json`: config, versions, hardware, status and final figures;
//! - `training.png` / `training.svg`: accuracy and learning rate against iterations.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use cyclr::plot::{Chart, Series};
use cyclr::{LrSchedule, Schedule};
use serde::{Deserialize, Serialize};

use crate::data::{Cifar10, Prefetcher, epoch_order};
use crate::engine::{Backend, Engine, EngineKind, Evaluation};
use crate::io::write_atomic;
use crate::optim::OptimizerConfig;

/// Everything that determines a run's numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub schedule: Schedule,
    pub optimizer: OptimizerConfig,
    pub epochs: u64,
    /// Stop after this many iterations even if epochs remain (iteration budgets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<u64>,
    pub batch_size: usize,
    pub seed: u64,
    /// Evaluate every this many iterations, besides every epoch end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_every: Option<u64>,
    #[serde(default)]
    pub backend: Backend,
    /// Fused CPU kernels or burn's ops.
    #[serde(default)]
    pub engine: EngineKind,
}

impl TrainConfig {
    pub fn new(schedule: Schedule, optimizer: OptimizerConfig) -> Self {
        Self {
            schedule,
            optimizer,
            epochs: 1,
            max_steps: None,
            batch_size: 100,
            seed: 0,
            eval_every: None,
            backend: Backend::Flex,
            engine: EngineKind::Fused,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.epochs == 0 {
            return Err("--epochs is 0: give at least 1".into());
        }
        if self.batch_size == 0 {
            return Err("--batch-size is 0: give at least 1 (the paper uses 100)".into());
        }
        if self.max_steps == Some(0) {
            return Err("--max-steps is 0: give at least 1".into());
        }
        if self.eval_every == Some(0) {
            return Err("--eval-every is 0: give a number of iterations, or leave it out".into());
        }
        self.engine.check(self.backend)?;
        self.optimizer.validate()
    }

    pub fn steps_per_epoch(&self, train_len: usize) -> u64 {
        train_len.div_ceil(self.batch_size) as u64
    }

    /// The iteration at which the run ends.
    pub fn total_steps(&self, train_len: usize) -> u64 {
        let by_epochs = self.epochs * self.steps_per_epoch(train_len);
        self.max_steps.map_or(by_epochs, |m| m.min(by_epochs))
    }
}

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
    pub train_accuracy: f64,
    pub test_loss: f64,
    pub test_accuracy: f64,
    /// Wall-clock seconds of the run so far, across resumptions.
    pub elapsed_s: f64,
    /// Training throughput since the previous row, evaluation excluded.
    pub images_per_s: f64,
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Finished,
    Interrupted,
    Diverged,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub status: RunStatus,
    pub steps: u64,
    pub final_test_accuracy: Option<f64>,
    pub best_test_accuracy: Option<f64>,
    pub final_test_loss: Option<f64>,
    /// Training wall time, evaluation included, across resumptions.
    pub wall_s: f64,
    /// A sentence for the user when the run did not finish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub metrics: Vec<MetricsRow>,
}

/// `run.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    pub config: TrainConfig,
    pub data: DataInfo,
    pub versions: Versions,
    pub hardware: Hardware,
    pub status: RunStatus,
    pub steps: u64,
    pub total_steps: u64,
    pub final_test_accuracy: Option<f64>,
    pub best_test_accuracy: Option<f64>,
    pub final_test_loss: Option<f64>,
    pub wall_s: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    pub source: String,
    pub train_images: usize,
    pub test_images: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Versions {
    pub cyclr: String,
    pub burn: String,
}

impl Versions {
    pub fn current() -> Self {
        Self {
            cyclr: env!("CARGO_PKG_VERSION").into(),
            burn: "0.22.1".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hardware {
    pub cpu: String,
    pub logical_cores: usize,
    pub threads: usize,
    pub os: String,
    pub backend: String,
    #[serde(default)]
    pub engine: String,
}


impl Hardware {
    pub fn current(backend: Backend, engine: EngineKind) -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|m| m.trim().to_string())
            })
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            cpu,
            logical_cores: cores,
            threads: rayon_threads(),
            os: std::env::consts::OS.into(),
            backend: backend.name().into(),
            engine: engine.name().into(),
        }
    }

    pub fn describe(&self) -> String {
        let engine = if self.engine == "burn" {
            format!("burn {} backend", self.backend)
        } else {
            "cyclr's fused CPU kernels".to_string()
        };
        format!("{} ({} logical cores, {} threads), {}, {engine}", self.cpu, self.logical_cores, self.threads, self.os)
    }
}

/// Threads burn's CPU backend and the fused kernels use: rayon's global pool.
pub fn rayon_threads() -> usize {
    rayon::current_num_threads()
}

pub const METRICS_FILE: &str = "metrics.csv";
pub const CHECKPOINT_FILE: &str = "checkpoint.bin";
pub const RUN_FILE: &str = "run.json";

const CHECKPOINT_MAGIC: &[u8; 8] = b"CYCLRCK1";

/// Where a run stands: what a checkpoint restores besides the weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Position {
    config: TrainConfig,
    data: DataInfo,
    /// Iterations done.
    step: u64,
    /// Sums over the batches since the last evaluation.
    window: Window,
    elapsed_s: f64,
    metrics: Vec<MetricsRow>,
    status: RunStatus,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct Window {
    loss_sum: f64,
    correct: u64,
    images: u64,
    batches: u64,
    compute_s: f64,
}

struct Checkpoint {
    position: Position,
    model: Vec<u8>,
    optim: Vec<u8>,
}

fn write_checkpoint(path: &Path, c: &Checkpoint) -> anyhow::Result<()> {
    let header = serde_json::to_vec(&c.position)?;
    let mut bytes = Vec::with_capacity(32 + header.len() + c.model.len() + c.optim.len());
    bytes.extend_from_slice(CHECKPOINT_MAGIC);
    for part in [&header, &c.model, &c.optim] {
        bytes.extend_from_slice(&(part.len() as u64).to_le_bytes());
        bytes.extend_from_slice(part);
    }
    write_atomic(path, &bytes)
}

fn read_checkpoint(path: &Path) -> anyhow::Result<Checkpoint> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .with_context(|| format!("reading checkpoint {}", path.display()))?;
    let damaged = |what: &str| {
        anyhow::anyhow!(
            "checkpoint {} is damaged ({what}); delete the run folder to start over",
            path.display()
        )
    };
    if bytes.len() < 8 || &bytes[..8] != CHECKPOINT_MAGIC {
        return Err(damaged("not a cyclr checkpoint"));
    }
    let mut rest = &bytes[8..];
    let mut parts = Vec::new();
    for _ in 0..3 {
        if rest.len() < 8 {
            return Err(damaged("truncated"));
        }
        let len = u64::from_le_bytes(rest[..8].try_into().unwrap()) as usize;
        rest = &rest[8..];
        if rest.len() < len {
            return Err(damaged("truncated"));
        }
        parts.push(rest[..len].to_vec());
        rest = &rest[len..];
    }
    let position: Position =
        serde_json::from_slice(&parts[0]).map_err(|e| damaged(&format!("bad header: {e}")))?;
    let optim = parts.pop().unwrap();
    let model = parts.pop().unwrap();
    Ok(Checkpoint { position, model, optim })
}

/// Whether `dir` holds a run that can be resumed.
pub fn has_checkpoint(dir: &Path) -> bool {
    dir.join(CHECKPOINT_FILE).is_file()
}

/// The summary stored in a run folder's checkpoint, if any.
pub fn load_summary(dir: &Path) -> anyhow::Result<Option<RunSummary>> {
    if !has_checkpoint(dir) {
        return Ok(None);
    }
    let c = read_checkpoint(&dir.join(CHECKPOINT_FILE))?;
    Ok(Some(summary_of(&c.position, None)))
}

/// How a run that has ended (finished or diverged) ended, from its `run.json` and
/// `metrics.csv`; `None` while it can still go on. Unlike [`load_summary`], this holds for
/// a diverged run what it returned at the time: the checkpoint keeps the last good
/// weights, and a run that diverged before its first epoch end has no checkpoint at all.
pub fn load_outcome(dir: &Path) -> anyhow::Result<Option<RunSummary>> {
    let path = dir.join(RUN_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let run: RunRecord =
        serde_json::from_str(&text).with_context(|| format!("{} is damaged: delete the run folder", path.display()))?;
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

/// The config stored in a run folder's checkpoint.
pub fn load_config(dir: &Path) -> anyhow::Result<TrainConfig> {
    Ok(read_checkpoint(&dir.join(CHECKPOINT_FILE))?.position.config)
}

fn summary_of(p: &Position, note: Option<String>) -> RunSummary {
    RunSummary {
        status: p.status,
        steps: p.step,
        final_test_accuracy: p.metrics.last().map(|m| m.test_accuracy),
        best_test_accuracy: p.metrics.iter().map(|m| m.test_accuracy).reduce(f64::max),
        final_test_loss: p.metrics.last().map(|m| m.test_loss),
        wall_s: p.elapsed_s,
        note,
        metrics: p.metrics.clone(),
    }
}

fn append_metrics(path: &Path, row: &MetricsRow) -> anyhow::Result<()> {
    let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
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
fn rewrite_metrics(path: &Path, rows: &[MetricsRow]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    if rows.is_empty() {
        w.write_record([
            "step", "epoch", "lr", "momentum", "train_loss", "train_accuracy", "test_loss",
            "test_accuracy", "elapsed_s", "images_per_s",
        ])?;
    }
    for r in rows {
        w.serialize(r)?;
    }
    write_atomic(path, &w.into_inner()?)
}

/// The training chart: test and train accuracy, and the learning rate on a second axis.
pub fn training_chart(title: &str, metrics: &[MetricsRow], schedule: &Schedule, steps: u64) -> Chart {
    let lr: Vec<(f64, f64)> =
        cyclr::plot::sample_steps(steps.max(1), 2000).into_iter().map(|s| (s as f64, schedule.lr(s))).collect();
    Chart::new(title, "iteration", "accuracy")
        .line(Series::new("test accuracy", metrics.iter().map(|m| (m.step as f64, m.test_accuracy)).collect()))
        .line(Series::new("train accuracy", metrics.iter().map(|m| (m.step as f64, m.train_accuracy)).collect()))
        .right_axis("learning rate", vec![Series::new("learning rate", lr)])
}

/// Trains according to `config` in `out`, resuming from `out`'s checkpoint when `resume`.
///
/// Returns when the run finishes, diverges (non-finite loss: the last good checkpoint and
/// every metric so far are kept) or is stopped by the observer (a checkpoint is written at
/// the current batch, so nothing is lost).
pub fn train(
    config: &TrainConfig,
    data: &Cifar10,
    out: &Path,
    resume: bool,
    observer: &mut dyn Observer,
) -> anyhow::Result<RunSummary> {
    config.validate().map_err(anyhow::Error::msg)?;
    if data.train.is_empty() || data.test.is_empty() {
        bail!("the training and test sets must not be empty");
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let ckpt_path = out.join(CHECKPOINT_FILE);
    let metrics_path = out.join(METRICS_FILE);
    let data_info = DataInfo {
        source: data.source.display().to_string(),
        train_images: data.train.len(),
        test_images: data.test.len(),
    };
    let device = config.backend.device().map_err(anyhow::Error::msg)?;
    let mut engine = Engine::new(&config.optimizer, config.seed, device, config.engine);

    let mut position = if resume && ckpt_path.is_file() {
        let c = read_checkpoint(&ckpt_path)?;
        let mut stored = c.position.config.clone();
        // Only the length of the run may change on resumption.
        stored.epochs = config.epochs;
        stored.max_steps = config.max_steps;
        if stored != *config {
            bail!(
                "{} holds a run with a different configuration; resume it with its own settings \
                 (`cyclr train --resume {}`) or choose another --out",
                out.display(),
                out.display()
            );
        }
        if c.position.data.train_images != data_info.train_images
            || c.position.data.test_images != data_info.test_images
        {
            bail!(
                "{} was trained on {} training and {} test images, but {} and {} were given: use \
                 the same --train-limit and --test-limit",
                out.display(),
                c.position.data.train_images,
                c.position.data.test_images,
                data_info.train_images,
                data_info.test_images
            );
        }
        engine.load(c.model, c.optim).context("restoring the checkpoint")?;
        let mut p = c.position;
        p.config = config.clone();
        p.status = RunStatus::Running;
        // Rows after the checkpoint belong to work that is being redone.
        rewrite_metrics(&metrics_path, &p.metrics)?;
        observer.message(&format!("resuming {} at iteration {}", out.display(), p.step));
        p
    } else {
        if ckpt_path.is_file() {
            bail!(
                "{} already holds a run: pass --resume {} to continue it, or choose another --out",
                out.display(),
                out.display()
            );
        }
        rewrite_metrics(&metrics_path, &[])?;
        Position {
            config: config.clone(),
            data: data_info.clone(),
            step: 0,
            window: Window::default(),
            elapsed_s: 0.0,
            metrics: Vec::new(),
            status: RunStatus::Running,
        }
    };

    let train_len = data.train.len();
    let steps_per_epoch = config.steps_per_epoch(train_len);
    let total_steps = config.total_steps(train_len);
    let hardware = Hardware::current(config.backend, config.engine);
    let write_run = |p: &Position, note: Option<String>| -> anyhow::Result<()> {
        let s = summary_of(p, note.clone());
        let record = RunRecord {
            config: p.config.clone(),
            data: p.data.clone(),
            versions: Versions::current(),
            hardware: hardware.clone(),
            status: p.status,
            steps: p.step,
            total_steps,
            final_test_accuracy: s.final_test_accuracy,
            best_test_accuracy: s.best_test_accuracy,
            final_test_loss: s.final_test_loss,
            wall_s: p.elapsed_s,
            note,
        };
        write_atomic(&out.join(RUN_FILE), serde_json::to_string_pretty(&record)?.as_bytes())
    };
    let save = |engine: &Engine, p: &Position, note: Option<String>| -> anyhow::Result<()> {
        let (model, optim) = engine.save()?;
        write_checkpoint(&ckpt_path, &Checkpoint { position: p.clone(), model, optim })?;
        write_run(p, note)?;
        let title = format!("{} with {}", p.config.schedule.policy(), p.config.optimizer.name());
        // The chart is a convenience: failing to draw it must not fail the run.
        if let Err(e) = training_chart(&title, &p.metrics, &p.config.schedule, total_steps.max(p.step))
            .save(&out.join("training.png"))
        {
            eprintln!("warning: {e}");
        }
        Ok(())
    };

    if position.step >= total_steps {
        position.status = RunStatus::Finished;
        write_run(&position, None)?;
        return Ok(summary_of(&position, None));
    }
    if position.step == 0 {
        write_run(&position, None)?;
    }
    observer.on_start(position.step, total_steps);

    let train = data.train.clone();
    let session_start = Instant::now();
    let elapsed_before = position.elapsed_s;
    let schedule = &config.schedule;

    while position.step < total_steps {
        let epoch = position.step / steps_per_epoch;
        let skip = (position.step % steps_per_epoch) as usize;
        let order = epoch_order(train_len, config.seed, epoch);
        let batches = Prefetcher::new(train.clone(), order, config.batch_size, skip);
        for batch in batches {
            let step = position.step;
            let lr = schedule.lr(step);
            let momentum = schedule.momentum(step);
            let t = Instant::now();
            let r = engine.train_batch(&batch, lr, momentum);
            let dt = t.elapsed().as_secs_f64();
            if !r.loss.is_finite() {
                position.elapsed_s = elapsed_before + session_start.elapsed().as_secs_f64();
                position.status = RunStatus::Diverged;
                let note = format!(
                    "the loss became {} at iteration {step} (learning rate {lr:.3e}): the run \
                     stopped; metrics so far and the last good checkpoint are kept. Lower the \
                     maximum learning rate",
                    r.loss
                );
                // The checkpoint keeps the last good weights; only the status changes.
                if ckpt_path.is_file() {
                    let mut c = read_checkpoint(&ckpt_path)?;
                    c.position.status = RunStatus::Diverged;
                    write_checkpoint(&ckpt_path, &c)?;
                }
                write_run(&position, Some(note.clone()))?;
                return Ok(summary_of(&position, Some(note)));
            }
            let momentum = momentum.unwrap_or_else(|| engine.momentum.get());
            let w = &mut position.window;
            w.loss_sum += r.loss * r.size as f64;
            w.correct += r.correct as u64;
            w.images += r.size as u64;
            w.batches += 1;
            w.compute_s += dt;
            position.step += 1;
            let step = position.step;
            observer.on_batch(&BatchProgress {
                step,
                total_steps,
                epoch: epoch + 1,
                lr,
                loss: r.loss,
                accuracy: w.correct as f64 / w.images.max(1) as f64,
                images_per_s: w.images as f64 / w.compute_s.max(1e-9),
            });

            let epoch_end = step % steps_per_epoch == 0;
            let last = step == total_steps;
            let periodic = config.eval_every.is_some_and(|k| step % k == 0);
            if epoch_end || last || periodic {
                let eval = engine.evaluate(&data.test, 500);
                position.elapsed_s = elapsed_before + session_start.elapsed().as_secs_f64();
                let row = metrics_row(&position, eval, lr, momentum, steps_per_epoch);
                position.window = Window::default();
                append_metrics(&metrics_path, &row)?;
                position.metrics.push(row.clone());
                observer.on_eval(&row);
            }
            if last {
                position.status = RunStatus::Finished;
            }
            if epoch_end || last {
                save(&engine, &position, None)?;
            }
            if last {
                break;
            }
            if observer.should_stop() {
                position.elapsed_s = elapsed_before + session_start.elapsed().as_secs_f64();
                position.status = RunStatus::Interrupted;
                let note = format!(
                    "interrupted at iteration {step}; a checkpoint was saved: continue with \
                     `cyclr train --resume {}`",
                    out.display()
                );
                save(&engine, &position, Some(note.clone()))?;
                return Ok(summary_of(&position, Some(note)));
            }
        }
    }
    Ok(summary_of(&position, None))
}

fn metrics_row(p: &Position, eval: Evaluation, lr: f64, momentum: f64, steps_per_epoch: u64) -> MetricsRow {
    let w = p.window;
    let images = w.images.max(1) as f64;
    MetricsRow {
        step: p.step,
        epoch: p.step as f64 / steps_per_epoch as f64,
        lr,
        momentum,
        train_loss: if w.images > 0 { w.loss_sum / images } else { f64::NAN },
        train_accuracy: if w.images > 0 { w.correct as f64 / images } else { f64::NAN },
        test_loss: eval.loss,
        test_accuracy: eval.accuracy,
        elapsed_s: p.elapsed_s,
        images_per_s: if w.compute_s > 0.0 { w.images as f64 / w.compute_s } else { 0.0 },
    }
}

/// Reads a run folder's `metrics.csv`.
pub fn read_metrics(dir: &Path) -> anyhow::Result<Vec<MetricsRow>> {
    let path = dir.join(METRICS_FILE);
    let mut r = csv::Reader::from_path(&path).with_context(|| format!("reading {}", path.display()))?;
    r.deserialize()
        .collect::<Result<Vec<MetricsRow>, _>>()
        .with_context(|| format!("parsing {}", path.display()))
}

/// The default run folder: `runs/<what>-<UTC date and time>`.
pub fn dated_dir(what: &str) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, mo, d, h, mi, s) = civil(secs);
    PathBuf::from("runs").join(format!("{what}-{y:04}{mo:02}{d:02}-{h:02}{mi:02}{s:02}"))
}

/// UTC calendar date and time of a Unix timestamp (Howard Hinnant's days-to-civil).
pub fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, (rem / 3600) as u32, (rem % 3600 / 60) as u32, (rem % 60) as u32)
}
