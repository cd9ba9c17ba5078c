//! The schedule options shared by `cyclr schedule`, `cyclr train` and friends, named after
//! PyTorch's arguments in kebab-case, and their translation into a [`ScheduleConfig`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use cyclr::{
    AnnealStrategy, CyclicConfig, DecayConfig, ExpConfig, FixedConfig, LinearConfig,
    OneCycleConfig, Policy, ScaleMode, Schedule, ScheduleConfig, SgdrConfig, StepDecayConfig,
};

use crate::error::{CliError, CliResult};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ScaleModeArg {
    Cycle,
    Iterations,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AnnealArg {
    Cos,
    Linear,
}

#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Schedule options (PyTorch's names)")]
pub struct ScheduleArgs {
    /// Base (lowest) learning rate; the rate of `fixed`, `exp` and `step`.
    #[arg(long, value_name = "LR", allow_negative_numbers = true)]
    pub base_lr: Option<f64>,
    /// Maximum (peak) learning rate.
    #[arg(long, value_name = "LR", allow_negative_numbers = true)]
    pub max_lr: Option<f64>,
    /// Steps from base to max: the paper's stepsize, half a cycle (also the step size of
    /// `decay` and `step`).
    #[arg(long, visible_alias = "step-size", value_name = "STEPS")]
    pub step_size_up: Option<u64>,
    /// Steps from max back to base (default: --step-size-up).
    #[arg(long, value_name = "STEPS")]
    pub step_size_down: Option<u64>,
    /// Decay factor: exp_range's amplitude gamma^step, `exp`'s gamma^step, `step`'s factor.
    #[arg(long, allow_negative_numbers = true)]
    pub gamma: Option<f64>,
    /// Evaluate the amplitude scale on the cycle number or the step.
    #[arg(long, value_enum)]
    pub scale_mode: Option<ScaleModeArg>,
    /// Lowest momentum (at the learning-rate peak); cycles momentum with --max-momentum.
    #[arg(long, allow_negative_numbers = true)]
    pub base_momentum: Option<f64>,
    /// Highest momentum (at the base learning rate).
    #[arg(long, allow_negative_numbers = true)]
    pub max_momentum: Option<f64>,
    /// Cycle momentum between PyTorch's defaults 0.85 and 0.95.
    #[arg(long)]
    pub cycle_momentum: bool,
    /// one_cycle: length of the whole schedule in steps; linear: length of the ramp.
    #[arg(long, value_name = "STEPS")]
    pub total_steps: Option<u64>,
    /// one_cycle: fraction of the steps spent warming up (default 0.3).
    #[arg(long, allow_negative_numbers = true)]
    pub pct_start: Option<f64>,
    /// one_cycle: annealing shape (default cos).
    #[arg(long, value_enum)]
    pub anneal_strategy: Option<AnnealArg>,
    /// one_cycle: initial rate = max_lr / div_factor (default 25).
    #[arg(long, allow_negative_numbers = true)]
    pub div_factor: Option<f64>,
    /// one_cycle: final rate = initial / final_div_factor (default 1e4).
    #[arg(long, allow_negative_numbers = true)]
    pub final_div_factor: Option<f64>,
    /// one_cycle: warm up, come back down symmetrically, then anneal.
    #[arg(long)]
    pub three_phase: bool,
    /// sgdr: steps in the first cycle.
    #[arg(long, value_name = "STEPS")]
    pub t0: Option<u64>,
    /// sgdr: each cycle is this many times longer than the last (default 1).
    #[arg(long)]
    pub t_mult: Option<u64>,
    /// sgdr: the floor of the cosine (default 0).
    #[arg(long, allow_negative_numbers = true)]
    pub min_lr: Option<f64>,
    /// linear: the first rate.
    #[arg(long, allow_negative_numbers = true)]
    pub start_lr: Option<f64>,
    /// linear: the last rate.
    #[arg(long, allow_negative_numbers = true)]
    pub end_lr: Option<f64>,
}

/// Hands out option values and remembers which were used, so that an option no chosen
/// policy uses is reported instead of silently ignored.
struct Taker<'a> {
    args: &'a ScheduleArgs,
    policy: Policy,
    used: &'a mut BTreeSet<&'static str>,
}

