//! The whole CLR experiment in one call: the range test, a fixed-LR baseline, cyclical runs
//! for a third of its epochs, and a report a person can read in a minute.
//!
//! Everything lives under one folder; starting again with the same folder continues:
//! finished runs are kept, an unfinished one resumes from its checkpoint.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use cyclr::plot::{Chart, Series};
use cyclr::range_test::{RangeTestConfig, Ramp};
use cyclr::{
    CyclicConfig, DecayConfig, ExpConfig, FixedConfig, LrSchedule, Policy, Schedule, ScheduleConfig,
};
use serde::{Deserialize, Serialize};

use crate::data::Cifar10;
use crate::engine::{Backend, EngineKind};
use crate::io::write_atomic;
use crate::optim::OptimizerConfig;
use crate::range_test::{RangeTestResult, RangeTestSettings, run_range_test, write_outputs};
use crate::train::{
    Hardware, MetricsRow, Observer, RunStatus, RunSummary, TrainConfig, Versions, load_outcome,
    train,
};

/// The sizes of a recreation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub name: String,
    /// Class-balanced subsets (None: the whole split).
    pub train_limit: Option<usize>,
    pub test_limit: Option<usize>,
    /// Epochs of the fixed-LR baseline (E); CLR runs get `clr_epochs`, E/3 by default.
    pub baseline_epochs: u64,
    pub clr_epochs: u64,
    /// Length of the range test's ramp, in epochs.
    pub range_test_epochs: f64,
    /// The CLR stepsize in epochs of iterations (the paper: 2-10).
    pub stepsize_epochs: f64,
    pub batch_size: usize,
}

impl Profile {
    pub fn named(name: &str) -> Option<Profile> {
        let p = |train_limit, test_limit, baseline_epochs: u64, range_test_epochs, stepsize_epochs| Profile {
            name: name.to_string(),
            train_limit,
            test_limit,
            baseline_epochs,
            clr_epochs: baseline_epochs / 3,
            range_test_epochs,
            stepsize_epochs,
            batch_size: 100,
        };
        match name {
            // The seed's setting: 150 epochs fixed vs 50 CLR on all of CIFAR-10.
            "paper" => Some(p(None, None, 150, 8.0, 5.0)),
            // Half of CIFAR-10: about 5 minutes on 2 CPU cores with the fused engine.
            "quick" => Some(p(Some(25_000), Some(5_000), 24, 4.0, 2.0)),
            // About a minute, for tests.
            "smoke" => Some(p(Some(2_000), Some(500), 6, 2.0, 0.5)),
            _ => None,
        }
    }
}

/// Which runs to make besides the baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicySet {
    /// triangular (bounds from the range test), triangular2 and exp_range, E/3 epochs each.
    Modes,
    /// The paper's Table 1 on CIFAR-10: fixed, triangular2, decay, exp, exp_range, with its
    /// iteration budgets (70k, 25k, 25k, 70k, 42k) scaled to the baseline's length.
    PaperTable,
    /// A chosen list.
    Custom(Vec<Policy>),
}

/// Every setting of a recreation; stored in `plan.json` so a restart continues the same one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecreatePlan {
    pub profile: Profile,
    pub policies: PolicySet,
    /// The baseline's fixed learning rate (the seed: Adam's default 0.001).
    pub baseline_lr: f64,
    /// Bounds for the cyclical runs; from the range test when absent.
    pub base_lr: Option<f64>,
    pub max_lr: Option<f64>,
    /// CLR stepsize in iterations; from `stepsize_epochs` when absent.
    pub stepsize: Option<u64>,
    /// exp_range's gamma; by default the amplitude decays to a tenth over the run.
    pub gamma: Option<f64>,
    pub range_min_lr: f64,
    pub range_max_lr: f64,
    pub seeds: Vec<u64>,
    pub eval_every: Option<u64>,
    pub backend: Backend,
    #[serde(default)]
    pub engine: EngineKind,
}

