//! Options and helpers shared by the commands that train: data, device, progress, Ctrl-C.

use crate::output::note;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use clap::{Args, ValueEnum};
use cyclr_burn::optim::OptimizerConfig;
use cyclr_cifar::adapter::Adapter;
use cyclr_cifar::data::Cifar10;
use cyclr_cifar::download::locate_data;
use cyclr_cifar::engine::{Backend, EngineKind};
use cyclr_cifar::observer::{BatchProgress, Observer};
use cyclr_cifar::run_record::MetricsRow;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::{CliError, CliResult, flag};

#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Data")]
pub struct DataArgs {
    /// CIFAR-10 binary archive (cifar-10-binary.tar.gz) or the folder it unpacks to.
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Download the official archive into the cache (~/.cache/cyclr) if it is not there.
    #[arg(long)]
    pub download: bool,
    /// Train on a class-balanced subset of this many images.
    #[arg(long, value_name = "N")]
    pub train_limit: Option<usize>,
    /// Evaluate on a class-balanced subset of this many test images.
    #[arg(long, value_name = "N")]
    pub test_limit: Option<usize>,
}

impl DataArgs {
    /// Finds (or downloads) and reads the data, with its subsets.
    pub fn load(&self) -> CliResult<Cifar10> {
        if self.data.is_some() && self.download {
            return Err(CliError::usage(
                "--data and --download conflict: give a local copy or ask for a download, not both",
            ));
        }
        let mut bar: Option<ProgressBar> = None;
        let path = locate_data(self.data.as_deref(), self.download, &mut |got, total| {
            let b = bar.get_or_insert_with(|| {
                let b = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
                b.set_style(
                    ProgressStyle::with_template(
                        "downloading CIFAR-10 {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                    )
                    .unwrap(),
                );
                b
            });
            b.set_position(got);
        })
        // Missing input is the user's to fix (exit 2); a failed download is not.
        ?;
        if let Some(b) = bar {
            b.finish_and_clear();
            note!("downloaded and verified {}", path.display());
        }
        let data = Cifar10::load(&path).map_err(|e| match e.is_input() {
            true => CliError::usage(e.describe(&flag)),
            false => CliError::Failed(e.into()),
        })?;
        data.limit(self.train_limit, self.test_limit)
            .map_err(|e| match e.is_input() {
                true => CliError::usage(e.describe(&flag)),
                false => CliError::Failed(e.into()),
            })
    }
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum OptimizerArg {
    Adam,
    Sgd,
    Adamw,
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Optimizer and device")]
pub struct OptimArgs {
    /// Adam (the seed's choice, the default), SGD with momentum (the paper's) or AdamW
    /// (decoupled weight decay).
    #[arg(long, value_enum)]
    pub optimizer: Option<OptimizerArg>,
    /// SGD momentum or Adam beta1, when the schedule does not cycle it (default 0.9).
    #[arg(long, allow_negative_numbers = true)]
    pub momentum: Option<f64>,
    /// Weight decay: L2, added to the gradient, for Adam and SGD; decoupled for AdamW
    /// (default 0, and 0.01 for AdamW).
    #[arg(long, allow_negative_numbers = true)]
    pub weight_decay: Option<f64>,
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// Where and how the model runs.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Device")]
pub struct DeviceArgs {
    /// Backend: flex (CPU, default), cuda or wgpu (GPU builds).
    #[arg(long, default_value = "flex", value_parser = parse_backend)]
    pub device: Backend,
    /// fused (hand-written CPU kernels, the default on the CPU), fused-bf16 (the same with
    /// bf16 products, f32 sums: faster on CPUs with AVX-512 BF16, slightly different
    /// numbers) or burn (burn's ops; the default, and the only choice, on a GPU).
    #[arg(long, value_parser = parse_engine)]
    pub engine: Option<EngineKind>,
    /// CPU threads for the backend (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Run on a GPU backend even when the only adapter it finds is a software renderer
    /// on the CPU (Mesa's llvmpipe or lavapipe), which trains far slower than --device flex.
    #[arg(long)]
    pub allow_software: bool,
}

fn parse_engine(s: &str) -> Result<EngineKind, String> {
    s.parse()
}

fn parse_backend(s: &str) -> Result<Backend, String> {
    s.parse()
}

impl DeviceArgs {
    /// The thread count a run recorded (`run`, of `what`) when `--threads` is not given;
    /// a different `--threads` is refused, since the order of the sums, and so the
    /// numbers, depend on it.
    pub fn keep_threads(&mut self, run: Option<usize>, what: &str) -> CliResult {
        match (self.threads, run) {
            (Some(n), Some(m)) if n != m => Err(CliError::usage(format!(
                "--threads {n}: {what} was made with {m} thread(s), and its numbers depend on the \
                 count; leave --threads out to continue with {m}"
            ))),
            (None, Some(m)) => {
                self.threads = Some(m);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Says when `--threads` asks for more threads than a batch has images (the fused
    /// engine gives each thread whole images, so the rest would idle) or than the machine
    /// has cores (they would share them).
    pub fn note_threads(&self, batch_size: usize) {
        let Some(n) = self.threads else { return };
        let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
        if self.device == Backend::Flex && n > batch_size {
            note!(
                "note: --threads {n} is more than the {batch_size} images of a batch: the fused \
                 engine uses {batch_size} of them"
            );
        } else if n > cores {
            note!("note: --threads {n} is more than this machine's {cores} cores: they share them");
        }
    }

    /// Checks the device is in this build, sets the thread count, and picks the engine
    /// (the one asked for, or the natural one for the device). Call before any work.
    pub fn setup(&self) -> CliResult<(Backend, EngineKind)> {
        if let Some(n) = self.threads {
            if n == 0 || n > MAX_THREADS {
                return Err(CliError::usage(format!(
                    "--threads is {n}: give 1 to {MAX_THREADS} (this machine has {} cores)",
                    std::thread::available_parallelism().map_or(1, |c| c.get())
                )));
            }
            // run.json reports the pool's real size. An error here means the system would
            // not start the threads (a pool already built is the only other cause, and none
            // is built before this point).
            if let Err(e) = rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build_global()
            {
                return Err(CliError::usage(format!(
                    "--threads {n}: the system would not start {n} threads ({e}); give fewer"
                )));
            }
        }
        self.device.device()?;
        if let Some(adapter) = self.device.adapter() {
            check_adapter(self.device, &adapter, self.allow_software)?;
        }
        let natural = if self.device == Backend::Flex {
            EngineKind::Fused
        } else {
            EngineKind::Burn
        };
        let engine = self.engine.unwrap_or(natural);
        engine.check(self.device)?;
        Ok((self.device, engine))
    }
}

/// Says which adapter a GPU backend runs on, and refuses a software renderer unless
/// `--allow-software` asks for it: nobody should think llvmpipe is their GPU.
fn check_adapter(backend: Backend, adapter: &Adapter, allow_software: bool) -> CliResult {
    let name = backend.name();
    if !adapter.software {
        note!("device: {name} on {}", adapter.describe());
        return Ok(());
    }
    if !allow_software {
        return Err(CliError::usage(format!(
            "--device {name}: the only adapter found is {}, a software renderer on the CPU, \
             not a GPU; it trains far slower than --device flex. Install your GPU's Vulkan \
             driver (on Linux, `vulkaninfo --summary` should list the GPU), use --device flex, \
             or pass --allow-software to run on it anyway",
            adapter.describe()
        )));
    }
    note!(
        "WARNING: --device {name} is running on {}, a SOFTWARE renderer on the CPU, not a \
         GPU (--allow-software). Expect it to be far slower than --device flex.",
        adapter.describe()
    );
    Ok(())
}

impl OptimArgs {
    /// Whether any optimizer flag was given.
    pub fn is_given(&self) -> bool {
        self.optimizer.is_some() || self.momentum.is_some() || self.weight_decay.is_some()
    }

    /// The flags that give `c`, for a hint that must work as printed.
    pub fn flags_of(c: &OptimizerConfig) -> String {
        let mut f = format!("--optimizer {} --momentum {}", c.name(), c.momentum());
        let default_wd = match c.name() {
            "adamw" => OptimizerConfig::adamw().weight_decay(),
            _ => 0.0,
        };
        if c.weight_decay() != default_wd {
            f += &format!(" --weight-decay {}", c.weight_decay());
        }
        f
    }

    pub fn config(&self) -> CliResult<OptimizerConfig> {
        let mut c = match self.optimizer.unwrap_or(OptimizerArg::Adam) {
            OptimizerArg::Adam => OptimizerConfig::adam(),
            OptimizerArg::Sgd => OptimizerConfig::sgd(),
            OptimizerArg::Adamw => OptimizerConfig::adamw(),
        };
        if let Some(m) = self.momentum {
            c = c.with_momentum(m);
        }
        if let Some(wd) = self.weight_decay {
            c = c.with_weight_decay(wd);
        }
        c.validate().map_err(|e| {
            CliError::usage(format!("--optimizer {}: {}", c.name(), e.describe(&flag)))
        })?;
        Ok(c)
    }
}

/// `path` as a shell reads it back: quoted when it holds anything but plain characters.
pub fn shell_quote(path: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c);
    if !path.is_empty() && path.chars().all(plain) {
        path.to_string()
    } else {
        format!("'{}'", path.replace('\'', "'\\''"))
    }
}

/// The most threads `--threads` accepts.
const MAX_THREADS: usize = 1024;

/// Set by Ctrl-C; a second Ctrl-C exits at once. `what` says what the first one does
/// (e.g. "saving a checkpoint at the current batch").
pub fn interrupt_flag(what: &'static str) -> Arc<AtomicBool> {
    static PRESSES: AtomicUsize = AtomicUsize::new(0);
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    let _ = ctrlc::set_handler(move || {
        if PRESSES.fetch_add(1, Ordering::SeqCst) >= 1 {
            note!("\nsecond Ctrl-C: exiting without saving");
            std::process::exit(crate::error::EXIT_INTERRUPTED);
        }
        note!("\nCtrl-C: {what} (press again to quit now)");
        f.store(true, Ordering::SeqCst);
    });
    flag
}

/// A progress bar on stderr for training; plain lines when stderr is not a terminal.
pub struct ProgressObserver {
    bar: ProgressBar,
    stop: Arc<AtomicBool>,
    label: String,
    quiet: bool,
}

impl ProgressObserver {
    pub fn new(label: impl Into<String>, stop: Arc<AtomicBool>, quiet: bool) -> Self {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(Some(0), target);
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} {bar:28} {pos}/{len} it  {msg}  [{elapsed_precise} < {eta}]",
            )
            .unwrap()
            .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(250));
        Self {
            bar,
            stop,
            label: label.into(),
            quiet,
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        if self.bar.is_hidden() {
            note!("{text}");
        } else {
            self.bar.println(text);
        }
    }
}

impl Observer for ProgressObserver {
    fn on_start(&mut self, start: u64, total: u64) {
        self.bar.set_length(total);
        self.bar.set_position(start);
        self.bar.reset_eta();
    }

    fn on_batch(&mut self, p: &BatchProgress) {
        self.bar
            .set_prefix(format!("{} epoch {}", self.label, p.epoch));
        self.bar.set_position(p.step);
        self.bar.set_message(format!(
            "lr {:.2e} loss {:.3} acc {:.3} {:.0} img/s",
            p.lr, p.loss, p.accuracy, p.images_per_s
        ));
    }

    fn on_eval(&mut self, r: &MetricsRow) {
        self.line(&format!(
            "{} iter {:>6} epoch {:>6.2}  lr {:.2e}  train loss {:.4} acc {:.4}  test loss {:.4} acc {:.4}  {:.0} img/s",
            self.label, r.step, r.epoch, r.lr, r.train_loss, r.train_accuracy, r.test_loss, r.test_accuracy, r.images_per_s
        ));
    }

    fn message(&mut self, text: &str) {
        self.line(text);
    }

    fn phase(&mut self, name: &str) {
        self.label = name.to_string();
        self.line(&format!("== {name}"));
    }

    fn should_stop(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cyclr_cifar::adapter::AdapterKind;

    /// What wgpu reports on the CPU-only machines this was written on: Mesa over OpenGL.
    fn llvmpipe() -> Adapter {
        Adapter::new(
            "llvmpipe (LLVM 15.0.6, 256 bits)",
            0x10005,
            "",
            "4.5 (Core Profile) Mesa 22.3.6",
            "gl",
            AdapterKind::Cpu,
        )
    }

    #[test]
    fn a_software_adapter_is_refused_with_its_name_and_the_fixes() {
        match check_adapter(Backend::Wgpu, &llvmpipe(), false) {
            Err(CliError::Usage(m)) => {
                for part in [
                    "llvmpipe (LLVM 15.0.6",
                    "software renderer",
                    "--device flex",
                    "--allow-software",
                ] {
                    assert!(m.contains(part), "{part:?} missing from: {m}");
                }
            }
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn a_software_adapter_runs_when_allowed_and_a_gpu_always_does() {
        assert!(check_adapter(Backend::Wgpu, &llvmpipe(), true).is_ok());
        let gpu = Adapter::new(
            "NVIDIA H200",
            0x10de,
            "NVIDIA",
            "550",
            "vulkan",
            AdapterKind::DiscreteGpu,
        );
        assert!(check_adapter(Backend::Wgpu, &gpu, false).is_ok());
    }
}

#[cfg(test)]
mod quoting {
    use super::shell_quote;

    #[test]
    fn paths_are_quoted_as_a_shell_reads_them() {
        assert_eq!(
            shell_quote("/data/cifar-10.tar.gz"),
            "/data/cifar-10.tar.gz"
        );
        assert_eq!(shell_quote("/runs/my run"), "'/runs/my run'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
