//! `cyclr recreate`: the CLR experiment end to end, with a report.

use crate::output::{note, say};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use cyclr::Policy;
use cyclr_cifar::recreate::{
    PolicySet, Profile, RecreatePlan, default_out, recreate, results_table,
};

use crate::common::{DataArgs, ProgressObserver, interrupt_flag, shell_quote};
use crate::error::{CliError, CliResult, Flags};
use crate::schedule_args::parse_policy;
use cyclr_cifar::error::AppError;

/// The most seeds a recreation repeats its runs with (each seed is a full set of runs).
const MAX_SEEDS: u64 = 1000;
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ProfileArg {
    /// The full setting: 50,000/10,000 images, 150 vs 50 epochs (36 minutes on 2 cores).
    Paper,
    /// A class-balanced 25,000/5,000 subset, 24 vs 8 epochs: about 5 minutes on 2 cores.
    Quick,
    /// 2,000/500 images, 6 vs 2 epochs: well under a minute, for tests.
    Smoke,
}

#[derive(Debug, Args)]
pub struct RecreateCmd {
    #[arg(long, value_enum, default_value = "quick")]
    pub profile: ProfileArg,
    /// Runs: `modes` (triangular, triangular2, exp_range), `paper-table` (the paper's
    /// Table 1), or a comma-separated list of fixed, triangular, triangular2, exp_range,
    /// decay, exp.
    #[arg(long, default_value = "modes")]
    pub policies: String,
    /// Repeat every run with this many seeds and report mean ± std.
    #[arg(long, default_value_t = 1)]
    pub seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Epochs of the fixed-LR baseline (E).
    #[arg(long)]
    pub baseline_epochs: Option<u64>,
    /// Epochs of each cyclical run (default E/3).
    #[arg(long)]
    pub clr_epochs: Option<u64>,
    /// The baseline's fixed learning rate.
    #[arg(long, default_value_t = 0.001)]
    pub baseline_lr: f64,
    /// CLR bounds; the range test finds them when absent.
    #[arg(long)]
    pub base_lr: Option<f64>,
    #[arg(long)]
    pub max_lr: Option<f64>,
    /// CLR stepsize in iterations (default: the profile's epochs' worth).
    #[arg(long)]
    pub stepsize: Option<u64>,
    /// exp_range's gamma (default: the amplitude decays to a tenth over the run).
    #[arg(long)]
    pub gamma: Option<f64>,
    /// Range-test ramp length in epochs, and its end points.
    #[arg(long)]
    pub range_epochs: Option<f64>,
    #[arg(long, default_value_t = 0.0)]
    pub range_min_lr: f64,
    #[arg(long, default_value_t = 0.02)]
    pub range_max_lr: f64,
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Also evaluate every K iterations (finer "iterations to reach" figures).
    #[arg(long)]
    pub eval_every: Option<u64>,
    /// Output folder (default: runs/recreate-<date>). Run the same command again to continue.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub device: crate::common::DeviceArgs,
}

impl RecreateCmd {
    pub fn plan(&self) -> CliResult<RecreatePlan> {
        let name = match self.profile {
            ProfileArg::Paper => "paper",
            ProfileArg::Quick => "quick",
            ProfileArg::Smoke => "smoke",
        };
        let mut profile = Profile::named(name).expect("known profile");
        if let Some(n) = self.data.train_limit {
            profile.train_limit = Some(n);
        }
        if let Some(n) = self.data.test_limit {
            profile.test_limit = Some(n);
        }
        if let Some(e) = self.baseline_epochs {
            profile.baseline_epochs = e;
            profile.clr_epochs = (e / 3).max(1);
        }
        if let Some(e) = self.clr_epochs {
            profile.clr_epochs = e;
        }
        if let Some(e) = self.range_epochs {
            profile.range_test_epochs = e;
        }
        if let Some(b) = self.batch_size {
            profile.batch_size = b;
        }
        let mut plan = RecreatePlan::new(profile);
        plan.policies = match self.policies.as_str() {
            "modes" => PolicySet::Modes,
            "paper-table" | "paper_table" => PolicySet::PaperTable,
            list => PolicySet::Custom(
                list.split(',')
                    .map(|p| parse_policy(p.trim()))
                    .collect::<Result<Vec<Policy>, _>>()
                    .map_err(|e| CliError::usage(format!("--policies: {e}")))?,
            ),
        };
        if self.seeds == 0 || self.seeds > MAX_SEEDS {
            return Err(CliError::usage(format!(
                "--seeds is {}: give 1 to {MAX_SEEDS} (each seed repeats every run)",
                self.seeds
            )));
        }
        // Seeds run from --seed upwards: all of them must exist.
        let last = self.seed.checked_add(self.seeds - 1).ok_or_else(|| {
            CliError::usage(format!(
                "--seed {} with --seeds {} runs past the largest seed ({}): give a smaller --seed",
                self.seed,
                self.seeds,
                u64::MAX
            ))
        })?;
        plan.seeds = (self.seed..=last).collect();
        plan.baseline_lr = self.baseline_lr;
        plan.base_lr = self.base_lr;
        plan.max_lr = self.max_lr;
        plan.stepsize = self.stepsize;
        plan.gamma = self.gamma;
        plan.range_min_lr = self.range_min_lr;
        plan.range_max_lr = self.range_max_lr;
        plan.eval_every = self.eval_every;
        // A recreation continued in its folder keeps the thread count it was started with.
        let mut device = self.device.clone();
        if let Some(out) = &self.out
            && let Ok(text) = std::fs::read_to_string(out.join("plan.json"))
            && let Ok(stored) = serde_json::from_str::<RecreatePlan>(&text)
        {
            device.keep_threads(stored.threads, &out.display().to_string())?;
        }
        (plan.backend, plan.engine) = device.setup()?;
        plan.threads = Some(cyclr_cifar::environment::rayon_threads());
        plan.validate()?;
        Ok(plan)
    }
}

pub fn run(cmd: RecreateCmd) -> CliResult {
    let plan = cmd.plan()?;
    let mut data_args = cmd.data.clone();
    data_args.train_limit = plan.profile.train_limit;
    data_args.test_limit = plan.profile.test_limit;
    let data = data_args.load()?;
    let out = match &cmd.out {
        Some(dir) => dir.clone(),
        None => default_out()?,
    };
    if !cmd.quiet {
        note!(
            "writing to {} (if interrupted, add --out {} to continue)",
            out.display(),
            shell_quote(&out.display().to_string())
        );
    }
    let stop = interrupt_flag("saving a checkpoint at the current batch");
    let mut progress = ProgressObserver::new("recreate", stop.clone(), cmd.quiet);
    let result = recreate(&plan, &data, &out, &mut progress);
    progress.finish();
    let report = match result {
        Ok(r) => r,
        Err(AppError::Interrupted { during }) => {
            return Err(CliError::Interrupted(format!(
                "interrupted during {during}: run the same command with --out {} to continue \
                 where it stopped",
                shell_quote(&out.display().to_string())
            )));
        }
        Err(e) if stop.load(std::sync::atomic::Ordering::SeqCst) => {
            return Err(CliError::Interrupted(
                CliError::from(e).render(Flags::Recreate),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    say!("{}", results_table(&report));
    for line in &report.conclusion {
        say!("{line}");
    }
    let d = out.display();
    say!(
        "\nwrote {d}/report.md and {d}/report.html (with accuracy.png, schedules.png, range-test/), {d}/results.csv, {d}/recreate.json"
    );
    Ok(())
}
