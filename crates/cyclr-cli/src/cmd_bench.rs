//! `cyclr bench`: training and evaluation throughput and peak memory of the reference CNN.

use crate::output::{note, say};
use clap::Args;
use cyclr_cifar::bench::{BenchConfig, run_bench};

use crate::common::DeviceArgs;
use crate::error::{CliError, CliResult};

#[derive(Debug, Args)]
pub struct BenchCmd {
    #[arg(long, default_value_t = 100)]
    pub batch_size: usize,
    /// Untimed iterations before measuring.
    #[arg(long, default_value_t = 10)]
    pub warmup: usize,
    /// Timed iterations per repeat.
    #[arg(long, default_value_t = 30)]
    pub iters: usize,
    /// Repeats; the median is reported.
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub device: DeviceArgs,
}

pub fn run(cmd: BenchCmd) -> CliResult {
    let (backend, engine) = cmd.device.setup()?;
    let config = BenchConfig {
        batch_size: cmd.batch_size,
        warmup: cmd.warmup,
        iterations: cmd.iters,
        repeats: cmd.repeats,
        backend,
        engine,
    };
    config.validate()?;
    let r = run_bench(&config, &mut |m| note!("bench: {m}"))?;
    if cmd.json {
        say!(
            "{}",
            serde_json::to_string_pretty(&r).map_err(|e| CliError::Failed(e.into()))?
        );
        return Ok(());
    }
    say!(
        "reference CNN, batch {}, {}",
        r.config.batch_size,
        r.hardware.describe()
    );
    say!(
        "train: {:>8.0} images/s (median of {:?})",
        r.train_images_per_s,
        round(&r.train_samples)
    );
    say!(
        "eval:  {:>8.0} images/s (median of {:?})",
        r.eval_images_per_s,
        round(&r.eval_samples)
    );
    if let Some(m) = r.peak_rss_mib {
        say!("peak memory: {m:.0} MiB");
    }
    say!(
        "schedule: {:.1} ns per step ({:.5}% of a training step)",
        r.schedule_ns_per_step,
        r.schedule_fraction_of_step * 100.0
    );
    Ok(())
}

fn round(v: &[f64]) -> Vec<i64> {
    v.iter().map(|x| x.round() as i64).collect()
}