impl RecreatePlan {
    pub fn new(profile: Profile) -> Self {
        Self {
            profile,
            policies: PolicySet::Modes,
            baseline_lr: 0.001,
            base_lr: None,
            max_lr: None,
            stepsize: None,
            gamma: None,
            range_min_lr: 0.0,
            range_max_lr: 0.02,
            seeds: vec![0],
            eval_every: None,
            backend: Backend::Flex,
            engine: EngineKind::Fused,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        let p = &self.profile;
        if p.baseline_epochs == 0 || p.clr_epochs == 0 {
            return Err("--baseline-epochs and --clr-epochs must be at least 1".into());
        }
        if p.batch_size == 0 {
            return Err("--batch-size is 0: give at least 1".into());
        }
        if self.seeds.is_empty() {
            return Err("--seeds is 0: give at least 1".into());
        }
        if let Some(g) = self.gamma
            && !(g.is_finite() && g > 0.0 && g <= 1.0)
        {
            return Err(format!("--gamma is {g}, but it must be in (0, 1]"));
        }
        if self.stepsize == Some(0) {
            return Err("--stepsize is 0: give at least 1 iteration".into());
        }
        if self.eval_every == Some(0) {
            return Err("--eval-every is 0: give a number of iterations, or leave it out".into());
        }
        if !(p.stepsize_epochs.is_finite() && p.stepsize_epochs > 0.0) && self.stepsize.is_none() {
            return Err("the stepsize must be positive".into());
        }
        if self.base_lr.is_some() != self.max_lr.is_some() {
            return Err("give both --base-lr and --max-lr, or neither (the range test finds them)".into());
        }
        if let (Some(b), Some(m)) = (self.base_lr, self.max_lr)
            && !(b.is_finite() && m.is_finite() && b >= 0.0 && m > b)
        {
            return Err(format!("--base-lr {b} and --max-lr {m}: need 0 <= base < max"));
        }
        let plans_exp = match &self.policies {
            PolicySet::PaperTable => true,
            PolicySet::Custom(list) => list.contains(&Policy::Exp),
            PolicySet::Modes => false,
        };
        if plans_exp && self.base_lr == Some(0.0) {
            return Err("--base-lr is 0, but the exp policy decays towards it by a constant factor: give --base-lr above 0".into());
        }
        if !(self.baseline_lr.is_finite() && self.baseline_lr > 0.0) {
            return Err(format!("--baseline-lr is {}: give a positive rate", self.baseline_lr));
        }
        if self.needs_range_test() {
            let (lo, hi) = (self.range_min_lr, self.range_max_lr);
            // Checked here, not by RangeTestConfig, so the message names this command's flags.
            if !(lo.is_finite() && hi.is_finite() && lo >= 0.0 && hi > lo) {
                return Err(format!("--range-min-lr {lo} and --range-max-lr {hi}: need 0 <= min < max"));
            }
            let e = p.range_test_epochs;
            if !(e.is_finite() && e > 0.0) {
                return Err(format!("--range-epochs is {e}: give a positive number of epochs"));
            }
        }
        self.engine.check(self.backend)?;
        if let PolicySet::Custom(list) = &self.policies {
            if list.is_empty() {
                return Err("--policies is empty".into());
            }
            for (i, p) in list.iter().enumerate() {
                if list[..i].contains(p) {
                    return Err(format!("--policies names {p} twice: each policy runs once per seed"));
                }
                if !matches!(
                    p,
                    Policy::Fixed | Policy::Triangular | Policy::Triangular2 | Policy::ExpRange | Policy::Decay | Policy::Exp
                ) {
                    return Err(format!(
                        "--policies: {p} is not part of the recreation; choose from fixed, triangular, triangular2, exp_range, decay, exp"
                    ));
                }
            }
        }
        Ok(())
    }

    fn needs_range_test(&self) -> bool {
        self.base_lr.is_none()
    }
}

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
    pub name: String,
    pub policy: String,
    pub seed: u64,
    pub baseline: bool,
    pub status: RunStatus,
    pub iterations: u64,
    pub final_test_accuracy: Option<f64>,
    pub best_test_accuracy: Option<f64>,
    pub wall_s: f64,
    /// Iterations this run needed to reach the baseline's final accuracy (same seed).
    pub iterations_to_baseline: Option<u64>,
    pub schedule: Schedule,
    #[serde(skip)]
    pub metrics: Vec<MetricsRow>,
}