impl Taker<'_> {
    fn opt<T: Copy>(&mut self, name: &'static str, v: Option<T>) -> Option<T> {
        self.used.insert(name);
        v
    }

    fn req<T: Copy>(&mut self, name: &'static str, v: Option<T>, what: &str) -> CliResult<T> {
        self.opt(name, v)
            .ok_or_else(|| CliError::usage(format!("{} needs --{name} ({what})", self.policy)))
    }

    fn momentum(&mut self) -> (Option<f64>, Option<f64>) {
        let a = self.args;
        let b = self.opt("base-momentum", a.base_momentum);
        let m = self.opt("max-momentum", a.max_momentum);
        if self.opt("cycle-momentum", Some(a.cycle_momentum)) == Some(true) {
            let d = cyclr::MomentumRange::PYTORCH_DEFAULT;
            (b.or(Some(d.base_momentum)), m.or(Some(d.max_momentum)))
        } else {
            (b, m)
        }
    }

    fn config(&mut self) -> CliResult<ScheduleConfig> {
        let a = self.args;
        let policy = self.policy;
        Ok(match policy {
            Policy::Triangular | Policy::Triangular2 | Policy::ExpRange => {
                let mut c = CyclicConfig::new(
                    self.req("base-lr", a.base_lr, "the lowest learning rate, e.g. 0.001")?,
                    self.req("max-lr", a.max_lr, "the peak learning rate, e.g. 0.006")?,
                    self.req(
                        "step-size-up",
                        a.step_size_up,
                        "half a cycle in steps, 2-10 epochs' worth, e.g. 2000",
                    )?,
                );
                c.step_size_down = self.opt("step-size-down", a.step_size_down);
                c.scale_mode = self.opt("scale-mode", a.scale_mode).map(|s| match s {
                    ScaleModeArg::Cycle => ScaleMode::Cycle,
                    ScaleModeArg::Iterations => ScaleMode::Iterations,
                });
                (c.base_momentum, c.max_momentum) = self.momentum();
                match policy {
                    Policy::Triangular => ScheduleConfig::Triangular(c),
                    Policy::Triangular2 => ScheduleConfig::Triangular2(c),
                    _ => {
                        c.gamma = Some(self.req(
                            "gamma",
                            a.gamma,
                            "the amplitude decay per step, e.g. 0.99994",
                        )?);
                        ScheduleConfig::ExpRange(c)
                    }
                }
            }
            Policy::OneCycle => {
                let mut c = OneCycleConfig::new(
                    self.req("max-lr", a.max_lr, "the peak learning rate, e.g. 0.01")?,
                    self.req(
                        "total-steps",
                        a.total_steps,
                        "the length of the run in steps",
                    )?,
                );
                if let Some(p) = self.opt("pct-start", a.pct_start) {
                    c.pct_start = p;
                }
                if let Some(s) = self.opt("anneal-strategy", a.anneal_strategy) {
                    c.anneal_strategy = match s {
                        AnnealArg::Cos => AnnealStrategy::Cos,
                        AnnealArg::Linear => AnnealStrategy::Linear,
                    };
                }
                if let Some(d) = self.opt("div-factor", a.div_factor) {
                    c.div_factor = d;
                }
                if let Some(d) = self.opt("final-div-factor", a.final_div_factor) {
                    c.final_div_factor = d;
                }
                c.three_phase = self
                    .opt("three-phase", Some(a.three_phase))
                    .unwrap_or(false);
                (c.base_momentum, c.max_momentum) = self.momentum();
                ScheduleConfig::OneCycle(c)
            }
            Policy::Sgdr => {
                let mut c = SgdrConfig::new(
                    self.req("max-lr", a.max_lr, "the rate at each restart, e.g. 0.01")?,
                    self.req("t0", a.t0, "steps in the first cycle, e.g. 1000")?,
                );
                c.t_mult = self.opt("t-mult", a.t_mult).unwrap_or(1);
                c.min_lr = self.opt("min-lr", a.min_lr).unwrap_or(0.0);
                ScheduleConfig::Sgdr(c)
            }
            Policy::Fixed => ScheduleConfig::Fixed(FixedConfig::new(self.req(
                "base-lr",
                a.base_lr,
                "the learning rate, e.g. 0.001",
            )?)),
            Policy::Decay => ScheduleConfig::Decay(DecayConfig::new(
                self.req("base-lr", a.base_lr, "the rate decayed to, e.g. 0.001")?,
                self.req("max-lr", a.max_lr, "the starting rate, e.g. 0.006")?,
                self.req("step-size-up", a.step_size_up, "the steps the decay takes")?,
            )),
            Policy::Exp => ScheduleConfig::Exp(ExpConfig::new(
                self.req("base-lr", a.base_lr, "the starting rate, e.g. 0.006")?,
                self.req("gamma", a.gamma, "the factor per step, e.g. 0.99994")?,
            )),
            Policy::Step => ScheduleConfig::Step(StepDecayConfig::new(
                self.req("base-lr", a.base_lr, "the starting rate, e.g. 0.01")?,
                self.req("step-size-up", a.step_size_up, "steps between decays")?,
                self.req("gamma", a.gamma, "the factor at each decay, e.g. 0.1")?,
            )),
            Policy::Linear => ScheduleConfig::Linear(LinearConfig::new(
                self.req("start-lr", a.start_lr, "the first rate")?,
                self.req("end-lr", a.end_lr, "the last rate")?,
                self.req("total-steps", a.total_steps, "the length of the ramp")?,
            )),
            Policy::Sequence => {
                return Err(CliError::usage(
                    "a sequence cannot be given with flags: write it in a TOML file and pass --config FILE",
                ));
            }
        })
    }
}

