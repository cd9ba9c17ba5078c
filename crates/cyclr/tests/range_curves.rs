//! The range-test analysis on recorded curves of every shape (tests/curves/, recorded by
//! make_curves.py from real range tests of bench/range_test_regret.py's tasks), each read
//! against what its own held-out figures show, and the honesty of the agreement.

use std::path::PathBuf;

use cyclr::range_test::{
    AGREEMENT_DECADES, Confidence, EarlyStop, RangePoint, Rule, Warning, analyze,
};
use serde_json::Value;

fn curve(name: &str) -> (Vec<RangePoint>, Option<EarlyStop>) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/curves/{name}.json"));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let points = serde_json::from_value(v["points"].clone()).unwrap();
    let stop = serde_json::from_value(v["early_stop"].clone()).unwrap();
    (points, stop)
}

/// (lr, held-out accuracy) of the points where it was measured.
fn held_out(points: &[RangePoint]) -> Vec<(f64, f64)> {
    points
        .iter()
        .filter_map(|p| Some((p.lr, p.test_accuracy?)))
        .collect()
}

/// A classification curve read well: base after the warm-up and before the held-out climb
/// is under way, max past the middle of the climb and not past the held-out peak.
fn check_bounds_against_held_out(name: &str) {
    let (points, stop) = curve(name);
    let a = analyze(&points, stop.as_ref());
    let r = a
        .recommendation
        .clone()
        .unwrap_or_else(|| panic!("{name}: no recommendation: {}", a.warnings_line()));
    let held = held_out(&points);
    let (peak_lr, peak) = held
        .iter()
        .copied()
        .fold((0.0, f64::MIN), |b, x| if x.1 > b.1 { x } else { b });
    let floor = held.iter().map(|x| x.1).fold(f64::MAX, f64::min);
    let climb = peak - floor;
    assert!(climb > 0.1, "{name}: the fixture climbs ({climb})");
    let warmup_lr = points[points.len() / 10].lr;
    assert!(
        r.base_lr > warmup_lr,
        "{name}: base {} inside the warm-up (< {warmup_lr})",
        r.base_lr
    );
    let at_base = held
        .iter()
        .rev()
        .find(|x| x.0 <= r.base_lr)
        .map(|x| x.1)
        .unwrap_or(floor);
    assert!(
        at_base <= floor + 0.35 * climb,
        "{name}: base {:.2e} comes late: held-out accuracy {at_base:.3} there, floor {floor:.3}, peak {peak:.3}",
        r.base_lr
    );
    assert!(
        r.max_lr <= peak_lr * 1.0001,
        "{name}: max {:.2e} past the held-out peak at {peak_lr:.2e}",
        r.max_lr
    );
    let at_max = held
        .iter()
        .rev()
        .find(|x| x.0 <= r.max_lr)
        .map(|x| x.1)
        .unwrap_or(floor);
    assert!(
        at_max >= floor + 0.5 * climb,
        "{name}: max {:.2e} comes early: held-out accuracy {at_max:.3} there, peak {peak:.3}",
        r.max_lr
    );
}

#[test]
fn a_plateau_followed_by_a_rise_gets_a_base_after_the_plateau() {
    check_bounds_against_held_out("plateau_then_rise");
}

#[test]
fn a_short_ramp_with_held_out_accuracy_has_no_warm_up_artefact_and_no_lag() {
    check_bounds_against_held_out("short_ramp_held_out");
}

#[test]
fn a_loss_only_model_gets_bounds_from_the_loss_below_where_it_bottoms_out() {
    let (points, stop) = curve("loss_only");
    assert!(
        points
            .iter()
            .all(|p| p.accuracy.is_none() && p.test_accuracy.is_none())
    );
    let a = analyze(&points, stop.as_ref());
    let r = a.recommendation.expect("a loss curve gives a pair");
    let min_lr = points
        .iter()
        .min_by(|a, b| a.smoothed_loss.total_cmp(&b.smoothed_loss))
        .unwrap()
        .lr;
    assert!(
        r.max_lr <= min_lr && r.base_lr < r.max_lr,
        "{r:?} (lowest loss at {min_lr:.2e})"
    );
    assert!(
        r.confidence != Confidence::High,
        "a pair from the loss alone is not high confidence"
    );
}