/// `recreate.json`: the plan, what was found and what came out.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecreateReport {
    pub plan: RecreatePlan,
    pub data: String,
    pub train_images: usize,
    pub test_images: usize,
    pub hardware: Hardware,
    pub versions: Versions,
    pub base_lr: f64,
    pub max_lr: f64,
    pub bounds_from: String,
    pub stepsize: u64,
    pub gamma: f64,
    pub runs: Vec<RunResult>,
    pub conclusion: Vec<String>,
}

/// The paper's `exp` comparison: from max_lr down to base_lr over `steps`.
fn exp_decay(base: f64, max: f64, steps: u64) -> anyhow::Result<Schedule> {
    if base <= 0.0 {
        bail!("the exp policy decays max_lr towards base_lr by a constant factor, which cannot reach base_lr 0: give --base-lr above 0");
    }
    Ok(ScheduleConfig::Exp(ExpConfig::new(max, (base / max).powf(1.0 / steps.max(1) as f64))).init()?)
}

fn cyclic(policy: Policy, base: f64, max: f64, step: u64, gamma: f64) -> anyhow::Result<Schedule> {
    let c = CyclicConfig::new(base, max, step);
    Ok(match policy {
        Policy::Triangular => ScheduleConfig::Triangular(c),
        Policy::Triangular2 => ScheduleConfig::Triangular2(c),
        _ => ScheduleConfig::ExpRange(c.with_gamma(gamma)),
    }
    .init()?)
}

