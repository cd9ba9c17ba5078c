//! Throughput and memory of the reference CNN (batch 100, random data): what `cyclr bench`
//! measures, with warm-up and medians, for comparison with the PyTorch and Keras scripts in
//! `bench/`.

use std::time::Instant;

use cyclr::{CyclicConfig, LrSchedule, ScheduleConfig};
use serde::{Deserialize, Serialize};

use crate::data::{Batch, IMAGE_BYTES, Split};
use crate::engine::{Backend, Engine, EngineKind};
use crate::environment::Hardware;
use crate::error::{AppError, AppResult, message};
use crate::settings;
use cyclr_burn::optim::OptimizerConfig;

/// The largest batch a benchmark runs (memory grows with it).
pub const MAX_BATCH: usize = 4096;
/// Settings of a throughput benchmark.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchConfig {
    /// Images per batch.
    pub batch_size: usize,
    /// Untimed iterations first (allocator and caches settle).
    pub warmup: usize,
    /// Timed iterations per repeat.
    pub iterations: usize,
    /// Timed repeats; the result is their median.
    pub repeats: usize,
    /// The burn backend (device) to run on.
    pub backend: Backend,
    /// The fused CPU kernels or burn's ops.
    pub engine: EngineKind,
}

impl BenchConfig {
    /// Checks batch size, iterations and repeats are at least 1, and the engine fits the backend.
    pub fn validate(&self) -> AppResult<()> {
        settings::batch_size(self.batch_size)?;
        if self.iterations == 0 || self.repeats == 0 {
            return Err(AppError::Input(message!(
                "{iterations} and {repeats} must be at least 1"
            )));
        }
        // Each image of a batch holds about 0.7 MB of activations while it trains.
        if self.batch_size > MAX_BATCH {
            return Err(AppError::Input(message!(
                "{batch_size} {} is more than {}: give at most {} (a batch of 20,000 needs \
                 about 14 GB)",
                self.batch_size,
                MAX_BATCH,
                MAX_BATCH
            )));
        }
        if self.iterations > 1_000_000 || self.repeats > 1000 || self.warmup > 1_000_000 {
            return Err(AppError::Input(message!(
                "{iterations} and {warmup} go up to 1,000,000 and {repeats} to 1000"
            )));
        }
        self.engine.check(self.backend)
    }
}

impl Default for BenchConfig {
    fn default() -> Self {
        Self {
            batch_size: 100,
            warmup: 10,
            iterations: 30,
            repeats: 5,
            backend: Backend::Flex,
            engine: EngineKind::Fused,
        }
    }
}

/// What a benchmark measured, with its settings and hardware.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchResult {
    /// The settings benchmarked.
    pub config: BenchConfig,
    /// The machine, backend and engine it ran on.
    pub hardware: Hardware,
    /// Median training throughput (forward, backward, Adam step), images per second.
    pub train_images_per_s: f64,
    /// Training throughput of each repeat, images per second.
    pub train_samples: Vec<f64>,
    /// Median evaluation throughput (forward only), images per second.
    pub eval_images_per_s: f64,
    /// Evaluation throughput of each repeat, images per second.
    pub eval_samples: Vec<f64>,
    /// Peak resident memory of the process (VmHWM), MiB.
    pub peak_rss_mib: Option<f64>,
    /// Cost of computing the learning rate and momentum for one step.
    pub schedule_ns_per_step: f64,
    /// That cost as a fraction of one training step.
    pub schedule_fraction_of_step: f64,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Deterministic pseudo-random pixels and labels (what the reference scripts use too:
/// random data, so the figures measure compute, not the dataset).
fn random_split(n: usize, seed: u64) -> Split {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    Split {
        images: (0..n * IMAGE_BYTES).map(|_| next() as u8).collect(),
        labels: (0..n).map(|_| (next() % 10) as u8).collect(),
    }
}

/// Peak resident set size of this process, from /proc (Linux).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Measures training and evaluation throughput on random data, and the schedule's cost;
/// `progress` hears a line before each warm-up and repeat.
pub fn run_bench(config: &BenchConfig, progress: &mut dyn FnMut(&str)) -> AppResult<BenchResult> {
    config.validate()?;
    let device = config.backend.device()?;
    let mut engine = Engine::new(&OptimizerConfig::adam(), 1, device, config.engine);
    let b = config.batch_size;
    let split = random_split(b * 8, 7);
    let batches: Vec<Batch> = (0..8)
        .map(|k| {
            crate::data::make_batch(
                &split,
                &((k * b) as u32..((k + 1) * b) as u32).collect::<Vec<_>>(),
            )
        })
        .collect();

    progress("training: warm-up");
    for i in 0..config.warmup {
        engine.train_batch(&batches[i % batches.len()], 1e-3);
    }
    let mut train_samples = Vec::new();
    for r in 0..config.repeats {
        progress(&format!("training: repeat {}/{}", r + 1, config.repeats));
        let t = Instant::now();
        for i in 0..config.iterations {
            engine.train_batch(&batches[i % batches.len()], 1e-3);
        }
        train_samples.push((config.iterations * b) as f64 / t.elapsed().as_secs_f64());
    }

    let eval_split = random_split(b * config.iterations, 11);
    progress("evaluation: warm-up");
    engine.evaluate(&random_split(b * config.warmup.max(1), 3), b);
    let mut eval_samples = Vec::new();
    for r in 0..config.repeats {
        progress(&format!("evaluation: repeat {}/{}", r + 1, config.repeats));
        let t = Instant::now();
        engine.evaluate(&eval_split, b);
        eval_samples.push(eval_split.len() as f64 / t.elapsed().as_secs_f64());
    }

    // The schedule's share of a step: a cyclical LR with cyclical momentum.
    let schedule = ScheduleConfig::ExpRange(
        CyclicConfig::new(0.001, 0.006, 2000)
            .with_gamma(0.99994)
            .with_momentum(0.85, 0.95),
    )
    .init()?;
    let calls = 1_000_000u64;
    let t = Instant::now();
    let mut acc = 0.0;
    for step in 0..calls {
        acc += schedule.lr(step) + schedule.momentum(step).unwrap_or(0.0);
    }
    std::hint::black_box(acc);
    let schedule_ns = t.elapsed().as_secs_f64() * 1e9 / calls as f64;

    let train = median(&mut train_samples.clone());
    let step_ns = b as f64 / train * 1e9;
    Ok(BenchResult {
        config: config.clone(),
        hardware: Hardware::current(config.backend, config.engine),
        train_images_per_s: train,
        train_samples,
        eval_images_per_s: median(&mut eval_samples.clone()),
        eval_samples,
        peak_rss_mib: peak_rss_mib(),
        schedule_ns_per_step: schedule_ns,
        schedule_fraction_of_step: schedule_ns / step_ns,
    })
}