#[test]
fn small_noisy_batches_give_a_pair_below_the_divergence() {
    let (points, stop) = curve("noisy_small_batch");
    let diverged = stop
        .as_ref()
        .and_then(EarlyStop::divergence_lr)
        .expect("it diverged");
    let a = analyze(&points, stop.as_ref());
    match a.recommendation {
        Some(r) => assert!(
            r.max_lr < diverged / 3.0,
            "{r:?}, diverged at {diverged:.2e}"
        ),
        None => assert!(
            a.warnings
                .iter()
                .any(|w| matches!(w, Warning::TooNoisy { .. }))
        ),
    }
}

#[test]
fn a_curve_that_never_falls_gets_a_warning_not_a_number() {
    let (points, stop) = curve("never_falls");
    let a = analyze(&points, stop.as_ref());
    assert!(a.recommendation.is_none(), "{:?}", a.recommendation);
    assert!(!a.warnings.is_empty());
}

/// Loss rules anywhere inside a wide band used to count as agreement; now each must sit
/// near the max, and the confidence says so.
#[test]
fn agreement_is_judged_at_the_max_within_a_stated_tolerance() {
    for name in [
        "plateau_then_rise",
        "short_ramp_held_out",
        "loss_only",
        "noisy_small_batch",
    ] {
        let (points, stop) = curve(name);
        let a = analyze(&points, stop.as_ref());
        let Some(r) = a.recommendation else { continue };
        let loss: Vec<f64> = a
            .suggestions
            .iter()
            .filter(|s| matches!(s.rule, Rule::SteepestDescent | Rule::Valley | Rule::Steep))
            .map(|s| s.lr)
            .collect();
        let near = loss
            .iter()
            .filter(|lr| (*lr / r.max_lr).log10().abs() <= AGREEMENT_DECADES)
            .count();
        assert_eq!(r.agreeing, (near, loss.len()), "{name}");
        assert!((r.width_decades - (r.max_lr / r.base_lr).log10()).abs() < 1e-12);
        if near < loss.len() {
            assert!(
                !r.agreement.contains("the rules agree"),
                "{name}: {}",
                r.agreement
            );
            assert_ne!(r.confidence, Confidence::High, "{name}");
        }
        if near == 0 {
            assert_eq!(r.confidence, Confidence::Low, "{name}");
        }
        assert!(!r.confidence_reason.is_empty());
    }
}

/// The fixtures catch what the rules used to do: the recorder's causal 0.98 average of the
/// training accuracy, read by the same 10%/90% rule, puts the base inside the warm-up or
/// the max past the held-out peak on the short ramp.
#[test]
fn the_old_reading_fails_the_short_ramp_check() {
    use cyclr::range_test::accuracy_rule;
    let (points, _) = curve("short_ramp_held_out");
    let causal: Vec<f64> = points
        .iter()
        .map(|p| p.smoothed_accuracy.unwrap())
        .collect();
    let (b, m) = accuracy_rule(&causal).unwrap();
    let held = held_out(&points);
    let peak_lr = held
        .iter()
        .copied()
        .fold((0.0, f64::MIN), |x, y| if y.1 > x.1 { y } else { x })
        .0;
    let warmup_lr = points[points.len() / 10].lr;
    assert!(
        points[b].lr <= warmup_lr || points[m].lr > peak_lr,
        "base {:.2e} (warm-up ends {warmup_lr:.2e}), max {:.2e} (held-out peak {peak_lr:.2e})",
        points[b].lr,
        points[m].lr
    );
}
