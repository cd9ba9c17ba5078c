//! Range-test rules against torch-lr-finder's and fastai's own answers
//! (tests/golden/lr_finder_golden.json), and the analysis on synthetic curves.

use std::path::PathBuf;

use cyclr::range_test::{
    EarlyStop, HeldOut, Ramp, RangePoint, RangeTestConfig, Recorder, analyze, minimum_over_ten,
    slide, steep, steepest_descent, valley,
};
use serde_json::Value;

fn golden() -> Value {
    let dir = std::env::var_os("CYCLR_GOLDEN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden"));
    serde_json::from_str(&std::fs::read_to_string(dir.join("lr_finder_golden.json")).unwrap())
        .unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn raw_loss(lr: f64, i: usize, k: f64) -> f64 {
    let x = lr.log10();
    let v = 2.3 - 1.6 / (1.0 + (-2.5 * (x + 3.0)).exp())
        + (k * (x + 0.3)).exp()
        + 0.02 * (1.7 * i as f64).sin();
    // The libraries read the loss from a float32 tensor.
    v as f32 as f64
}

fn rel(a: f64, b: f64) -> f64 {
    ((a - b) / b).abs()
}

#[test]
fn torch_lr_finder_ramp_and_suggestion() {
    let g = golden();
    for case in g["torch_lr_finder"].as_array().unwrap() {
        let lrs = floats(&case["lr"]);
        let losses = floats(&case["smoothed_loss"]);
        let ramp = match case["step_mode"].as_str().unwrap() {
            "exp" => Ramp::Exponential,
            _ => Ramp::Linear,
        };
        let config = RangeTestConfig::new(
            case["start_lr"].as_f64().unwrap(),
            case["end_lr"].as_f64().unwrap(),
            case["num_iter"].as_u64().unwrap(),
            ramp,
        );
        for (i, lr) in lrs.iter().enumerate() {
            assert!(
                rel(config.lr(i as u64), *lr) < 1e-12,
                "ramp at {i}: {} vs {lr}",
                config.lr(i as u64)
            );
        }
        let idx = steepest_descent(&losses, 10, 5).unwrap();
        assert_eq!(
            idx as u64,
            case["suggested_index_in_full_history"].as_u64().unwrap()
        );
        assert_eq!(lrs[idx], case["suggested_lr"].as_f64().unwrap());
    }
}

#[test]
fn fastai_smoothing_early_stop_and_four_rules() {
    let g = golden();
    for case in g["fastai"].as_array().unwrap() {
        let k = case["curve_k"].as_f64().unwrap();
        let lrs = floats(&case["lr"]);
        let golden_smoothed = floats(&case["smoothed_loss"]);
        // Record the golden ramp through our recorder: same smoothing, same stop.
        let mut rec = Recorder::new(RangeTestConfig::new(
            1e-7,
            10.0,
            case["num_it"].as_u64().unwrap(),
            Ramp::Exponential,
        ));
        let num_it = case["num_it"].as_u64().unwrap() as usize;
        for i in 0..num_it {
            let start = 1e-7f64;
            let lr = start * (10.0 / start).powf(i as f64 / num_it as f64);
            if !rec.record(lr, raw_loss(lr, i, k), Some(0.0)) {
                break;
            }
        }
        assert_eq!(
            rec.points.len() as u64,
            case["n_recorded"].as_u64().unwrap(),
            "k={k}: points recorded"
        );
        for (p, want) in rec.points.iter().zip(&golden_smoothed) {
            assert!(
                rel(p.smoothed_loss, *want) < 2e-6,
                "smoothed {} vs {want}",
                p.smoothed_loss
            );
        }
        if k == 4.0 {
            assert!(matches!(rec.stop, Some(EarlyStop::Diverged { .. })));
        }

        // fastai's rules on its own recorded curve, sliced [num_it/10 : -5].
        let n = lrs.len();
        let (l, s) = (
            &lrs[num_it / 10..n - 5],
            &golden_smoothed[num_it / 10..n - 5],
        );
        let want = &case["suggestions"];
        let valley_lr = l[valley(s).unwrap()];
        assert!(
            rel(valley_lr, want["valley"].as_f64().unwrap()) < 1e-6,
            "valley {valley_lr}"
        );
        let slide_lr = slide(l, s, 15, 0.005).unwrap();
        assert!(
            rel(slide_lr, want["slide"].as_f64().unwrap()) < 1e-6,
            "slide {slide_lr}"
        );
        let (_, min_lr) = minimum_over_ten(l, s).unwrap();
        assert!(
            rel(min_lr, want["minimum"].as_f64().unwrap()) < 1e-6,
            "minimum {min_lr}"
        );
        let steep_lr = l[steep(l, s).unwrap()];
        assert!(
            rel(steep_lr, want["steep"].as_f64().unwrap()) < 1e-6,
            "steep {steep_lr}"
        );
    }
}