/// Runs (or continues) a recreation in `out`.
pub fn recreate(
    plan: &RecreatePlan,
    data: &Cifar10,
    out: &Path,
    observer: &mut dyn Observer,
) -> anyhow::Result<RecreateReport> {
    plan.validate().map_err(anyhow::Error::msg)?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let plan_path = out.join("plan.json");
    if plan_path.is_file() {
        let stored: RecreatePlan = serde_json::from_str(&std::fs::read_to_string(&plan_path)?)
            .with_context(|| format!("reading {}", plan_path.display()))?;
        if stored != *plan {
            bail!(
                "{} holds a recreation with other settings: run the same command to continue it, \
                 or choose another --out",
                out.display()
            );
        }
        observer.message(&format!("continuing the recreation in {}", out.display()));
    } else {
        write_atomic(&plan_path, serde_json::to_string_pretty(plan)?.as_bytes())?;
    }

    let p = &plan.profile;
    let per_epoch = data.train.steps_per_epoch(p.batch_size);

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
                bail!(
                    "interrupted during the range test: run the same command with --out {} to continue",
                    out.display()
                );
            }
            write_outputs(&r, &range_dir)?;
            r
        };
        match &result.analysis.recommendation {
            Some(rec) => (rec.base_lr, rec.max_lr, format!("LR range test ({})", rec.source)),
            None => {
                // Fall back to the seed's bounds rather than stopping the whole job.
                let why = result.analysis.warnings.join("; ");
                observer.message(&format!("the range test gave no recommendation ({why}); using the seed's 0.001-0.005"));
                (0.001, 0.005, format!("the seed's values (the range test gave none: {why})"))
            }
        }
    } else {
        (plan.base_lr.unwrap(), plan.max_lr.unwrap(), "given on the command line".into())
    };

    let stepsize = plan
        .stepsize
        .unwrap_or(((p.stepsize_epochs * per_epoch as f64).round() as u64).max(1));
    let baseline_steps = p.baseline_epochs * per_epoch;
    let clr_steps = p.clr_epochs * per_epoch;
    // Table 1's budgets relative to the fixed run's 70,000 iterations.
    let budget = |k: u64| (baseline_steps * k / 70).max(1);
    let epochs_for = |steps: u64| steps.div_ceil(per_epoch);
    // By default exp_range's amplitude decays to a tenth over its own run.
    let exp_range_steps = match plan.policies {
        PolicySet::PaperTable => budget(42),
        _ => clr_steps,
    };
    let gamma = plan.gamma.unwrap_or_else(|| 0.1f64.powf(1.0 / exp_range_steps.max(1) as f64));

    // 2-3. The runs.
    let mut specs = Vec::new();
    for &seed in &plan.seeds {
        let fixed = ScheduleConfig::Fixed(FixedConfig::new(plan.baseline_lr)).init()?;
        let spec = |policy: Policy, schedule: Schedule, epochs: u64, max_steps: Option<u64>, baseline: bool| RunSpec {
            name: format!("{}-seed{seed}", if baseline { "baseline".into() } else { policy.to_string() }),
            policy,
            schedule,
            epochs,
            max_steps,
            seed,
            baseline,
        };
        specs.push(spec(Policy::Fixed, fixed.clone(), p.baseline_epochs, None, true));
        match &plan.policies {
            PolicySet::Modes => {
                for policy in [Policy::Triangular, Policy::Triangular2, Policy::ExpRange] {
                    specs.push(spec(policy, cyclic(policy, base_lr, max_lr, stepsize, gamma)?, p.clr_epochs, None, false));
                }
            }
            PolicySet::PaperTable => {
                let (t2, er) = (budget(25), exp_range_steps);
                specs.push(spec(Policy::Triangular2, cyclic(Policy::Triangular2, base_lr, max_lr, stepsize, gamma)?, epochs_for(t2), Some(t2), false));
                specs.push(spec(Policy::Decay, ScheduleConfig::Decay(DecayConfig::new(base_lr, max_lr, stepsize)).init()?, epochs_for(t2), Some(t2), false));
                specs.push(spec(Policy::Exp, exp_decay(base_lr, max_lr, baseline_steps)?, p.baseline_epochs, None, false));
                specs.push(spec(Policy::ExpRange, cyclic(Policy::ExpRange, base_lr, max_lr, stepsize, gamma)?, epochs_for(er), Some(er), false));
            }
            PolicySet::Custom(list) => {
                for &policy in list.iter().filter(|p| **p != Policy::Fixed) {
                    let schedule = match policy {
                        Policy::Decay => ScheduleConfig::Decay(DecayConfig::new(base_lr, max_lr, stepsize)).init()?,
                        Policy::Exp => exp_decay(base_lr, max_lr, clr_steps)?,
                        _ => cyclic(policy, base_lr, max_lr, stepsize, gamma)?,
                    };
                    specs.push(spec(policy, schedule, p.clr_epochs, None, false));
                }
            }
        }
    }

    let mut results: Vec<RunResult> = Vec::new();
    for spec in &specs {
        let dir = out.join("runs").join(&spec.name);
        let summary = match load_outcome(&dir)? {
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
                let s = train(&config, data, &dir, crate::train::has_checkpoint(&dir), observer)?;
                if s.status == RunStatus::Interrupted {
                    bail!(
                        "interrupted during {}: run the same command with --out {} to continue where it stopped",
                        spec.name,
                        out.display()
                    );
                }
                s
            }
        };
        results.push(result_of(spec, &summary));
    }

    // Iterations to the baseline's final accuracy, against the baseline of the same seed.
    for i in 0..results.len() {
        let target = results
            .iter()
            .find(|r| r.baseline && r.seed == results[i].seed)
            .and_then(|b| b.final_test_accuracy);
        if let Some(t) = target {
            results[i].iterations_to_baseline =
                results[i].metrics.iter().find(|m| m.test_accuracy >= t).map(|m| m.step);
        }
    }

    // 4. Pictures and report.
    let report = RecreateReport {
        plan: plan.clone(),
        data: data.source.display().to_string(),
        train_images: data.train.len(),
        test_images: data.test.len(),
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
        policy: if spec.baseline { "fixed (baseline)".to_string() } else { spec.policy.to_string() },
        seed: spec.seed,
        baseline: spec.baseline,
        status: s.status,
        iterations: s.steps,
        final_test_accuracy: s.final_test_accuracy,
        best_test_accuracy: s.best_test_accuracy,
        wall_s: s.wall_s,
        iterations_to_baseline: None,
        schedule: spec.schedule.clone(),
        metrics: s.metrics.clone(),
    }
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 { v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (mean, var.sqrt())
}

