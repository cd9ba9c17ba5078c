//! The trainer on real CIFAR-10 subsets: it learns, it resumes exactly, it is
//! deterministic, and it stops cleanly on divergence or interruption.

mod common;
use common::cifar_archive;

use std::sync::OnceLock;

use cyclr::{CyclicConfig, FixedConfig, Schedule, ScheduleConfig, SequenceConfig};
use cyclr_burn::optim::OptimizerConfig;
use cyclr_cifar::data::Cifar10;
use cyclr_cifar::observer::{Observer, Silent};
use cyclr_cifar::run_record::{MetricsRow, RunRecord, RunStatus, load_outcome, read_metrics};
use cyclr_cifar::train::{TrainConfig, load_summary, train};

fn full() -> &'static Cifar10 {
    static DATA: OnceLock<Cifar10> = OnceLock::new();
    DATA.get_or_init(|| Cifar10::load(&cifar_archive()).expect("shared CIFAR-10"))
}

fn subset(train: usize, test: usize) -> Cifar10 {
    full().clone().limit(Some(train), Some(test)).unwrap()
}

fn triangular(base: f64, max: f64, step: u64) -> Schedule {
    ScheduleConfig::Triangular(CyclicConfig::new(base, max, step))
        .init()
        .unwrap()
}

/// The columns that must match between runs (wall-clock ones cannot).
fn numbers(rows: &[MetricsRow]) -> Vec<[f64; 8]> {
    rows.iter()
        .map(|r| {
            [
                r.step as f64,
                r.epoch,
                r.lr,
                r.momentum,
                r.train_loss,
                r.train_accuracy,
                r.test_loss,
                r.test_accuracy,
            ]
        })
        .collect()
}

