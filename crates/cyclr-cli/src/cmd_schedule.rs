//! `cyclr schedule`: print, plot or save learning-rate schedules.

use crate::output::note;
use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use cyclr::plot::{Chart, Series};
use cyclr::{LrSchedule, Policy, Schedule};

use crate::error::{CliError, CliResult};
use crate::schedule_args::{ScheduleArgs, parse_policy, read_schedule_file, write_schedule_file};

#[derive(Debug, Args)]
pub struct ScheduleCmd {
    #[arg(value_parser = parse_policy, value_name = "POLICY", help = format!(
        "Policies: {} (several are drawn together to compare them)",
        Policy::names()
    ))]
    pub policies: Vec<Policy>,
    /// Number of steps to evaluate, 0..N-1 (default: three cycles, or the whole schedule).
    #[arg(long)]
    pub steps: Option<u64>,
    /// Print JSON records instead of CSV.
    #[arg(long)]
    pub json: bool,
    /// Draw the learning rate (and momentum on a second axis) to FILE.png or FILE.svg.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Read the schedule from a TOML (or .json) file instead of flags.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Write the schedule's config as TOML (or .json) to FILE.
    #[arg(long, value_name = "FILE")]
    pub save_config: Option<PathBuf>,
    /// Print the values even when --plot or --save-config is given.
    #[arg(long)]
    pub print: bool,
    #[command(flatten)]
    pub schedule: ScheduleArgs,
}

pub fn run(cmd: ScheduleCmd) -> CliResult {
    let schedules: Vec<Schedule> = match &cmd.config {
        Some(path) => {
            if !cmd.policies.is_empty() || !cmd.schedule.is_empty() {
                return Err(CliError::usage(
                    "give either policies with flags or --config FILE, not both",
                ));
            }
            vec![read_schedule_file(path)?]
        }
        None if cmd.policies.is_empty() => {
            return Err(CliError::usage(
                "name a policy, e.g. `cyclr schedule triangular --base-lr 0.001 --max-lr 0.006 --step-size-up 2000`, or pass --config FILE",
            ));
        }
        None => cmd.schedule.schedules(&cmd.policies)?,
    };
    let steps = cmd.steps.unwrap_or_else(|| {
        schedules
            .iter()
            .map(|s| s.horizon().span)
            .max()
            .unwrap_or(1000)
    });
    if steps == 0 {
        return Err(CliError::usage("--steps is 0: give at least 1"));
    }
    if steps > 100_000_000 {
        return Err(CliError::usage(match cmd.steps {
            Some(_) => {
                format!("--steps {steps} is too many to print or plot: give at most 100,000,000")
            }
            None => format!(
                "three cycles of this schedule are {steps} steps, too many to print or plot: pass --steps N (at most 100,000,000)"
            ),
        }));
    }

    if let Some(path) = &cmd.save_config {
        if schedules.len() != 1 {
            return Err(CliError::usage(
                "--save-config writes one schedule: name a single policy",
            ));
        }
        write_schedule_file(path, &schedules[0])?;
        note!("wrote {}", path.display());
    }
    if let Some(path) = &cmd.plot {
        chart(&schedules, steps)
            .save(path)
            .map_err(anyhow::Error::from)?;
        note!("wrote {}", path.display());
    }
    if cmd.print || (cmd.plot.is_none() && cmd.save_config.is_none()) {
        print_values(&schedules, steps, cmd.json)?;
    }
    Ok(())
}

fn column_names(schedules: &[Schedule]) -> Vec<String> {
    let mut cols = vec!["step".to_string()];
    for s in schedules {
        let (lr, m) = if schedules.len() == 1 {
            ("lr".to_string(), "momentum".to_string())
        } else {
            (s.policy().to_string(), format!("{}_momentum", s.policy()))
        };
        cols.push(lr);
        if s.cycles_momentum() {
            cols.push(m);
        }
    }
    cols
}

fn print_values(schedules: &[Schedule], steps: u64, json: bool) -> CliResult {
    let names = column_names(schedules);
    let stdout = std::io::stdout().lock();
    let mut out = std::io::BufWriter::new(stdout);
    // The columns after `step`, in the order of `names`; written straight out, since
    // --steps may ask for a hundred million rows.
    let values = |step: u64| {
        schedules
            .iter()
            .flat_map(move |s| std::iter::once(s.lr(step)).chain(s.momentum(step)))
    };
    // `{:?}` prints the shortest text that reads back to the same f64.
    let result: std::io::Result<()> = (|| {
        if json {
            writeln!(out, "[")?;
            for step in 0..steps {
                write!(out, "{{\"{}\":{step}", names[0])?;
                for (n, v) in names[1..].iter().zip(values(step)) {
                    write!(out, ",\"{n}\":{v:?}")?;
                }
                let sep = if step + 1 < steps { "," } else { "" };
                writeln!(out, "}}{sep}")?;
            }
            writeln!(out, "]")?;
        } else {
            writeln!(out, "{}", names.join(","))?;
            for step in 0..steps {
                write!(out, "{step}")?;
                for v in values(step) {
                    write!(out, ",{v:?}")?;
                }
                writeln!(out)?;
            }
        }
        out.flush()
    })();
    match result {
        Err(e) => crate::output::stdout_failed(&e),
        Ok(()) => Ok(()),
    }
}

fn chart(schedules: &[Schedule], steps: u64) -> Chart {
    // Thousands of points per line are plenty for a picture.
    let xs = cyclr::plot::sample_steps(steps, 4000);
    let names: Vec<_> = schedules.iter().map(|s| s.policy().to_string()).collect();
    let title = if schedules.len() == 1 {
        format!("{} learning-rate schedule", names[0])
    } else {
        format!("Learning-rate schedules: {}", names.join(", "))
    };
    let mut chart = Chart::new(title, "iteration", "learning rate");
    let mut momentum = Vec::new();
    for s in schedules {
        let label = s.policy().to_string();
        chart = chart.line(Series::new(
            &label,
            xs.iter().map(|&x| (x as f64, s.lr(x))).collect(),
        ));
        if s.cycles_momentum() {
            momentum.push(Series::new(
                format!("{label} momentum"),
                xs.iter()
                    .filter_map(|&x| Some((x as f64, s.momentum(x)?)))
                    .collect(),
            ));
        }
    }
    if !momentum.is_empty() {
        chart = chart.right_axis("momentum", momentum);
    }
    chart
}
