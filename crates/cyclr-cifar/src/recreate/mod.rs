//! The whole CLR experiment in one call: the range test, a fixed-LR baseline, cyclical runs
//! for a third of its epochs, and a report a person can read in a minute.
//!
//! Everything lives under one folder; starting again with the same folder continues:
//! finished runs are kept, an unfinished one resumes from its checkpoint.

use std::path::{Path, PathBuf};

use anyhow::Context;
use cyclr::range_test::{Ramp, RangeTestConfig};
use cyclr::{
    CyclicConfig, CyclicMode, DecayConfig, ExpConfig, FixedConfig, Policy, Schedule, ScheduleConfig,
};
use cyclr_burn::optim::OptimizerConfig;
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::environment::{Hardware, Versions};
use crate::error::{AppError, AppResult, message};
use crate::io::write_atomic;
use crate::observer::Observer;
use crate::range_test::{RangeTestResult, RangeTestSettings, run_range_test, write_outputs};
use crate::run_record::{MetricsRow, RunStatus, RunSummary};
use crate::settings;
use crate::train::{TrainConfig, train};
use report::write_report;
use stats::conclusion;

mod plan;
mod report;
mod stats;

pub use plan::{PolicySet, Profile, RecreatePlan};
pub use report::results_table;

/// One planned training run.
#[derive(Debug, Clone)]
struct RunSpec {
    /// Folder and label, e.g. `triangular-seed0`.
    name: String,
    policy: Policy,
    schedule: Schedule,
    epochs: u64,
    max_steps: Option<u64>,
    seed: u64,
    baseline: bool,
}

/// One finished (or failed) run in the report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    /// Folder and label, e.g. `triangular-seed0`.
    pub name: String,
    /// Policy name; the baseline's is `fixed (baseline)`.
    pub policy: String,
    /// Seed of the initial weights and the order of the training images.
    pub seed: u64,
    /// Whether this is the fixed-learning-rate baseline.
    pub baseline: bool,
    /// How the run ended.
    pub status: RunStatus,
    /// Iterations trained.
    pub iterations: u64,
    /// Test accuracy (0-1) at the last evaluation; None before the first.
    pub final_test_accuracy: Option<f64>,
    /// Highest test accuracy (0-1) of any evaluation; None before the first.
    pub best_test_accuracy: Option<f64>,
    /// Training wall time in seconds, evaluation included, across resumptions.
    pub wall_s: f64,
    /// The iteration of the first evaluation at the best test accuracy.
    #[serde(default)]
    pub best_at_iteration: Option<u64>,
    /// Iterations this run needed to reach the baseline's final accuracy (same seed). For
    /// the baseline itself: when it first reached the accuracy it ended with.
    pub iterations_to_baseline: Option<u64>,
    /// Iterations this run needed to reach the baseline's best accuracy (same seed). For
    /// the baseline itself: where it peaked.
    #[serde(default)]
    pub iterations_to_baseline_best: Option<u64>,
    /// The learning rate schedule the run followed.
    pub schedule: Schedule,
    /// Its `metrics.csv` rows; not stored in `recreate.json`.
    #[serde(skip)]
    pub metrics: Vec<MetricsRow>,
}

/// `recreate.json`: the plan, what was found and what came out.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecreateReport {
    /// The settings of the recreation.
    pub plan: RecreatePlan,
    /// Where the data came from.
    pub data: String,
    /// Training images used.
    pub train_images: usize,
    /// Test images used.
    pub test_images: usize,
    /// The machine, backend and engine.
    pub hardware: Hardware,
    /// Versions of cyclr and burn.
    pub versions: Versions,
    /// Base (lower) learning rate of the runs besides the baseline.
    pub base_lr: f64,
    /// Maximum learning rate of the runs besides the baseline.
    pub max_lr: f64,
    /// Where the bounds came from: the range test, the seed's values or the command line.
    pub bounds_from: String,
    /// CLR stepsize in iterations (half a cycle).
    pub stepsize: u64,
    /// exp_range's gamma: the cycle amplitude's factor per iteration.
    pub gamma: f64,
    /// Every run, baselines included, in the order they ran.
    pub runs: Vec<RunResult>,
    /// Plain sentences comparing each policy with the baseline.
    pub conclusion: Vec<String>,
}

