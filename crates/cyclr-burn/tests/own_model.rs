//! The own-model example, run on a small setting: a residual net with batch norm on data
//! made here goes from the range test to CLR training in burn-train, and a run resumed
//! from burn's checkpoint ends exactly where an uninterrupted one does.

#[path = "../examples/own_model.rs"]
#[allow(dead_code)]
mod own_model;

use burn::tensor::Device;
use cyclr::LrSchedule;
use own_model::{Settings, evaluate, loader, rings, train, weights};

#[test]
fn range_test_bounds_then_clr_training_then_exact_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let settings = Settings {
        train_points: 900,
        batch_size: 50,
        range_iterations: 100,
        epochs: 4,
        dir: tmp.path().join("uninterrupted"),
    };
    let out = own_model::run(&settings).expect("the example runs");

    // The range test found bounds inside its ramp, and they became the schedule.
    let rec = out
        .range_test
        .analysis
        .recommendation
        .clone()
        .expect("bounds");
    assert!(
        rec.base_lr >= 1e-3 && rec.base_lr < rec.max_lr && rec.max_lr <= 3.0,
        "{rec:?}"
    );
    assert_eq!(out.schedule.lr(0), rec.base_lr);
    assert!(
        out.range_test
            .points
            .iter()
            .filter(|p| p.test_accuracy.is_some())
            .count()
            >= 10
    );
    assert_eq!(
        out.range_test
            .stepsize
            .as_ref()
            .map(|s| s.iterations_per_epoch),
        Some(18)
    );

    // The loss falls and the rings are learnt.
    assert!(
        out.after.0 < 0.5 * out.before.0,
        "validation loss {} -> {}",
        out.before.0,
        out.after.0
    );
    assert!(out.after.1 > 0.9, "validation accuracy {}", out.after.1);

    // Stopped after 2 epochs and resumed from burn's checkpoint: the same weights, batch
    // norm statistics included, and the same predictions as the uninterrupted run.
    let device = Device::flex().autodiff();
    let dir = tmp.path().join("resumed");
    let half = train(&out.schedule, &settings, &dir, 2, None, &device);
    assert_ne!(
        weights(&half),
        weights(&out.model),
        "half-way is not the end"
    );
    assert!(
        dir.join("checkpoint").join("model-2.bpk").is_file(),
        "burn wrote the epoch-2 checkpoint"
    );
    let resumed = train(&out.schedule, &settings, &dir, 4, Some(2), &device);
    assert_eq!(weights(&resumed), weights(&out.model));
    let valid = loader(
        rings(settings.train_points / 5, 2),
        settings.batch_size,
        &device,
    );
    assert_eq!(evaluate(&resumed, valid.as_ref()), out.after);
}