/// The runs of one policy across seeds.
struct PolicyStats {
    policy: String,
    finals: Vec<f64>,
    bests: Vec<f64>,
    iterations: u64,
    to_baseline: Vec<Option<u64>>,
}

fn by_policy(runs: &[RunResult]) -> Vec<PolicyStats> {
    let mut out: Vec<PolicyStats> = Vec::new();
    for r in runs {
        let i = match out.iter().position(|e| e.policy == r.policy) {
            Some(i) => i,
            None => {
                out.push(PolicyStats {
                    policy: r.policy.clone(),
                    finals: vec![],
                    bests: vec![],
                    iterations: r.iterations,
                    to_baseline: vec![],
                });
                out.len() - 1
            }
        };
        let e = &mut out[i];
        if let (Some(f), Some(b)) = (r.final_test_accuracy, r.best_test_accuracy) {
            e.finals.push(f);
            e.bests.push(b);
        }
        e.iterations = e.iterations.max(r.iterations);
        e.to_baseline.push(r.iterations_to_baseline);
    }
    out
}

/// Plain sentences: was CLR faster, was it better, beyond seed noise?
fn conclusion(runs: &[RunResult]) -> Vec<String> {
    let groups = by_policy(runs);
    let Some(base) = groups.iter().find(|g| g.policy.starts_with("fixed")) else {
        return vec!["no baseline run to compare with".into()];
    };
    let (bm, bs) = mean_std(&base.finals);
    let k = base.finals.len();
    let mut lines = Vec::new();
    for g in groups.iter().filter(|g| !g.policy.starts_with("fixed")) {
        if g.finals.is_empty() {
            lines.push(format!("{} did not finish (see its run folder)", g.policy));
            continue;
        }
        let (m, s) = mean_std(&g.finals);
        let reached: Vec<u64> = g.to_baseline.iter().flatten().copied().collect();
        let faster = if reached.len() == g.to_baseline.len() && !reached.is_empty() {
            let it = reached.iter().sum::<u64>() / reached.len() as u64;
            format!(
                "reached the baseline's final accuracy in {it} iterations, {:.0}% of the baseline's {} (faster)",
                100.0 * it as f64 / base.iterations.max(1) as f64,
                base.iterations
            )
        } else if reached.is_empty() {
            format!("did not reach the baseline's final accuracy within its {} iterations", g.iterations)
        } else {
            format!("reached the baseline's final accuracy in {} of {} seeds", reached.len(), g.to_baseline.len())
        };
        let diff = (m - bm) * 100.0;
        let verdict = if diff > 0.0 { "better" } else { "worse" };
        let noise = if k > 1 && g.finals.len() > 1 {
            let se = (bs.powi(2) / k as f64 + s.powi(2) / g.finals.len() as f64).sqrt() * 100.0;
            if diff.abs() > 2.0 * se {
                format!("; the gap exceeds the seed noise (2 standard errors = {:.2} points)", 2.0 * se)
            } else {
                format!("; the gap is within the seed noise (2 standard errors = {:.2} points)", 2.0 * se)
            }
        } else {
            "; one seed, so seed noise is unknown (use --seeds 3 to measure it)".into()
        };
        lines.push(format!(
            "{} in {} iterations {faster}, and ended {:.2} points {verdict} than the baseline ({:.2}% vs {:.2}%){noise}.",
            g.policy, g.iterations, diff.abs(), m * 100.0, bm * 100.0
        ));
    }
    lines
}