/// The paper's `exp` comparison: from max_lr down to base_lr over `steps`.
fn exp_decay(base: f64, max: f64, steps: u64) -> AppResult<Schedule> {
    if base <= 0.0 {
        return Err(AppError::Input(message!(
            "the exp policy decays max_lr towards base_lr by a constant factor, which cannot \
             reach base_lr 0: give {base_lr} above 0"
        )));
    }
    Ok(ScheduleConfig::Exp(ExpConfig::new(
        max,
        (base / max).powf(1.0 / steps.max(1) as f64),
    ))
    .init()?)
}

fn cyclic(policy: Policy, base: f64, max: f64, step: u64, gamma: f64) -> AppResult<Schedule> {
    let mode = policy.cyclic_mode().ok_or_else(|| {
        AppError::Failed(anyhow::anyhow!(
            "{policy} is not a cyclical policy: the recreation has no cyclical run of it"
        ))
    })?;
    let c = CyclicConfig::new(base, max, step);
    let c = match mode {
        CyclicMode::ExpRange => c.with_gamma(gamma),
        CyclicMode::Triangular | CyclicMode::Triangular2 => c,
    };
    Ok(ScheduleConfig::cyclic(mode, c).init()?)
}

/// Runs (or continues) a recreation in `out`.
pub fn recreate(
    plan: &RecreatePlan,
    data: &dyn Dataset,
    out: &Path,
    observer: &mut dyn Observer,
) -> AppResult<RecreateReport> {
    plan.validate()?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    // One writer per folder, for as long as this runs.
    let _lock = crate::folder_lock::lock_folder(out)?;
    let plan_path = out.join("plan.json");
    if plan_path.is_file() {
        let stored: RecreatePlan = serde_json::from_str(&std::fs::read_to_string(&plan_path)?)
            .with_context(|| format!("reading {}", plan_path.display()))?;
        if stored != *plan {
            crate::error::input_bail!(
                "{} holds a recreation with other settings: run the same command to continue it, \
                 or choose another {out}",
                out.display()
            );
        }
        observer.message(&format!("continuing the recreation in {}", out.display()));
    } else {
        write_atomic(&plan_path, serde_json::to_string_pretty(plan)?.as_bytes())?;
    }

    let p = &plan.profile;
    let per_epoch = data.train().steps_per_epoch(p.batch_size);
    // Checked before the range test: a length that overflows is refused, not run.
    let baseline_steps = settings::iterations("baseline_epochs", p.baseline_epochs, per_epoch)?;
    let clr_steps = settings::iterations("clr_epochs", p.clr_epochs, per_epoch)?;

    // 1. The range test (or the given bounds).
    let range_dir = out.join("range-test");
    let (base_lr, max_lr, bounds_from) = if plan.needs_range_test() {
        let json = range_dir.join("range_test.json");
        let result = if json.is_file() {
            RangeTestResult::read(&json)?
        } else {
            observer.phase("range test");
            let settings = RangeTestSettings {
                ramp: RangeTestConfig::new(
                    plan.range_min_lr,
                    plan.range_max_lr,
                    ((p.range_test_epochs * per_epoch as f64).round() as u64).max(2),
                    Ramp::Linear,
                ),
                optimizer: OptimizerConfig::adam(),
                batch_size: p.batch_size,
                seed: plan.seeds[0],
                eval_every: None,
                backend: plan.backend,
                engine: plan.engine,
            };
            let r = run_range_test(&settings, data, observer)?;
            if observer.should_stop() {
                return Err(AppError::Interrupted {
                    during: "the range test".into(),
                });
            }
            write_outputs(&r, &range_dir)?;
            r
        };
        match &result.outcome.analysis.recommendation {
            Some(rec) => (
                rec.base_lr,
                rec.max_lr,
                format!(
                    "LR range test ({}; confidence {}: {})",
                    rec.source, rec.confidence, rec.confidence_reason
                ),
            ),
            None => {
                // Fall back to the seed's bounds rather than stopping the whole job.
                let why = result.outcome.analysis.warnings_line();
                observer.message(&format!(
                    "the range test gave no recommendation ({why}); using the seed's 0.001-0.005"
                ));
                (
                    0.001,
                    0.005,
                    format!("the seed's values (the range test gave none: {why})"),
                )
            }
        }
    } else {
        (
            plan.base_lr.unwrap(),
            plan.max_lr.unwrap(),
            "given on the command line".into(),
        )
    };

    let stepsize = plan
        .stepsize
        .unwrap_or(((p.stepsize_epochs * per_epoch as f64).round() as u64).max(1));
    // Table 1's budgets relative to the fixed run's 70,000 iterations.
    let budget = |k: u64| (baseline_steps * k / 70).max(1);
    let epochs_for = |steps: u64| steps.div_ceil(per_epoch);
    // By default exp_range's amplitude decays to a tenth over its own run.
    let exp_range_steps = match plan.policies {
        PolicySet::PaperTable => budget(42),
        PolicySet::Modes | PolicySet::Custom(_) => clr_steps,
    };
    let gamma = plan
        .gamma
        .unwrap_or_else(|| 0.1f64.powf(1.0 / exp_range_steps.max(1) as f64));

    // 2-3. The runs.
    let mut specs = Vec::new();
    for &seed in &plan.seeds {
        let fixed = ScheduleConfig::Fixed(FixedConfig::new(plan.baseline_lr)).init()?;
        let spec = |policy: Policy,
                    schedule: Schedule,
                    epochs: u64,
                    max_steps: Option<u64>,
                    baseline: bool| RunSpec {
            name: format!(
                "{}-seed{seed}",
                if baseline {
                    "baseline".into()
                } else {
                    policy.to_string()
                }
            ),
            policy,
            schedule,
            epochs,
            max_steps,
            seed,
            baseline,
        };
        specs.push(spec(
            Policy::Fixed,
            fixed.clone(),
            p.baseline_epochs,
            None,
            true,
        ));
        match &plan.policies {
            PolicySet::Modes => {
                for policy in [Policy::Triangular, Policy::Triangular2, Policy::ExpRange] {
                    specs.push(spec(
                        policy,
                        cyclic(policy, base_lr, max_lr, stepsize, gamma)?,
                        p.clr_epochs,
                        None,
                        false,
                    ));
                }
            }
            PolicySet::PaperTable => {
                let (t2, er) = (budget(25), exp_range_steps);
                specs.push(spec(
                    Policy::Triangular2,
                    cyclic(Policy::Triangular2, base_lr, max_lr, stepsize, gamma)?,
                    epochs_for(t2),
                    Some(t2),
                    false,
                ));
                specs.push(spec(
                    Policy::Decay,
                    ScheduleConfig::Decay(DecayConfig::new(base_lr, max_lr, stepsize)).init()?,
                    epochs_for(t2),
                    Some(t2),
                    false,
                ));
                specs.push(spec(
                    Policy::Exp,
                    exp_decay(base_lr, max_lr, baseline_steps)?,
                    p.baseline_epochs,
                    None,
                    false,
                ));
                specs.push(spec(
                    Policy::ExpRange,
                    cyclic(Policy::ExpRange, base_lr, max_lr, stepsize, gamma)?,
                    epochs_for(er),
                    Some(er),
                    false,
                ));
            }
            PolicySet::Custom(list) => {
                for &policy in list.iter().filter(|p| **p != Policy::Fixed) {
                    let schedule = match (policy, policy.cyclic_mode()) {
                        (Policy::Decay, _) => {
                            ScheduleConfig::Decay(DecayConfig::new(base_lr, max_lr, stepsize))
                                .init()?
                        }
                        (Policy::Exp, _) => exp_decay(base_lr, max_lr, clr_steps)?,
                        (_, Some(_)) => cyclic(policy, base_lr, max_lr, stepsize, gamma)?,
                        // Refused by the plan's validation (see plan::RECREATED): an error,
                        // never another policy in its place.
                        (other, None) => {
                            return Err(AppError::Failed(anyhow::anyhow!(
                                "{other} is not part of the recreation"
                            )));
                        }
                    };
                    specs.push(spec(policy, schedule, p.clr_epochs, None, false));
                }
            }
        }
    }

    let mut results: Vec<RunResult> = Vec::new();
    for spec in &specs {
        let dir = out.join("runs").join(&spec.name);
        // What a finished run achieved is read from what is checked (its checkpoint).
        let summary = match crate::train::finished_summary(&dir)? {
            Some(s) => s,
            None => {
                observer.phase(&spec.name);
                let mut config = TrainConfig::new(spec.schedule.clone(), OptimizerConfig::adam());
                config.epochs = spec.epochs;
                config.max_steps = spec.max_steps;
                config.batch_size = p.batch_size;
                config.seed = spec.seed;
                config.eval_every = plan.eval_every;
                config.backend = plan.backend;
                config.engine = plan.engine;
                config.threads = plan.threads;
                let s = train(
                    &config,
                    data,
                    &dir,
                    crate::train::has_checkpoint(&dir),
                    observer,
                )?;
                if s.status == RunStatus::Interrupted {
                    return Err(AppError::Interrupted {
                        during: spec.name.clone(),
                    });
                }
                s
            }
        };
        results.push(result_of(spec, &summary));
    }

    // Iterations to the baseline's final and best accuracy, against the baseline of the
    // same seed; the baseline's own say when it first got there.
    for i in 0..results.len() {
        let baseline = results
            .iter()
            .find(|r| r.baseline && r.seed == results[i].seed)
            .map(|b| (b.final_test_accuracy, b.best_test_accuracy));
        let first_reaching = |target: Option<f64>| {
            let t = target?;
            results[i]
                .metrics
                .iter()
                .find(|m| m.test_accuracy >= t)
                .map(|m| m.step)
        };
        let (to_final, to_best) = match baseline {
            Some((final_acc, best_acc)) => (first_reaching(final_acc), first_reaching(best_acc)),
            None => (None, None),
        };
        let best_at = first_reaching(results[i].best_test_accuracy);
        let r = &mut results[i];
        r.iterations_to_baseline = to_final;
        r.iterations_to_baseline_best = to_best;
        r.best_at_iteration = best_at;
    }

    // 4. Pictures and report.
    // The report names the data; its digest is in each run's own record.
    let report = RecreateReport {
        plan: plan.clone(),
        data: data.source(),
        train_images: data.train().len(),
        test_images: data.test().len(),
        hardware: Hardware::current(plan.backend, plan.engine),
        versions: Versions::current(),
        base_lr,
        max_lr,
        bounds_from,
        stepsize,
        gamma,
        conclusion: conclusion(&results),
        runs: results,
    };
    write_report(&report, out)?;
    Ok(report)
}

fn result_of(spec: &RunSpec, s: &RunSummary) -> RunResult {
    RunResult {
        name: spec.name.clone(),
        policy: if spec.baseline {
            "fixed (baseline)".to_string()
        } else {
            spec.policy.to_string()
        },
        seed: spec.seed,
        baseline: spec.baseline,
        status: s.status,
        iterations: s.steps,
        final_test_accuracy: s.final_test_accuracy,
        best_test_accuracy: s.best_test_accuracy,
        wall_s: s.wall_s,
        best_at_iteration: None,
        iterations_to_baseline: None,
        iterations_to_baseline_best: None,
        schedule: spec.schedule.clone(),
        metrics: s.metrics.clone(),
    }
}

/// The default output folder of a recreation.
pub fn default_out() -> anyhow::Result<PathBuf> {
    crate::run_dir::new_dated_dir("recreate")
}
