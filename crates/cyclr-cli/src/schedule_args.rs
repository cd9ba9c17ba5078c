//! The schedule options shared by `cyclr schedule`, `cyclr train` and friends, named after
//! PyTorch's arguments in kebab-case, and their translation into a [`ScheduleConfig`].

use std::path::{Path, PathBuf};

use clap::Args;
use cyclr::{Parameter, ParameterError, Policy, Schedule, ScheduleError};
use serde::Serialize;

use crate::error::{CliError, CliResult, flag};

/// The schedule flags. Each is the config's parameter of the same name in kebab-case (its
/// serde name), so a schedule is built from the flags that were given by the config's own
/// `Deserialize`, with no per-policy code here.
#[derive(Debug, Clone, Default, Args, Serialize)]
#[command(next_help_heading = "Schedule options (PyTorch's names)")]
pub struct ScheduleArgs {
    /// Base (lowest) learning rate; the rate of `fixed`, `exp` and `step`.
    #[arg(long, value_name = "LR", allow_negative_numbers = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_lr: Option<f64>,
    /// Maximum (peak) learning rate.
    #[arg(long, value_name = "LR", allow_negative_numbers = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_lr: Option<f64>,
    /// Steps from base to max: the paper's stepsize, half a cycle (also the step size of
    /// `decay` and `step`).
    #[arg(long, visible_alias = "step-size", value_name = "STEPS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_size_up: Option<u64>,
    /// Steps from max back to base (default: --step-size-up).
    #[arg(long, value_name = "STEPS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_size_down: Option<u64>,
    /// Decay factor: exp_range's amplitude gamma^step, `exp`'s gamma^step, `step`'s factor.
    #[arg(long, allow_negative_numbers = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gamma: Option<f64>,
    /// Evaluate the amplitude scale on the cycle number or the step: `cycle` or
    /// `iterations`.
    #[arg(long, value_name = "MODE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale_mode: Option<String>,
    /// Lowest momentum (at the learning-rate peak); cycles momentum with --max-momentum.
    #[arg(long, allow_negative_numbers = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_momentum: Option<f64>,
    /// Highest momentum (at the base learning rate).
    #[arg(long, allow_negative_numbers = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_momentum: Option<f64>,
    /// Cycle momentum between PyTorch's defaults 0.85 and 0.95.
    #[arg(long)]
    #[serde(skip)]
    pub cycle_momentum: bool,
    /// one_cycle: length of the whole schedule in steps; linear: length of the ramp.
    #[arg(long, value_name = "STEPS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_steps: Option<u64>,
    /// one_cycle: fraction of the steps spent warming up (default 0.3).
    #[arg(long, allow_negative_numbers = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pct_start: Option<f64>,
    /// one_cycle: annealing shape, `cos` (default) or `linear`.
    #[arg(long, value_name = "SHAPE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anneal_strategy: Option<String>,
    /// one_cycle: initial rate = max_lr / div_factor (default 25).
    #[arg(long, allow_negative_numbers = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub div_factor: Option<f64>,
    /// one_cycle: final rate = initial / final_div_factor (default 1e4).
    #[arg(long, allow_negative_numbers = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_div_factor: Option<f64>,
    /// one_cycle: warm up, come back down symmetrically, then anneal.
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub three_phase: bool,
    /// sgdr: steps in the first cycle.
    #[arg(long, value_name = "STEPS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub t0: Option<u64>,
    /// sgdr: each cycle is this many times longer than the last (default 1).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub t_mult: Option<u64>,
    /// sgdr: the floor of the cosine (default 0).
    #[arg(long, allow_negative_numbers = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_lr: Option<f64>,
    /// linear: the first rate.
    #[arg(long, allow_negative_numbers = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_lr: Option<f64>,
    /// linear: the last rate.
    #[arg(long, allow_negative_numbers = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_lr: Option<f64>,
}

impl ScheduleArgs {
    /// The parameters given, by their config names, in the order of the struct.
    fn given(&self) -> Vec<(String, Parameter)> {
        let mut given = cyclr::parameters::parameters_of(self);
        if self.cycle_momentum {
            // PyTorch's defaults, for whichever of the two was not given.
            let d = cyclr::MomentumRange::PYTORCH_DEFAULT;
            for (name, value) in [
                ("base_momentum", d.base_momentum),
                ("max_momentum", d.max_momentum),
            ] {
                if !given.iter().any(|(n, _)| n == name) {
                    given.push((name.to_string(), Parameter::Float(value)));
                }
            }
        }
        given
    }

    /// The flags given, for messages.
    fn given_flags(&self) -> Vec<String> {
        let mut flags: Vec<String> = self.given().iter().map(|(n, _)| flag(n)).collect();
        if self.cycle_momentum {
            flags.retain(|f| f != "--base-momentum" && f != "--max-momentum");
            flags.push("--cycle-momentum".into());
        }
        flags
    }