fn fmt_acc(v: &[f64]) -> String {
    match v.len() {
        0 => "-".into(),
        1 => format!("{:.2}%", v[0] * 100.0),
        _ => {
            let (m, s) = mean_std(v);
            format!("{:.2} ± {:.2}%", m * 100.0, s * 100.0)
        }
    }
}

/// A table of the report: a header and rows of cells, rendered as Markdown or HTML.
struct Table {
    header: Vec<&'static str>,
    /// The first columns hold text (left-aligned); the rest numbers.
    text_columns: usize,
    rows: Vec<Vec<String>>,
}

/// The per-run table, and the per-policy mean ± std when there are several seeds.
fn tables(report: &RecreateReport) -> Vec<Table> {
    let pct = |a: Option<f64>| a.map_or("-".into(), |a| format!("{:.2}%", a * 100.0));
    let runs = report.runs.iter().map(|r| {
        let to = match (r.baseline, r.iterations_to_baseline) {
            (true, _) => "(baseline)".to_string(),
            (false, Some(i)) => i.to_string(),
            (false, None) => "not reached".to_string(),
        };
        let status = if r.status == RunStatus::Finished { String::new() } else { format!(" ({:?})", r.status).to_lowercase() };
        vec![
            format!("{}{status}", r.name),
            r.policy.clone(),
            r.iterations.to_string(),
            pct(r.final_test_accuracy),
            pct(r.best_test_accuracy),
            format!("{:.0} s", r.wall_s),
            to,
        ]
    });
    let mut out = vec![Table {
        header: vec!["run", "policy", "iterations", "final test acc", "best test acc", "wall time", "iterations to baseline's final acc"],
        text_columns: 2,
        rows: runs.collect(),
    }];
    if report.plan.seeds.len() > 1 {
        out.push(Table {
            header: vec!["policy", "seeds", "final test acc (mean ± std)", "best test acc (mean ± std)"],
            text_columns: 1,
            rows: by_policy(&report.runs)
                .iter()
                .map(|g| vec![g.policy.clone(), g.finals.len().to_string(), fmt_acc(&g.finals), fmt_acc(&g.bests)])
                .collect(),
        });
    }
    out
}

/// The results table(s) in Markdown.
pub fn results_table(report: &RecreateReport) -> String {
    let mut t = String::new();
    for (i, table) in tables(report).iter().enumerate() {
        if i > 0 {
            t.push('\n');
        }
        let align: Vec<&str> =
            (0..table.header.len()).map(|c| if c < table.text_columns { "---" } else { "---:" }).collect();
        let _ = writeln!(t, "| {} |\n|{}|", table.header.join(" | "), align.join("|"));
        for row in &table.rows {
            let _ = writeln!(t, "| {} |", row.join(" | "));
        }
    }
    t
}

fn accuracy_chart(report: &RecreateReport) -> Chart {
    let mut c = Chart::new("Test accuracy against iterations", "iteration", "test accuracy");
    for r in &report.runs {
        c = c.line(Series::new(&r.name, r.metrics.iter().map(|m| (m.step as f64, m.test_accuracy)).collect()));
    }
    c
}

