//! `checkpoint.bin` is checked whole on load: a flipped byte in the weights or in the
//! header (step, settings), a cut file or a doubled one is refused with a message, never
//! resumed with wrong numbers.

mod common;
use common::synthetic_split;

use cyclr::Schedule;
use cyclr_burn::optim::OptimizerConfig;
use cyclr_cifar::data::Cifar10;
use cyclr_cifar::observer::Silent;
use cyclr_cifar::train::{CHECKPOINT_FILE, TrainConfig, load_summary, train};

#[test]
fn a_damaged_checkpoint_is_refused() {
    let data = Cifar10 {
        train: synthetic_split(300, 1).into(),
        test: synthetic_split(100, 2),
        source: "synthetic".into(),
    };
    let mut config = TrainConfig::new(Schedule::fixed(0.001).unwrap(), OptimizerConfig::adam());
    config.epochs = 1;
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train(&config, &data, &run, false, &mut Silent).unwrap();
    let path = run.join(CHECKPOINT_FILE);
    let good = std::fs::read(&path).unwrap();
    assert_eq!(
        load_summary(&run).unwrap().unwrap().steps,
        3,
        "the intact checkpoint loads"
    );

    let n = good.len();
    // The step in the JSON header: 3 becomes 2, still valid JSON (without a checksum this
    // resumed silently one step back).
    let key = b"\"step\":";
    let at = good
        .windows(key.len())
        .position(|w| w == key)
        .expect("the step in the header")
        + key.len();
    assert_eq!(good[at], b'3');
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("step in the header", {
            let mut b = good.clone();
            b[at] = b'2';
            b
        }),
        ("weight byte", {
            let mut b = good.clone();
            b[n / 2] ^= 0x10;
            b
        }),
        ("cut", good[..n - 100].to_vec()),
        ("doubled", [good.clone(), good.clone()].concat()),
    ];
    for (what, bytes) in cases {
        std::fs::write(&path, &bytes).unwrap();
        let err = load_summary(&run).expect_err(what).to_string();
        assert!(err.contains("is damaged"), "{what}: {err}");
        let err = format!(
            "{:#}",
            train(&config, &data, &run, true, &mut Silent).expect_err(what)
        );
        assert!(
            err.contains("is damaged"),
            "{what}: resume refuses it: {err}"
        );
    }
}

/// Resuming with other images of the same counts is refused: the checkpoint records the
/// data's digest.
#[test]
fn resuming_with_other_data_is_refused() {
    let data = Cifar10 {
        train: synthetic_split(300, 1).into(),
        test: synthetic_split(100, 2),
        source: "a".into(),
    };
    let other = Cifar10 {
        train: synthetic_split(300, 7).into(),
        test: synthetic_split(100, 2),
        source: "b".into(),
    };
    let mut config = TrainConfig::new(Schedule::fixed(0.001).unwrap(), OptimizerConfig::adam());
    config.epochs = 1;
    let dir = tempfile::tempdir().unwrap();
    train(&config, &data, dir.path(), false, &mut Silent).unwrap();
    config.epochs = 2;
    let err = format!(
        "{:#}",
        train(&config, &other, dir.path(), true, &mut Silent).unwrap_err()
    );
    assert!(
        err.contains("is not the data") && err.contains("(a)"),
        "{err}"
    );
    // The same data resumes.
    train(&config, &data, dir.path(), true, &mut Silent).unwrap();
    assert_eq!(load_summary(dir.path()).unwrap().unwrap().steps, 6);
}
