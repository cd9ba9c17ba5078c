//! `cyclr train`: train the reference CNN on CIFAR-10 under any schedule.

use crate::output::{note, say};
use std::path::PathBuf;

use clap::Args;
use cyclr::Policy;
use cyclr_cifar::run_dir::new_dated_dir;
use cyclr_cifar::run_record::{RunStatus, RunSummary};
use cyclr_cifar::train::{TrainConfig, load_run, train};

use crate::common::{DataArgs, OptimArgs, ProgressObserver, interrupt_flag, shell_quote};
use crate::error::{CliError, CliResult};
use crate::schedule_args::{ScheduleArgs, parse_policy, schedule_from};

#[derive(Debug, Args)]
pub struct TrainCmd {
    #[arg(long, value_parser = parse_policy, help = format!("Schedule policy: {}", Policy::names()))]
    pub policy: Option<Policy>,
    /// Read the schedule from a TOML (or .json) file instead of flags.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Take base and max learning rates and the stepsize from a range test's
    /// range_test.json (policy triangular unless --policy is given).
    #[arg(long, value_name = "FILE", conflicts_with = "config")]
    pub from_range_test: Option<PathBuf>,
    /// Epochs to train (default 10; with --resume, the run's own unless given, which
    /// extends or shortens it).
    #[arg(long)]
    pub epochs: Option<u64>,
    /// Stop after this many iterations (an iteration budget), even if epochs remain.
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// Images per batch (default 100, the paper's; with --from-range-test, the range
    /// test's).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Seed for weights and shuffling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also evaluate on the test set every K iterations.
    #[arg(long, value_name = "K")]
    pub eval_every: Option<u64>,
    /// Run folder (default: runs/train-<date>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Continue the run in DIR from its last checkpoint (with its own settings; only
    /// --epochs and --max-steps may change).
    #[arg(long, value_name = "DIR", conflicts_with_all = [
        "policy", "config", "from_range_test", "out", "batch_size", "seed", "eval_every",
        "optimizer", "momentum", "weight_decay", "device", "engine",
    ])]
    pub resume: Option<PathBuf>,
    /// No progress bar or per-evaluation lines.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub optim: OptimArgs,
    #[command(flatten)]
    pub schedule: ScheduleArgs,
}

