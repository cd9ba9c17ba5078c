//! Training the reference CNN on CIFAR-10 under any schedule: metrics, checkpoints,
//! resumption, interruption and divergence.
//!
//! Files in the run folder:
//! - `metrics.csv`: one row per evaluation, appended whole as it happens;
//! - `checkpoint.bin`: model, optimizer, position and metrics so far, replaced atomically;
//! - `run.json`: config, versions, hardware, status and final figures;
//! - `training.png` / `training.svg`: accuracy and learning rate against iterations.

mod checkpoint;
mod config;

use std::path::Path;
use std::time::Instant;

use anyhow::Context;

use crate::error::{AppResult, input_bail};
use burn::lr_scheduler::LrScheduler;
use cyclr_burn::scheduler::CyclrScheduler;

pub use checkpoint::{CHECKPOINT_FILE, finished_summary, has_checkpoint, load_run, load_summary};
pub use config::TrainConfig;

use crate::charts::training_chart;
use crate::data::{Dataset, Prefetcher, epoch_order};
use crate::engine::Engine;
use crate::environment::{Hardware, Versions};
use crate::io::write_atomic;
use crate::measure::Evaluation;
use crate::observer::{BatchProgress, Observer};
use crate::run_record::{
    METRICS_FILE, MetricsRow, RUN_FILE, RunRecord, RunStatus, RunSummary, append_metrics,
    rewrite_metrics,
};
use checkpoint::{Checkpoint, Position, Window, read_checkpoint, summary_of, write_checkpoint};

/// Trains according to `config` in `out`, resuming from `out`'s checkpoint when `resume`.
///
/// Returns when the run finishes, diverges (non-finite loss: the last good checkpoint and
/// every metric so far are kept) or is stopped by the observer (a checkpoint is written at
/// the current batch, so nothing is lost).
pub fn train(
    config: &TrainConfig,
    data: &dyn Dataset,
    out: &Path,
    resume: bool,
    observer: &mut dyn Observer,
) -> AppResult<RunSummary> {
    config.validate()?;
    let device = config.backend.device()?;
    let engine = Engine::new(&config.optimizer, config.seed, device, config.engine);
    train_model(engine, config, data, out, resume, observer)
}