impl ScheduleArgs {
    /// The options the user actually gave, by flag name.
    fn given(&self) -> Vec<&'static str> {
        let mut g = Vec::new();
        macro_rules! check {
            ($($field:ident => $name:literal),*) => {$(
                if self.$field.is_some() { g.push($name); }
            )*};
        }
        check!(base_lr => "base-lr", max_lr => "max-lr", step_size_up => "step-size-up",
            step_size_down => "step-size-down", gamma => "gamma", scale_mode => "scale-mode",
            base_momentum => "base-momentum", max_momentum => "max-momentum",
            total_steps => "total-steps", pct_start => "pct-start",
            anneal_strategy => "anneal-strategy", div_factor => "div-factor",
            final_div_factor => "final-div-factor", t0 => "t0", t_mult => "t-mult",
            min_lr => "min-lr", start_lr => "start-lr", end_lr => "end-lr");
        if self.cycle_momentum {
            g.push("cycle-momentum");
        }
        if self.three_phase {
            g.push("three-phase");
        }
        g
    }

    pub fn is_empty(&self) -> bool {
        self.given().is_empty()
    }

    /// Builds and validates one schedule per policy. Every option given must be used by at
    /// least one of them.
    pub fn schedules(&self, policies: &[Policy]) -> CliResult<Vec<Schedule>> {
        let mut used = BTreeSet::new();
        let mut out = Vec::new();
        for &policy in policies {
            let config = Taker {
                args: self,
                policy,
                used: &mut used,
            }
            .config()?;
            let schedule = config
                .init()
                .map_err(|e| CliError::usage(format!("{policy}: {e}")))?;
            out.push(schedule);
        }
        if let Some(unused) = self.given().into_iter().find(|g| !used.contains(g)) {
            let names: Vec<_> = policies.iter().map(|p| p.name()).collect();
            return Err(CliError::usage(format!(
                "--{unused} does not apply to {}: remove it",
                names.join(", ")
            )));
        }
        Ok(out)
    }
}