pub fn run(mut cmd: TrainCmd) -> CliResult {
    // A resumed run continues on the thread count it was made with.
    if let Some(dir) = &cmd.resume
        && let Ok((run, _)) = load_run(dir)
    {
        let what = dir.display().to_string();
        cmd.optim.device.keep_threads(run.threads, &what)?;
    }
    let (backend, engine) = cmd.optim.device.setup()?;
    let mut resume_data = None;
    let (config, out, resume) = match &cmd.resume {
        Some(dir) => {
            if !cyclr_cifar::train::has_checkpoint(dir) {
                // A run stopped before its first epoch end has a run.json but no checkpoint.
                let why = if dir.join("run.json").is_file() {
                    "the run there stopped before its first checkpoint (written at each epoch \
                     end), so there is nothing to continue: run the original command again, \
                     which starts it over"
                } else {
                    "no checkpoint there (a run writes checkpoint.bin at each epoch end)"
                };
                return Err(CliError::usage(format!(
                    "--resume {}: {why}",
                    dir.display()
                )));
            }
            if !cmd.schedule.is_empty() {
                return Err(CliError::usage(
                    "schedule flags conflict with --resume: a resumed run keeps its own schedule",
                ));
            }
            // The run folder is enough: settings and data come from the run itself; a flag
            // given must agree with it, except the length (--epochs, --max-steps).
            let (mut config, data_info) = load_run(dir)?;
            config.epochs = cmd.epochs.unwrap_or(config.epochs);
            config.max_steps = cmd.max_steps.or(config.max_steps);
            config.validate()?;
            for (flag, given, then) in [
                (
                    "--train-limit",
                    cmd.data.train_limit,
                    data_info.train_images,
                ),
                ("--test-limit", cmd.data.test_limit, data_info.test_images),
            ] {
                if let Some(n) = given.filter(|&n| n != then) {
                    return Err(CliError::usage(format!(
                        "{flag} {n}: {} was trained on {then}; leave {flag} out to use the run's own",
                        dir.display()
                    )));
                }
            }
            resume_data = Some(data_info);
            (config, Some(dir.clone()), true)
        }
        None => {
            let (schedule, optimizer, batch_size) = match &cmd.from_range_test {
                // The bounds were found with the test's optimizer and batch size: they come
                // with it, and other ones are refused rather than trained at its bounds.
                Some(path) => {
                    let (schedule, tested) = crate::cmd_range_test::schedule_from_range_test(
                        path,
                        cmd.policy,
                        &cmd.schedule,
                    )?;
                    let optimizer = &tested.settings.optimizer;
                    if cmd.optim.is_given() && cmd.optim.config()? != *optimizer {
                        return Err(CliError::usage(format!(
                            "{}: the range test's bounds are for {}; leave the optimizer flags \
                             out to train with it, or run a range test with this optimizer",
                            path.display(),
                            OptimArgs::flags_of(optimizer)
                        )));
                    }
                    let batch = tested.settings.batch_size;
                    if let Some(b) = cmd.batch_size.filter(|&b| b != batch) {
                        return Err(CliError::usage(format!(
                            "--batch-size {b}: the range test at {} ran with batches of {batch}, \
                             and its bounds and stepsize are for them; leave --batch-size out",
                            path.display()
                        )));
                    }
                    (schedule, optimizer.clone(), batch)
                }
                None => (
                    schedule_from(cmd.policy, cmd.config.as_ref(), &cmd.schedule)?,
                    cmd.optim.config()?,
                    cmd.batch_size.unwrap_or(100),
                ),
            };
            let mut config = TrainConfig::new(schedule, optimizer);
            config.epochs = cmd.epochs.unwrap_or(10);
            config.max_steps = cmd.max_steps;
            config.batch_size = batch_size;
            config.seed = cmd.seed;
            config.eval_every = cmd.eval_every;
            config.backend = backend;
            config.engine = engine;
            config.threads = Some(cyclr_cifar::environment::rayon_threads());
            config.validate()?;
            (config, cmd.out.clone(), false)
        }
    };
    if !cmd.quiet {
        cmd.optim.device.note_threads(config.batch_size);
    }
    let data = match resume_data {
        None => cmd.data.load()?,
        Some(info) => {
            let mut args = cmd.data.clone();
            if args.data.is_none() && !args.download {
                let recorded = PathBuf::from(&info.source);
                // A relative path was recorded relative to where the run started.
                if recorded.is_relative() && !recorded.exists() {
                    return Err(CliError::usage(format!(
                        "the run's data was recorded as {}, relative to the folder the run \
                         started in, and is not there from here: run from that folder, or pass \
                         --data PATH to the same data",
                        shell_quote(&info.source)
                    )));
                }
                args.data = Some(recorded);
            }
            args.train_limit = Some(info.train_images);
            args.test_limit = Some(info.test_images);
            let path = args.data.clone().unwrap_or_default();
            if !cmd.quiet {
                note!(
                    "resuming with data {} ({} training, {} test images{})",
                    path.display(),
                    info.train_images,
                    info.test_images,
                    if cmd.data.data.is_none() {
                        ", the run's own"
                    } else {
                        ""
                    }
                );
            }
            args.load().map_err(|e| match e {
                CliError::Failed(e) => CliError::Failed(e.context(format!(
                    "reading the run's data {} (give --data PATH to the same data if it moved)",
                    path.display()
                ))),
                other => other,
            })?
        }
    };
    // A new folder of its own unless --out or --resume names one (created now, after the
    // input is known to be good, so a mistake leaves no empty folder behind).
    let out = match out {
        Some(dir) => dir,
        None => new_dated_dir("train")?,
    };
    let stop = interrupt_flag("saving a checkpoint at the current batch");
    let mut progress = ProgressObserver::new(config.schedule.policy().to_string(), stop, cmd.quiet);
    let summary = train(&config, &data, &out, resume, &mut progress);
    progress.finish();
    report(&summary?, &out)
}

/// Prints how the run ended and maps it to the exit code.
pub fn report(s: &RunSummary, out: &std::path::Path) -> CliResult {
    let files = format!(
        "{0}/metrics.csv, {0}/run.json, {0}/training.png, {0}/checkpoint.bin",
        out.display()
    );
    match s.status {
        RunStatus::Finished | RunStatus::Running => {
            say!(
                "finished {} iterations: final test accuracy {:.4} (best {:.4}), test loss {:.4}, {:.0} s",
                s.steps,
                s.final_test_accuracy.unwrap_or(f64::NAN),
                s.best_test_accuracy.unwrap_or(f64::NAN),
                s.final_test_loss.unwrap_or(f64::NAN),
                s.wall_s
            );
            say!("wrote {files}");
            Ok(())
        }
        RunStatus::Interrupted => Err(CliError::Interrupted(format!(
            "{}: continue with `cyclr train --resume {}`",
            s.note.clone().unwrap_or_else(|| "interrupted".into()),
            shell_quote(&out.display().to_string())
        ))),
        RunStatus::Diverged => Err(CliError::Failed(anyhow::anyhow!(
            "{}",
            s.note.clone().unwrap_or_else(|| "the loss diverged".into())
        ))),
    }
}