/// A deterministic noise source for synthetic curves.
fn noise(i: u64, seed: u64) -> f64 {
    let mut z = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) as f64 / u64::MAX as f64) * 2.0 - 1.0
}

/// A paper-like curve on a linear ramp 0 -> 0.02: accuracy rises between about 0.001 and
/// 0.005, then falls after 0.01 as training turns unstable; the loss mirrors it.
fn synthetic(n: u64, noise_level: f64, recorder: &mut Recorder) {
    for i in 0..n {
        let lr = recorder.config.lr(i);
        let rise = 1.0 / (1.0 + (-(lr - 0.003) / 0.0005).exp());
        let fall = 1.0 / (1.0 + (-(lr - 0.013) / 0.001).exp());
        let acc = 0.1 + 0.5 * rise - 0.4 * fall + noise_level * noise(i, 1);
        let loss = 2.3 - 1.2 * rise + 2.5 * fall + noise_level * 4.0 * noise(i, 2);
        if !recorder.record(lr, loss, Some(acc)) {
            break;
        }
    }
}

#[test]
fn the_accuracy_rule_finds_the_papers_band_on_a_clean_curve() {
    let mut rec = Recorder::new(RangeTestConfig::new(0.0, 0.02, 1000, Ramp::Linear));
    rec.config.smoothing = 0.9;
    synthetic(1000, 0.0, &mut rec);
    let a = analyze(&rec.points, rec.stop.as_ref());
    let r = a.recommendation.expect("a recommendation");
    assert!(
        r.base_lr > 0.0005 && r.base_lr < 0.003,
        "base {}",
        r.base_lr
    );
    assert!(r.max_lr > 0.003 && r.max_lr < 0.008, "max {}", r.max_lr);
    assert!(r.source.contains("accuracy"));
    for rule in [
        "accuracy_base",
        "accuracy_max",
        "steepest_descent",
        "valley",
        "minimum_over_10",
        "steep",
    ] {
        assert!(
            a.suggestions.iter().any(|s| s.rule == rule),
            "missing {rule}"
        );
    }
}

#[test]
fn noisy_curves_still_give_a_sane_band() {
    for seed_noise in [0.02, 0.05] {
        let mut rec = Recorder::new(RangeTestConfig::new(0.0, 0.02, 1500, Ramp::Linear));
        synthetic(1500, seed_noise, &mut rec);
        let a = analyze(&rec.points, rec.stop.as_ref());
        let r = a
            .recommendation
            .unwrap_or_else(|| panic!("noise {seed_noise}: {:?}", a.warnings));
        assert!(r.base_lr < r.max_lr);
        assert!(r.base_lr >= 0.0 && r.max_lr <= 0.02);
        assert!(r.max_lr < 0.012, "max {} is past the fall", r.max_lr);
    }
}

#[test]
fn nan_loss_stops_the_test_and_keeps_the_points_before() {
    let mut rec = Recorder::new(RangeTestConfig::new(0.0, 1.0, 100, Ramp::Linear));
    for i in 0..100u64 {
        let loss = if i == 40 {
            f64::NAN
        } else {
            2.0 - i as f64 * 0.01
        };
        if !rec.record(rec.config.lr(i), loss, Some(0.1)) {
            break;
        }
    }
    assert_eq!(rec.points.len(), 40);
    match rec.stop {
        Some(EarlyStop::NotFinite { iteration: 40, .. }) => {}
        ref other => panic!("{other:?}"),
    }
    assert!(
        rec.stop
            .as_ref()
            .unwrap()
            .describe()
            .contains("not a finite number")
    );
}