fn schedules_chart(report: &RecreateReport) -> Chart {
    let mut c = Chart::new("Learning-rate schedules of the runs", "iteration", "learning rate");
    let mut seen = Vec::new();
    for r in &report.runs {
        if seen.contains(&r.policy) {
            continue;
        }
        seen.push(r.policy.clone());
        let steps = cyclr::plot::sample_steps(r.iterations.max(1), 2000);
        c = c.line(Series::new(&r.policy, steps.into_iter().map(|s| (s as f64, r.schedule.lr(s))).collect()));
    }
    c
}

fn write_report(report: &RecreateReport, out: &Path) -> anyhow::Result<()> {
    let acc = accuracy_chart(report);
    let sched = schedules_chart(report);
    let (acc_svg, sched_svg) = (acc.to_svg()?, sched.to_svg()?);
    // Each SVG is drawn once: written as a file and inlined in the HTML page.
    for (chart, svg, name) in [(&acc, &acc_svg, "accuracy"), (&sched, &sched_svg, "schedules")] {
        chart.save(&out.join(format!("{name}.png")))?;
        write_atomic(&out.join(format!("{name}.svg")), svg.as_bytes())?;
    }
    // results.csv: one row per run, for pandas and spreadsheets.
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["run", "policy", "seed", "status", "iterations", "final_test_accuracy", "best_test_accuracy", "wall_s", "iterations_to_baseline"])?;
    for r in &report.runs {
        w.write_record([
            r.name.clone(),
            r.policy.clone(),
            r.seed.to_string(),
            format!("{:?}", r.status).to_lowercase(),
            r.iterations.to_string(),
            r.final_test_accuracy.map_or(String::new(), |a| a.to_string()),
            r.best_test_accuracy.map_or(String::new(), |a| a.to_string()),
            format!("{:.1}", r.wall_s),
            r.iterations_to_baseline.map_or(String::new(), |i| i.to_string()),
        ])?;
    }
    write_atomic(&out.join("results.csv"), &w.into_inner()?)?;
    write_atomic(&out.join("recreate.json"), serde_json::to_string_pretty(report)?.as_bytes())?;

    let has_range = out.join("range-test/range_test.png").is_file();
    let md = markdown(report, has_range);
    write_atomic(&out.join("report.md"), md.as_bytes())?;
    let range_svg = std::fs::read_to_string(out.join("range-test/range_test.svg")).ok();
    let html = html(report, range_svg.as_deref(), &sched_svg, &acc_svg);
    write_atomic(&out.join("report.html"), html.as_bytes())?;
    Ok(())
}

fn markdown(r: &RecreateReport, has_range: bool) -> String {
    let p = &r.plan.profile;
    let mut s = String::new();
    let _ = writeln!(s, "# Cyclical learning rates on CIFAR-10: recreation report\n");
    let _ = writeln!(s, "## Verdict\n");
    for line in &r.conclusion {
        let _ = writeln!(s, "- {line}");
    }
    let _ = writeln!(s, "\n## Results\n\n{}", results_table(r));
    let _ = writeln!(s, "![test accuracy against iterations](accuracy.png)\n");
    let _ = writeln!(s, "## Setting\n");
    let _ = writeln!(
        s,
        "- Data: {} ({} training and {} test images{}).",
        r.data,
        r.train_images,
        r.test_images,
        if p.train_limit.is_some() || p.test_limit.is_some() { ", class-balanced subsets" } else { "" }
    );
    let _ = writeln!(
        s,
        "- Model: the reference CNN (Conv 32-64-64, Dense 64, 10 classes; 122,570 parameters), Adam, batch {}, cross-entropy from logits.",
        p.batch_size
    );
    let _ = writeln!(
        s,
        "- Profile `{}`: baseline fixed lr {} for {} epochs; cyclical runs for {} epochs.",
        p.name, r.plan.baseline_lr, p.baseline_epochs, p.clr_epochs
    );
    let _ = writeln!(
        s,
        "- Bounds: base_lr {:.3e}, max_lr {:.3e} from {}; stepsize {} iterations; exp_range gamma {:.6}.",
        r.base_lr, r.max_lr, r.bounds_from, r.stepsize, r.gamma
    );
    let seeds: Vec<String> = r.plan.seeds.iter().map(|s| s.to_string()).collect();
    let _ = writeln!(s, "- Seeds: {}.", seeds.join(", "));
    let _ = writeln!(s, "- Hardware: {}.", r.hardware.describe());
    let _ = writeln!(s, "- Versions: cyclr {}, burn {}.\n", r.versions.cyclr, r.versions.burn);
    if has_range {
        let _ = writeln!(s, "## LR range test\n\n![range test](range-test/range_test.png)\n");
        let _ = writeln!(
            s,
            "The shaded band is the recommended range; dots mark each rule's suggestion (details in `range-test/range_test.json`).\n"
        );
    }
    let _ = writeln!(s, "## Schedules\n\n![schedules](schedules.png)\n");
    let _ = writeln!(
        s,
        "Per-run metrics are in `runs/<run>/metrics.csv`; all runs in `results.csv`; everything in `recreate.json`."
    );
    s
}