#[test]
fn triangular_clr_on_5000_images_learns_well_above_chance() {
    let data = subset(5000, 1000);
    let mut config = TrainConfig::new(triangular(0.001, 0.005, 75), OptimizerConfig::adam());
    config.epochs = 3;
    config.seed = 1;
    let dir = tempfile::tempdir().unwrap();
    let s = train(&config, &data, dir.path(), false, &mut Silent).unwrap();
    assert_eq!(s.status, RunStatus::Finished);
    assert_eq!(s.steps, 150);
    let acc = s.final_test_accuracy.unwrap();
    println!("final test accuracy after 3 epochs on 5,000 images: {acc:.3}");
    assert!(
        acc > 0.30,
        "test accuracy {acc} is not clearly above chance (0.10)"
    );

    // The files a user reads.
    let rows = read_metrics(dir.path()).unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows.last().unwrap().test_accuracy, acc);
    assert!(
        rows.iter()
            .all(|r| r.images_per_s > 0.0 && r.elapsed_s > 0.0)
    );
    let run: RunRecord =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("run.json")).unwrap())
            .unwrap();
    assert_eq!(run.status, RunStatus::Finished);
    assert_eq!(run.final_test_accuracy, Some(acc));
    assert_eq!(run.data.train_images, 5000);
    let png = std::fs::read(dir.path().join("training.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
}

fn small_config(epochs: u64) -> TrainConfig {
    let mut c = TrainConfig::new(triangular(0.001, 0.004, 7), OptimizerConfig::adam());
    c.epochs = epochs;
    c.seed = 42;
    c.eval_every = Some(4);
    c
}

/// Stops after `n` batches, like Ctrl-C would.
struct StopAfter(u64, u64);
impl Observer for StopAfter {
    fn on_batch(&mut self, _: &cyclr_cifar::observer::BatchProgress) {
        self.1 += 1;
    }
    fn should_stop(&self) -> bool {
        self.1 >= self.0
    }
}

#[test]
fn resuming_gives_exactly_the_uninterrupted_metrics() {
    let data = subset(1000, 200);
    let straight = tempfile::tempdir().unwrap();
    let full_run = train(&small_config(2), &data, straight.path(), false, &mut Silent).unwrap();
    assert_eq!(full_run.status, RunStatus::Finished);

    // Same seed, same thread count: the same numbers.
    let again = tempfile::tempdir().unwrap();
    let second = train(&small_config(2), &data, again.path(), false, &mut Silent).unwrap();
    assert_eq!(numbers(&second.metrics), numbers(&full_run.metrics));

    // 1 epoch, then resume for the second.
    let split = tempfile::tempdir().unwrap();
    let first = train(&small_config(1), &data, split.path(), false, &mut Silent).unwrap();
    assert_eq!(first.status, RunStatus::Finished);
    assert_eq!(first.steps, 10);
    let resumed = train(&small_config(2), &data, split.path(), true, &mut Silent).unwrap();
    assert_eq!(numbers(&resumed.metrics), numbers(&full_run.metrics));
    assert_eq!(
        numbers(&read_metrics(split.path()).unwrap()),
        numbers(&full_run.metrics)
    );

    // Interrupted mid-epoch (a checkpoint at the current batch), then resumed.
    let cut = tempfile::tempdir().unwrap();
    let stopped = train(
        &small_config(2),
        &data,
        cut.path(),
        false,
        &mut StopAfter(13, 0),
    )
    .unwrap();
    assert_eq!(stopped.status, RunStatus::Interrupted);
    assert_eq!(stopped.steps, 13);
    assert!(stopped.note.unwrap().contains("a checkpoint was saved"));
    let saved = load_summary(cut.path()).unwrap().unwrap();
    assert_eq!(saved.steps, 13);
    let resumed = train(&small_config(2), &data, cut.path(), true, &mut Silent).unwrap();
    assert_eq!(numbers(&resumed.metrics), numbers(&full_run.metrics));
}

#[test]
fn a_diverging_run_stops_and_keeps_its_metrics_and_last_good_checkpoint() {
    let data = subset(1000, 200);
    // A sane rate for the first epoch, then one so large the loss explodes.
    let schedule = ScheduleConfig::Sequence(SequenceConfig {
        boundaries: vec![10],
        schedules: vec![
            ScheduleConfig::Fixed(FixedConfig::new(0.001)),
            ScheduleConfig::Fixed(FixedConfig::new(1e12)),
        ],
    })
    .init()
    .unwrap();
    let mut config = TrainConfig::new(schedule, OptimizerConfig::sgd());
    config.epochs = 3;
    let dir = tempfile::tempdir().unwrap();
    let s = train(&config, &data, dir.path(), false, &mut Silent).unwrap();
    assert_eq!(s.status, RunStatus::Diverged);
    let note = s.note.clone().unwrap();
    assert!(
        note.contains("the loss became") && note.contains("Lower the maximum learning rate"),
        "{note}"
    );
    let rows = read_metrics(dir.path()).unwrap();
    assert_eq!(rows.len(), 1, "the first epoch's row is kept");
    assert_eq!(rows[0].step, 10);
    let saved = load_summary(dir.path()).unwrap().unwrap();
    assert_eq!(
        saved.steps, 10,
        "the checkpoint holds the last good weights"
    );
    assert_eq!(saved.status, RunStatus::Diverged);
    let run: RunRecord =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("run.json")).unwrap())
            .unwrap();
    assert_eq!(run.status, RunStatus::Diverged);
    // What a later look at the folder (a restarted recreate) reports is what train returned.
    assert_eq!(load_outcome(dir.path()).unwrap().unwrap(), s);

    // Diverging before the first epoch end leaves no checkpoint, but the outcome is kept.
    let mut config = config.clone();
    config.schedule = ScheduleConfig::Fixed(FixedConfig::new(1e12))
        .init()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s = train(&config, &data, dir.path(), false, &mut Silent).unwrap();
    assert_eq!(s.status, RunStatus::Diverged);
    assert!(load_summary(dir.path()).unwrap().is_none());
    assert_eq!(load_outcome(dir.path()).unwrap().unwrap(), s);
}

#[test]
fn bad_settings_and_misused_run_folders_are_explained() {
    let data = subset(100, 20);
    // Settings are named in the library's words; a front-end renders its own (here, as
    // the CLI's flags).
    let as_flags = |s: &str| format!("--{}", s.replace('_', "-"));
    let dir = tempfile::tempdir().unwrap();
    let mut c = small_config(1);
    c.batch_size = 0;
    let e = train(&c, &data, dir.path(), false, &mut Silent)
        .unwrap_err()
        .describe(&as_flags);
    assert!(e.contains("--batch-size is 0"), "{e}");

    train(&small_config(1), &data, dir.path(), false, &mut Silent).unwrap();
    let e = train(&small_config(1), &data, dir.path(), false, &mut Silent)
        .unwrap_err()
        .describe(&as_flags);
    assert!(e.contains("already holds a run: pass --resume"), "{e}");

    let mut other = small_config(1);
    other.seed = 7;
    let e = train(&other, &data, dir.path(), true, &mut Silent)
        .unwrap_err()
        .describe(&as_flags);
    assert!(e.contains("different configuration"), "{e}");

    let e = train(
        &small_config(1),
        &subset(200, 20),
        dir.path(),
        true,
        &mut Silent,
    )
    .unwrap_err()
    .describe(&as_flags);
    assert!(e.contains("--train-limit"), "{e}");
}