    pub fn is_empty(&self) -> bool {
        self.given_flags().is_empty()
    }

    /// Builds and validates one schedule per policy. With several policies, each takes the
    /// parameters it accepts; every parameter given must be taken by at least one of them.
    pub fn schedules(&self, policies: &[Policy]) -> CliResult<Vec<Schedule>> {
        let given = self.given();
        let mut used = vec![false; given.len()];
        let mut out = Vec::new();
        for &policy in policies {
            let mut take: Vec<bool> = given
                .iter()
                .map(|(n, _)| policies.len() == 1 || policy.parameters().contains(&n.as_str()))
                .collect();
            let schedule = loop {
                let params = given
                    .iter()
                    .zip(&take)
                    .filter(|(_, t)| **t)
                    .map(|((n, v), _)| (n.as_str(), v.clone()));
                match Schedule::from_parameters(policy, params) {
                    // A parameter the config has but this policy refuses (gamma for
                    // triangular) is left to the other policies asked for.
                    Err(ParameterError::Schedule {
                        source: ScheduleError::NotApplicable { parameter, .. },
                        ..
                    }) if policies.len() > 1 => {
                        match given.iter().position(|(n, _)| n == parameter) {
                            Some(i) if take[i] => take[i] = false,
                            _ => return Err(parameter_error(policy, parameter)),
                        }
                    }
                    Err(e) => return Err(schedule_error(e)),
                    Ok(s) => break s,
                }
            };
            for (u, t) in used.iter_mut().zip(&take) {
                *u |= *t;
            }
            out.push(schedule);
        }
        if let Some(i) = used.iter().position(|u| !u) {
            let names: Vec<_> = policies.iter().map(|p| p.name()).collect();
            return Err(CliError::usage(format!(
                "{} does not apply to {}: remove it",
                flag(&given[i].0),
                names.join(", ")
            )));
        }
        Ok(out)
    }
}

fn parameter_error(policy: Policy, parameter: &str) -> CliError {
    CliError::usage(format!(
        "{} does not apply to {policy}: remove it",
        flag(parameter)
    ))
}

/// The first clause of a schedule flag's help, lower-cased, as a hint in a message; `None`
/// when the parameter has no flag (a sequence's schedules).
fn flag_help(parameter: &str) -> Option<String> {
    let cmd = <ScheduleArgs as Args>::augment_args(clap::Command::new("schedule"));
    let arg = cmd.get_arguments().find(|a| a.get_id() == parameter)?;
    let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
    // "one_cycle: length of the whole schedule in steps; linear: ..." -> the first clause,
    // without the policy it is about.
    let help = match help.split_once(": ") {
        Some((head, rest)) if head.parse::<Policy>().is_ok() => rest.to_string(),
        _ => help,
    };
    let first = help
        .split([';', ':'])
        .next()
        .unwrap_or("")
        .trim_end_matches('.');
    let mut chars = first.chars();
    Some(match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    })
}

/// A schedule that cannot be built from the flags, in the flags' words.
fn schedule_error(e: ParameterError) -> CliError {
    match e {
        ParameterError::Missing { policy, parameter } => match flag_help(parameter) {
            Some(help) => CliError::usage(format!("{policy} needs {} ({help})", flag(parameter))),
            None => CliError::usage(format!(
                "{policy} needs {parameter}, which has no flag: write it in a TOML \
                 file and pass --config FILE"
            )),
        },
        ParameterError::NotApplicable { policy, parameter } => parameter_error(policy, &parameter),
        ParameterError::Invalid { policy, message } => {
            CliError::usage(format!("{policy}: {message}"))
        }
        ParameterError::Schedule { policy, source } => match source {
            ScheduleError::NotApplicable { parameter, .. } => parameter_error(policy, parameter),
            ScheduleError::MissingGamma { .. } => CliError::usage(format!(
                "{policy} needs --gamma ({})",
                flag_help("gamma").unwrap_or_default()
            )),
            other => CliError::usage(format!("{policy}: {other}")),
        },
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
        // The parser quotes the offending line (`3 | ...`): a long one is cut, not echoed
        // whole; its own sentences (the list of policies) are kept whole.
        let quoted = |l: &str| {
            l.trim_start()
                .split_once('|')
                .is_some_and(|(n, _)| n.trim().chars().all(|c| c.is_ascii_digit()))
        };
        let lines: Vec<String> = e
            .trim()
            .lines()
            .map(|l| {
                if quoted(l) {
                    shorten(l, 160)
                } else {
                    l.to_string()
                }
            })
            .collect();
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
            if let Some(g) = args.given_flags().first() {
                return Err(CliError::usage(format!(
                    "{g} conflicts with --config: put it in the config file instead"
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