/// The largest schedule config read (a hand-written one is a few hundred bytes).
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Reads a regular file of at most `limit` bytes as UTF-8: a device such as /dev/zero or a
/// FIFO would otherwise be read forever.
fn read_small_text(path: &Path, limit: u64) -> Result<String, String> {
    use std::io::Read;
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file (a folder, device or pipe)".into());
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(limit + 1).read_to_end(&mut bytes))
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > limit {
        return Err(format!("larger than {limit} bytes: not a schedule config"));
    }
    String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())
}

/// Reads a schedule from a TOML or JSON file (by extension; TOML otherwise).
pub fn read_schedule_file(path: &Path) -> CliResult<Schedule> {
    let text = read_small_text(path, MAX_CONFIG_BYTES).map_err(|e| {
        CliError::usage(format!(
            "cannot read schedule config {}: {e}",
            path.display()
        ))
    })?;
    let parsed: Result<Schedule, String> = if is_json(path) {
        serde_json::from_str(&text).map_err(|e| e.to_string())
    } else {
        toml::from_str(&text).map_err(|e| e.to_string())
    };
    parsed.map_err(|e| {
        // The parser quotes the offending line: a long one is cut, not echoed whole.
        let lines: Vec<String> = e.trim().lines().map(|l| shorten(l, 160)).collect();
        CliError::usage(format!(
            "{} is not a valid schedule: {}",
            path.display(),
            lines.join("\n")
        ))
    })
}

/// `line`, cut to `max` characters with an ellipsis.
fn shorten(line: &str, max: usize) -> String {
    match line.char_indices().nth(max) {
        Some((at, _)) => format!("{}...", &line[..at]),
        None => line.to_string(),
    }
}

/// Writes a schedule as TOML (or JSON for a .json name). Only a regular file (or a new
/// one) is written: a symlink, folder or device at that path is refused, not replaced.
pub fn write_schedule_file(path: &Path, schedule: &Schedule) -> CliResult<()> {
    if let Ok(meta) = std::fs::symlink_metadata(path)
        && !meta.file_type().is_file()
    {
        return Err(CliError::usage(format!(
            "--save-config {}: there is a {} there, not a regular file; give a file name",
            path.display(),
            if meta.file_type().is_symlink() {
                "symbolic link"
            } else if meta.is_dir() {
                "folder"
            } else {
                "device or pipe"
            }
        )));
    }
    let text = if is_json(path) {
        serde_json::to_string_pretty(schedule).map_err(anyhow::Error::from)?
    } else {
        toml::to_string(schedule).map_err(anyhow::Error::from)?
    };
    Ok(cyclr_cifar::io::write_atomic(path, text.as_bytes())?)
}

fn is_json(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// A schedule from `--config FILE`, or from a policy and flags; not both.
pub fn schedule_from(
    policy: Option<Policy>,
    config: Option<&PathBuf>,
    args: &ScheduleArgs,
) -> CliResult<Schedule> {
    match (policy, config) {
        (Some(_), Some(_)) => Err(CliError::usage(
            "give either a policy with flags or --config FILE, not both",
        )),
        (None, Some(path)) => {
            if let Some(g) = args.given().first() {
                return Err(CliError::usage(format!(
                    "--{g} conflicts with --config: put it in the config file instead"
                )));
            }
            read_schedule_file(path)
        }
        (Some(p), None) => Ok(args.schedules(&[p])?.remove(0)),
        (None, None) => Err(CliError::usage(
            "no schedule given: name a policy (e.g. --policy triangular) or pass --config FILE",
        )),
    }
}

pub fn parse_policy(s: &str) -> Result<Policy, String> {
    s.parse::<Policy>().map_err(|e| e.to_string())
}