/// [`train`] with a model of the caller's own ([`Engine::of`] any
/// [`TrainableModel`](crate::engine::TrainableModel), e.g. a burn
/// [`Classifier`](crate::engine::Classifier)): the same schedule, metrics, checkpoints,
/// resumption and divergence handling. `config`'s optimizer, engine and backend describe
/// the run; the model brings its own.
pub fn train_model(
    mut engine: Engine,
    config: &TrainConfig,
    data: &dyn Dataset,
    out: &Path,
    resume: bool,
    observer: &mut dyn Observer,
) -> AppResult<RunSummary> {
    config.validate()?;
    if data.train().is_empty() || data.test().is_empty() {
        return Err(anyhow::anyhow!("the training and test sets must not be empty").into());
    }
    // Before anything is written: a length that overflows or would never end is refused.
    config.total_steps(data.train().len())?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    // One writer per folder, for as long as this runs.
    let _lock = crate::folder_lock::lock_folder(out)?;
    let ckpt_path = out.join(CHECKPOINT_FILE);
    let metrics_path = out.join(METRICS_FILE);
    let data_info = data.info();

    let mut position = if resume && ckpt_path.is_file() {
        let c = read_checkpoint(&ckpt_path)?;
        let mut stored = c.position.config.clone();
        // Only the length of the run may change on resumption.
        stored.epochs = config.epochs;
        stored.max_steps = config.max_steps;
        if stored != *config {
            input_bail!(
                "{} holds a run with a different configuration; resume it with its own settings \
                 ({resume} {} alone) or choose another {out}",
                out.display(),
                out.display()
            );
        }
        if c.position.data.train_images != data_info.train_images
            || c.position.data.test_images != data_info.test_images
        {
            input_bail!(
                "{} was trained on {} training and {} test images, but {} and {} were given: use \
                 the same {train_limit} and {test_limit}",
                out.display(),
                c.position.data.train_images,
                c.position.data.test_images,
                data_info.train_images,
                data_info.test_images
            );
        }
        // The same images, not only as many: a run's checkpoint names the digest of its data.
        if let (Some(then), Some(now)) = (&c.position.data.sha256, &data_info.sha256)
            && then != now
        {
            input_bail!(
                "the data given ({}) is not the data {} was trained on ({}): same counts, other \
                 images. Resume with the run's own data (leave {data} out to use it)",
                data_info.source,
                out.display(),
                c.position.data.source
            );
        }
        engine
            .load(c.model, c.optim)
            .context("restoring the checkpoint")?;
        let mut p = c.position;
        // The length may change (more epochs to extend a run): said, and kept in run.json.
        let (then, now) = (&p.config, config);
        if then.epochs != now.epochs || then.max_steps != now.max_steps {
            let steps = |m: Option<u64>| m.map_or("none".to_string(), |m| m.to_string());
            let change = format!(
                "resumed at iteration {} with epochs {} -> {}, max steps {} -> {}",
                p.step,
                then.epochs,
                now.epochs,
                steps(then.max_steps),
                steps(now.max_steps)
            );
            observer.message(&change);
            p.changes.push(change);
        }
        p.config = config.clone();
        p.status = RunStatus::Running;
        // Rows after the checkpoint belong to work that is being redone.
        rewrite_metrics(&metrics_path, &p.metrics)?;
        observer.message(&format!(
            "resuming {} at iteration {}",
            out.display(),
            p.step
        ));
        p
    } else {
        if ckpt_path.is_file() {
            input_bail!(
                "{} already holds a run: pass {resume} {} to continue it, or choose another {out}",
                out.display(),
                out.display()
            );
        }
        // A metrics.csv that no run of ours wrote (no run.json beside it) is someone's
        // data: not overwritten unasked.
        if metrics_path.is_file() && !out.join(RUN_FILE).is_file() {
            input_bail!(
                "{} holds a metrics.csv that no cyclr run wrote (there is no run.json): choose \
                 another {out}, or move that file away",
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
            changes: Vec::new(),
        }
    };

    let train_len = data.train().len();
    let steps_per_epoch = config.steps_per_epoch(train_len);
    let total_steps = config.total_steps(train_len)?;
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
            changes: p.changes.clone(),
        };
        write_atomic(
            &out.join(RUN_FILE),
            serde_json::to_string_pretty(&record)?.as_bytes(),
        )
    };
    let save = |engine: &Engine, p: &Position, note: Option<String>| -> anyhow::Result<()> {
        let (model, optim) = engine.save()?;
        write_checkpoint(
            &ckpt_path,
            &Checkpoint {
                position: p.clone(),
                model,
                optim,
            },
        )?;
        write_run(p, note)?;
        let title = format!(
            "{} with {}",
            p.config.schedule.policy(),
            p.config.optimizer.name()
        );
        // The chart is a convenience: failing to draw it must not fail the run.
        if let Err(e) = training_chart(
            &title,
            &p.metrics,
            &p.config.schedule,
            total_steps.max(p.step),
        )
        .save(&out.join("training.png"))
        {
            // stderr may be closed or full: the run goes on either way.
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "warning: {e}");
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

    let train = data.train().clone();
    let session_start = Instant::now();
    let elapsed_before = position.elapsed_s;
    // The crate's own scheduler, as burn's Learner would drive it: it sets the momentum
    // (through the engine's handle) when the schedule cycles it, and gives the rate.
    let mut scheduler =
        CyclrScheduler::with_momentum(config.schedule.clone(), engine.momentum().clone())
            .at_step(position.step);

    while position.step < total_steps {
        let epoch = position.step / steps_per_epoch;
        let skip = (position.step % steps_per_epoch) as usize;
        let order = epoch_order(train_len, config.seed, epoch);
        let batches = Prefetcher::new(train.clone(), order, config.batch_size, skip);
        for batch in batches {
            let step = position.step;
            debug_assert_eq!(scheduler.next_step(), step);
            let lr = scheduler.step();
            let t = Instant::now();
            let r = engine.train_batch(&batch, lr);
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
            let momentum = engine.momentum().get();
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
                let eval = engine.evaluate(data.test(), 500);
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
                    "interrupted at iteration {step}; a checkpoint was saved in {}",
                    out.display()
                );
                save(&engine, &position, Some(note.clone()))?;
                return Ok(summary_of(&position, Some(note)));
            }
        }
    }
    Ok(summary_of(&position, None))
}

fn metrics_row(
    p: &Position,
    eval: Evaluation,
    lr: f64,
    momentum: f64,
    steps_per_epoch: u64,
) -> MetricsRow {
    let w = p.window;
    let images = w.images.max(1) as f64;
    MetricsRow {
        step: p.step,
        epoch: p.step as f64 / steps_per_epoch as f64,
        lr,
        momentum,
        train_loss: if w.images > 0 {
            w.loss_sum / images
        } else {
            f64::NAN
        },
        train_accuracy: if w.images > 0 {
            w.correct as f64 / images
        } else {
            f64::NAN
        },
        test_loss: eval.loss,
        test_accuracy: eval.accuracy,
        elapsed_s: p.elapsed_s,
        images_per_s: if w.compute_s > 0.0 {
            w.images as f64 / w.compute_s
        } else {
            0.0
        },
    }
}
