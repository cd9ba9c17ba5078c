//! `cyclr range-test`: find base and max learning rates instead of guessing them.

use crate::output::say;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use cyclr::range_test::{AccuracyCurve, EarlyStop, Ramp, RangeTestConfig};
use cyclr::{Policy, Schedule};
use cyclr_cifar::folder_lock::lock_folder;
use cyclr_cifar::range_test::{RangeTestResult, RangeTestSettings, run_range_test, write_outputs};
use cyclr_cifar::run_dir::new_dated_dir;

use crate::common::{DataArgs, OptimArgs, ProgressObserver, interrupt_flag, shell_quote};
use crate::error::{CliError, CliResult};
use crate::schedule_args::ScheduleArgs;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RampArg {
    /// A straight line (the paper).
    Linear,
    /// Geometric (fastai, torch-lr-finder); needs --min-lr above 0.
    Exp,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CurveArg {
    /// Held-out accuracy when --eval-every measured it, else the training batches'.
    Auto,
    /// The training batches' accuracy.
    Training,
    /// Held-out accuracy (needs --eval-every).
    HeldOut,
}

#[derive(Debug, Args)]
pub struct RangeTestCmd {
    /// First learning rate of the ramp.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub min_lr: f64,
    /// Last learning rate of the ramp.
    #[arg(long, default_value_t = 0.02, allow_negative_numbers = true)]
    pub max_lr: f64,
    /// Length of the ramp in epochs (default 3)...
    #[arg(long, conflicts_with = "iters")]
    pub epochs: Option<f64>,
    /// ...or in iterations.
    #[arg(long)]
    pub iters: Option<u64>,
    #[arg(long, value_enum, default_value = "linear")]
    pub ramp: RampArg,
    /// Also measure test accuracy every K iterations.
    #[arg(long, value_name = "K")]
    pub eval_every: Option<u64>,
    /// Which accuracy curve the paper's rule reads.
    #[arg(long, value_enum, default_value = "auto")]
    pub curve: CurveArg,
    #[arg(long, default_value_t = 100)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output folder (default: runs/range-test-<date>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace the result of an earlier range test in --out.
    #[arg(long)]
    pub overwrite: bool,
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub optim: OptimArgs,
}

pub fn run(cmd: RangeTestCmd) -> CliResult {
    let (backend, engine) = cmd.optim.device.setup()?;
    if !cmd.quiet {
        cmd.optim.device.note_threads(cmd.batch_size);
    }
    let optimizer = cmd.optim.config()?;
    if let Some(e) = cmd.epochs
        && !(e.is_finite() && e > 0.0)
    {
        return Err(CliError::usage(format!(
            "--epochs is {e}: give a positive number of epochs"
        )));
    }
    if matches!(cmd.curve, CurveArg::HeldOut) && cmd.eval_every.is_none() {
        return Err(CliError::usage(
            "--curve held-out reads held-out accuracy: give --eval-every K to measure it every K iterations",
        ));
    }
    let ramp = match cmd.ramp {
        RampArg::Linear => Ramp::Linear,
        RampArg::Exp => Ramp::Exponential,
    };
    // The ramp's length waits for the data's size; the rest is checked before loading 170 MB.
    let mut settings = RangeTestSettings {
        ramp: RangeTestConfig {
            curve: match cmd.curve {
                CurveArg::Auto => AccuracyCurve::Auto,
                CurveArg::Training => AccuracyCurve::Training,
                CurveArg::HeldOut => AccuracyCurve::HeldOut,
            },
            ..RangeTestConfig::new(cmd.min_lr, cmd.max_lr, cmd.iters.unwrap_or(2), ramp)
        },
        optimizer,
        batch_size: cmd.batch_size,
        seed: cmd.seed,
        eval_every: cmd.eval_every,
        backend,
        engine,
    };
    settings.validate()?;
    let data = cmd.data.load()?;
    let per_epoch = data.train.steps_per_epoch(cmd.batch_size);
    settings.ramp.iterations = cmd
        .iters
        .unwrap_or_else(|| (cmd.epochs.unwrap_or(3.0) * per_epoch as f64).round() as u64);
    settings.validate()?;
    // The output folder is claimed before the ramp: a folder that cannot be written, is in
    // use, or holds an earlier result is found out now, not after a long test.
    let out = match &cmd.out {
        Some(dir) => dir.clone(),
        None => new_dated_dir("range-test")?,
    };
    let _lock = lock_folder(&out)?;
    if out.join("range_test.json").is_file() && !cmd.overwrite {
        return Err(CliError::usage(format!(
            "{} already holds a range test: choose another --out, or add --overwrite to replace it",
            out.display()
        )));
    }
    let stop = interrupt_flag("stopping the ramp and keeping the points so far");
    let mut progress = ProgressObserver::new("range test", stop, cmd.quiet);
    let result = run_range_test(&settings, &data, &mut progress);
    progress.finish();
    let result = result?;
    write_outputs(&result, &out)?;
    print_summary(&result, &out);
    if let Some(EarlyStop::Interrupted { iteration }) = result.outcome.early_stop {
        return Err(CliError::Interrupted(format!(
            "interrupted at iteration {iteration} of {}: the points so far and their analysis \
             are in {} (no checkpoint: run the command again with --overwrite for the whole \
             ramp)",
            result.settings.ramp.iterations,
            out.display()
        )));
    }
    Ok(())
}

pub fn print_summary(r: &RangeTestResult, out: &Path) {
    say!(
        "range test: {} iterations, lr {} -> {} ({:?} ramp), {:.0} s",
        r.outcome.points.len(),
        r.settings.ramp.min_lr,
        r.settings.ramp.max_lr,
        r.settings.ramp.ramp,
        r.outcome.wall_s
    );
    if let Some(stop) = &r.outcome.early_stop {
        say!("  {}", stop.describe());
    }
    say!("suggestions:");
    for s in &r.outcome.analysis.suggestions {
        say!("  {:<17} {:>10.3e}  {}", s.rule, s.lr, s.description);
    }
    match &r.outcome.analysis.recommendation {
        Some(rec) => {
            say!(
                "recommended: base_lr {:.3e}, max_lr {:.3e} (from {})",
                rec.base_lr,
                rec.max_lr,
                rec.source
            );
            say!("  {}", rec.agreement);
            say!(
                "  confidence: {} ({})",
                rec.confidence,
                rec.confidence_reason
            );
        }
        None => say!("no recommendation: see the warnings and the plot"),
    }
    if let Some(st) = &r.outcome.stepsize {
        say!("stepsize: {} iterations; {}", st.suggested, st.note);
    }
    for w in &r.outcome.analysis.warnings {
        say!("warning: {w}");
    }
    let d = out.display();
    say!("wrote {d}/range_test.csv, {d}/range_test.json, {d}/range_test.png, {d}/range_test.svg");
    if let Some(rec) = &r.outcome.analysis.recommendation {
        // The data and subset the test ran on, so the hint works as printed.
        let mut data = format!("--data {}", shell_quote(&r.data.source));
        if r.data.train_images < 50_000 || r.data.test_images < 10_000 {
            data += &format!(
                " --train-limit {} --test-limit {}",
                r.data.train_images, r.data.test_images
            );
        }
        // --from-range-test carries the optimizer and batch size; the expansion names them.
        let mut same = OptimArgs::flags_of(&r.settings.optimizer);
        if r.settings.batch_size != 100 {
            same += &format!(" --batch-size {}", r.settings.batch_size);
        }
        let json = shell_quote(&format!("{d}/range_test.json"));
        say!(
            "next: cyclr train {data} --from-range-test {json}  (= {same} --policy triangular --base-lr {:.3e} --max-lr {:.3e} --step-size-up {})",
            rec.base_lr,
            rec.max_lr,
            r.suggested_stepsize()
        );
    }
}

/// A cyclical schedule with base, max and stepsize taken from a range test.
pub fn schedule_from_range_test(
    path: &Path,
    policy: Option<Policy>,
    args: &ScheduleArgs,
) -> CliResult<(Schedule, RangeTestResult)> {
    let r = RangeTestResult::read(path).map_err(|e| CliError::usage(format!("{e:#}")))?;
    let rec = r.outcome.analysis.recommendation.as_ref().ok_or_else(|| {
        let why = r.outcome.analysis.warnings_line();
        let why = if why.is_empty() {
            String::new()
        } else {
            format!(" ({why})")
        };
        CliError::usage(format!(
            "{} has no recommendation{why}: read its plot and give --policy, --base-lr and \
             --max-lr yourself",
            path.display(),
        ))
    })?;
    let policy = policy.unwrap_or(Policy::Triangular);
    if policy.cyclic_mode().is_none() {
        return Err(CliError::usage(format!(
            "--from-range-test sets a cyclical schedule: use --policy {}, not {policy}",
            cyclr::CyclicMode::ALL.map(|m| m.name()).join(", ")
        )));
    }
    if args.base_lr.is_some() || args.max_lr.is_some() {
        return Err(CliError::usage(
            "--base-lr/--max-lr conflict with --from-range-test, which sets them",
        ));
    }
    let mut merged = args.clone();
    merged.base_lr = Some(rec.base_lr);
    merged.max_lr = Some(rec.max_lr);
    merged.step_size_up = Some(args.step_size_up.unwrap_or(r.suggested_stepsize()));
    let s = merged.schedules(&[policy])?.remove(0);
    Ok((s, r))
}