#[test]
fn divergence_stops_the_test_and_the_max_stays_below_it() {
    let mut rec = Recorder::new(RangeTestConfig::new(0.0, 0.02, 2000, Ramp::Linear));
    rec.config.smoothing = 0.9;
    for i in 0..2000u64 {
        let lr = rec.config.lr(i);
        let rise = 1.0 / (1.0 + (-(lr - 0.003) / 0.0005).exp());
        let loss = if lr < 0.008 {
            2.3 - rise
        } else {
            1.3 * (1.0 + (lr - 0.008) * 3000.0)
        };
        if !rec.record(lr, loss, Some(0.1 + 0.5 * rise)) {
            break;
        }
    }
    let stop = rec.stop.clone().expect("stopped early");
    let at = stop.divergence_lr().unwrap();
    assert!(at < 0.02);
    let r = analyze(&rec.points, Some(&stop)).recommendation.unwrap();
    assert!(r.max_lr <= at, "max {} past divergence {at}", r.max_lr);
}

/// The same curve with no training accuracy (a model whose output is only a loss): the
/// paper's rule then reads the held-out accuracy, or failing that the held-out loss.
#[test]
fn the_paper_rule_reads_held_out_accuracy_or_loss_when_there_is_no_training_accuracy() {
    let curve = |i: u64, lr: f64| {
        let rise = 1.0 / (1.0 + (-(lr - 0.003) / 0.0005).exp());
        let fall = 1.0 / (1.0 + (-(lr - 0.013) / 0.001).exp());
        let _ = i;
        (0.1 + 0.5 * rise - 0.4 * fall, 2.3 - 1.2 * rise + 2.5 * fall)
    };
    for use_loss in [false, true] {
        let mut rec = Recorder::new(RangeTestConfig::new(0.0, 0.02, 1000, Ramp::Linear));
        rec.config.smoothing = 0.9;
        for i in 0..1000 {
            let lr = rec.config.lr(i);
            let (acc, loss) = curve(i, lr);
            if !rec.record(lr, loss, None) {
                break;
            }
            if i % 10 == 9 {
                rec.record_held_out(if use_loss {
                    HeldOut::loss(loss)
                } else {
                    HeldOut::accuracy(acc)
                });
            }
        }
        assert!(
            rec.points
                .iter()
                .all(|p| p.accuracy.is_none() && p.smoothed_accuracy.is_none())
        );
        let a = analyze(&rec.points, rec.stop.as_ref());
        let base = a
            .suggestions
            .iter()
            .find(|s| s.rule == "accuracy_base")
            .expect("the paper's rule applied");
        let what = if use_loss {
            "held-out loss"
        } else {
            "held-out accuracy"
        };
        assert!(base.description.contains(what), "{}", base.description);
        let r = a.recommendation.expect("a recommendation");
        assert!(
            r.base_lr > 0.0005 && r.base_lr < 0.003,
            "{what}: base {}",
            r.base_lr
        );
        assert!(
            r.max_lr > 0.003 && r.max_lr < 0.008,
            "{what}: max {}",
            r.max_lr
        );
    }
    // Neither: the loss rules still answer, and a warning says why the paper's did not.
    let mut rec = Recorder::new(RangeTestConfig::new(0.0, 0.02, 1000, Ramp::Linear));
    for i in 0..1000 {
        let lr = rec.config.lr(i);
        if !rec.record(lr, curve(i, lr).1, None) {
            break;
        }
    }
    let a = analyze(&rec.points, rec.stop.as_ref());
    assert!(
        a.suggestions
            .iter()
            .all(|s| !s.rule.name().starts_with("accuracy"))
    );
    assert!(
        a.warnings
            .iter()
            .any(|w| w.to_string().contains("no accuracy was recorded")),
        "{:?}",
        a.warnings
    );
}

/// The exponential ramp is an `LrSchedule` (growth factor above 1), so it drives anything
/// that takes a schedule.
#[test]
fn the_exponential_ramp_is_a_schedule() {
    use cyclr::LrSchedule;
    let ramp = RangeTestConfig::new(1e-7, 10.0, 101, Ramp::Exponential);
    let s: &dyn LrSchedule = &ramp;
    assert_eq!(s.lr(0), 1e-7);
    assert!((s.lr(100) - 10.0).abs() < 1e-12);
    let q = s.lr(1) / s.lr(0);
    for i in 1..100 {
        assert!(
            (s.lr(i + 1) / s.lr(i) - q).abs() < 1e-9,
            "constant growth factor"
        );
    }
    assert!(q > 1.0);
    assert_eq!(s.lr(500), s.lr(100), "holds at max_lr after the ramp");
}