fn escape(t: &str) -> String {
    t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A self-contained page: the same text, the tables, and the pictures inlined as SVG.
fn html(r: &RecreateReport, range_svg: Option<&str>, sched_svg: &str, acc_svg: &str) -> String {
    let mut h = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>CLR recreation report</title>\
         <style>body{font-family:sans-serif;max-width:1050px;margin:2em auto;color:#222}\
         table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}\
         td:first-child,th:first-child,td:nth-child(2){text-align:left}svg{max-width:100%;height:auto}</style>\
         </head><body>",
    );
    h.push_str("<h1>Cyclical learning rates on CIFAR-10: recreation report</h1><h2>Verdict</h2><ul>");
    for line in &r.conclusion {
        let _ = write!(h, "<li>{}</li>", escape(line));
    }
    h.push_str("</ul><h2>Results</h2>");
    for table in tables(r) {
        h.push_str("<table><tr>");
        for cell in &table.header {
            let _ = write!(h, "<th>{}</th>", escape(cell));
        }
        h.push_str("</tr>");
        for row in &table.rows {
            h.push_str("<tr>");
            for (c, cell) in row.iter().enumerate() {
                let align = if c < table.text_columns { "left" } else { "right" };
                let _ = write!(h, "<td style=\"text-align:{align}\">{}</td>", escape(cell));
            }
            h.push_str("</tr>");
        }
        h.push_str("</table><p></p>");
    }
    let _ = write!(h, "<h3>Test accuracy against iterations</h3>{acc_svg}");
    let p = &r.plan.profile;
    let _ = write!(
        h,
        "<h2>Setting</h2><ul><li>Data: {} ({} training, {} test images)</li><li>Profile {}: baseline fixed lr {} for {} epochs; cyclical runs {} epochs</li>\
         <li>Bounds: base_lr {:.3e}, max_lr {:.3e} from {}; stepsize {} iterations; exp_range gamma {:.6}</li>\
         <li>Seeds: {:?}</li><li>Hardware: {}</li><li>Versions: cyclr {}, burn {}</li></ul>",
        escape(&r.data), r.train_images, r.test_images, escape(&p.name), r.plan.baseline_lr, p.baseline_epochs, p.clr_epochs,
        r.base_lr, r.max_lr, escape(&r.bounds_from), r.stepsize, r.gamma, r.plan.seeds, escape(&r.hardware.describe()),
        r.versions.cyclr, r.versions.burn
    );
    if let Some(svg) = range_svg {
        let _ = write!(h, "<h2>LR range test</h2>{svg}<p>The shaded band is the recommended range; dots mark each rule's suggestion.</p>");
    }
    let _ = write!(h, "<h2>Schedules</h2>{sched_svg}</body></html>");
    h
}

/// The default output folder of a recreation.
pub fn default_out() -> PathBuf {
    crate::train::dated_dir("recreate")
}