#[test]
fn short_flat_and_noisy_curves_get_warnings_not_numbers() {
    let point = |i: u64, loss: f64, acc: f64| RangePoint {
        iteration: i,
        lr: 0.001 * i as f64,
        loss,
        accuracy: Some(acc),
        smoothed_loss: loss,
        smoothed_accuracy: Some(acc),
        test_accuracy: None,
        test_loss: None,
    };
    let short: Vec<_> = (0..10).map(|i| point(i, 2.0, 0.1)).collect();
    let a = analyze(&short, None);
    assert!(
        a.recommendation.is_none() && a.warnings[0].to_string().contains("too short"),
        "{:?}",
        a.warnings
    );

    let flat: Vec<_> = (0..200).map(|i| point(i, 2.3, 0.1)).collect();
    let a = analyze(&flat, None);
    assert!(a.recommendation.is_none());
    assert!(
        a.warnings
            .iter()
            .any(|w| w.to_string().contains("too flat")),
        "{:?}",
        a.warnings
    );

    let mut rec = Recorder::new(RangeTestConfig::new(0.0, 0.02, 300, Ramp::Linear));
    for i in 0..300u64 {
        rec.record(
            rec.config.lr(i),
            2.3 - 0.0001 * i as f64 + 1.0 * noise(i, 9),
            Some(0.1 + 0.3 * noise(i, 4).abs()),
        );
    }
    let a = analyze(&rec.points, None);
    assert!(a.recommendation.is_none());
    assert!(
        a.warnings
            .iter()
            .any(|w| w.to_string().contains("too noisy")),
        "{:?}",
        a.warnings
    );
}

#[test]
fn config_validation_explains() {
    let bad = RangeTestConfig::new(0.02, 0.001, 100, Ramp::Linear)
        .validate()
        .unwrap_err();
    // Named in the library's words; the CLI says --min-lr.
    assert!(bad.to_string().contains("must be above min_lr"), "{bad}");
    let bad = RangeTestConfig::new(0.0, 0.1, 100, Ramp::Exponential)
        .validate()
        .unwrap_err();
    assert!(bad.to_string().contains("cannot start at 0"), "{bad}");
    let bad = RangeTestConfig::new(0.0, 0.1, 1, Ramp::Linear)
        .validate()
        .unwrap_err();
    assert!(bad.to_string().contains("at least 2"), "{bad}");
}

mod no_panic {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any curve, NaN and infinities included: the analysis answers or warns, never panics.
        #[test]
        fn analysis_never_panics(values in prop::collection::vec((any::<f64>(), any::<f64>(), any::<f64>()), 0..120)) {
            let points: Vec<RangePoint> = values.iter().enumerate().map(|(i, &(lr, loss, acc))| RangePoint {
                iteration: i as u64, lr, loss, accuracy: Some(acc), smoothed_loss: loss, smoothed_accuracy: Some(acc), test_accuracy: None, test_loss: None,
            }).collect();
            let a = analyze(&points, None);
            if let Some(r) = a.recommendation {
                prop_assert!(r.base_lr <= r.max_lr || r.max_lr.is_nan());
            }
        }
    }
}

/// A clean fall followed by a violent divergence is not "noise": the scatter is measured
/// up to where the loss bottoms out.
#[test]
fn divergence_after_the_minimum_is_not_read_as_noise() {
    let mut rec = Recorder::new(RangeTestConfig::new(1e-3, 3.0, 100, Ramp::Exponential));
    for i in 0..100u64 {
        let lr = rec.config.lr(i);
        let loss = if i < 60 {
            1.8 * (-(i as f64) / 15.0).exp() + 0.02
        } else {
            0.05 + 5.0 * noise(i, 3).abs()
        };
        if !rec.record(lr, loss, None) {
            break;
        }
    }
    let a = analyze(&rec.points, rec.stop.as_ref());
    assert!(
        !a.warnings.iter().any(|w| w.to_string().contains("noisy")),
        "{:?}",
        a.warnings
    );
    assert!(a.recommendation.is_some(), "{:?}", a.warnings);
}
