//! Property tests: bounds, periodicity, triangular2's halving, serde round trips, and no
//! panic on any finite input.

use cyclr::{
    AnnealStrategy, CyclicConfig, DecayConfig, ExpConfig, FixedConfig, LinearConfig, LrSchedule,
    OneCycleConfig, Schedule, ScheduleConfig, SequenceConfig, SgdrConfig, StepDecayConfig,
};
use proptest::prelude::*;

fn rates() -> impl Strategy<Value = (f64, f64)> {
    (1e-7f64..1.0, 1e-7f64..10.0).prop_map(|(a, b)| if a <= b { (a, b) } else { (b, a) })
}

fn momenta() -> impl Strategy<Value = Option<(f64, f64)>> {
    prop::option::of((0.0f64..0.999, 0.0f64..0.999).prop_map(|(a, b)| (a.min(b), a.max(b))))
}

fn cyclic() -> impl Strategy<Value = ScheduleConfig> {
    (
        rates(),
        1u64..5000,
        prop::option::of(1u64..5000),
        0.9f64..=1.0,
        momenta(),
        0..3u8,
    )
        .prop_map(|((base, max), up, down, gamma, m, mode)| {
            let mut c = CyclicConfig::new(base, max, up);
            c.step_size_down = down;
            if let Some((b, mx)) = m {
                c = c.with_momentum(b, mx);
            }
            match mode {
                0 => ScheduleConfig::Triangular(c),
                1 => ScheduleConfig::Triangular2(c),
                _ => ScheduleConfig::ExpRange(c.with_gamma(gamma)),
            }
        })
}

fn any_valid() -> impl Strategy<Value = ScheduleConfig> {
    prop_oneof![
        cyclic(),
        (
            1e-6f64..1.0,
            // pct_start * total_steps >= 2: every phase spans a step (init rejects shorter).
            40u64..100_000,
            0.05f64..0.45,
            any::<bool>(),
            any::<bool>(),
            momenta()
        )
            .prop_map(|(max, total, pct, three, cos, m)| {
                let mut c = OneCycleConfig::new(max, total);
                c.pct_start = pct;
                c.three_phase = three;
                c.anneal_strategy = if cos {
                    AnnealStrategy::Cos
                } else {
                    AnnealStrategy::Linear
                };
                if let Some((b, mx)) = m {
                    c = c.with_momentum(b, mx);
                }
                ScheduleConfig::OneCycle(c)
            }),
        (rates(), 1u64..5000, 1u64..4).prop_map(|((min, max), t0, t_mult)| {
            ScheduleConfig::Sgdr(
                SgdrConfig::new(max, t0)
                    .with_t_mult(t_mult)
                    .with_min_lr(min),
            )
        }),
        (0.0f64..1.0).prop_map(|lr| ScheduleConfig::Fixed(FixedConfig::new(lr))),
        (rates(), 1u64..5000)
            .prop_map(|((b, m), s)| ScheduleConfig::Decay(DecayConfig::new(b, m, s))),
        (1e-6f64..1.0, 0.9f64..=1.0).prop_map(|(b, g)| ScheduleConfig::Exp(ExpConfig::new(b, g))),
        (1e-6f64..1.0, 1u64..5000, 0.01f64..=1.0)
            .prop_map(|(b, s, g)| ScheduleConfig::Step(StepDecayConfig::new(b, s, g))),
        (rates(), 1u64..5000)
            .prop_map(|((a, b), s)| ScheduleConfig::Linear(LinearConfig::new(a, b, s))),
    ]
}

/// Any f64, weighted towards the edges where arithmetic overflows or divides by zero
/// (uniform bits almost never land there).
fn edgy_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => any::<f64>(),
        1 => prop::sample::select(vec![0.0, -0.0, 1.0, f64::MAX, f64::MIN_POSITIVE, 5e-324, f64::INFINITY, f64::NAN]),
        1 => 1e300f64..f64::MAX,
        1 => 0.0f64..1e-300,
        1 => 0.0f64..1.0,
    ]
}

fn edgy_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        2 => any::<u64>(),
        1 => prop::sample::select(vec![0, 1, 2, u64::MAX, u64::MAX - 1, 1 << 53, (1 << 53) + 1]),
        1 => 0u64..10_000,
    ]
}

/// Found by CI: SGDR computed `(max - min) * (1 + cos)`, which overflows to infinity
/// for `max_lr` near `f64::MAX` at the start of every cycle.
#[test]
fn rates_near_f64_max_stay_finite() {
    let configs = vec![
        ScheduleConfig::Sgdr(SgdrConfig::new(f64::MAX, 1).with_min_lr(-0.0)),
        ScheduleConfig::Sgdr(SgdrConfig::new(f64::MAX, 7).with_t_mult(3)),
        ScheduleConfig::Triangular(CyclicConfig::new(0.0, f64::MAX, 3)),
        ScheduleConfig::Triangular2(CyclicConfig::new(0.0, f64::MAX, 3)),
        ScheduleConfig::ExpRange(CyclicConfig::new(0.0, f64::MAX, 3).with_gamma(0.5)),
        ScheduleConfig::OneCycle(OneCycleConfig::new(f64::MAX, 10)),
        ScheduleConfig::Decay(DecayConfig::new(0.0, f64::MAX, 3)),
        ScheduleConfig::Linear(LinearConfig::new(0.0, f64::MAX, 3)),
        ScheduleConfig::Linear(LinearConfig::new(f64::MAX, 0.0, 3)),
    ];
    // A base near the top too: base + (max - base) can round one ulp past f64::MAX.
    let near = 8.100926767067728e307;
    let configs = configs.into_iter().chain([
        ScheduleConfig::Sgdr(SgdrConfig::new(f64::MAX, 1).with_min_lr(near)),
        ScheduleConfig::Triangular(CyclicConfig::new(near, f64::MAX, 1)),
        ScheduleConfig::ExpRange(CyclicConfig::new(near, f64::MAX, 1).with_gamma(1.0)),
        ScheduleConfig::Decay(DecayConfig::new(near, f64::MAX, 1)),
        ScheduleConfig::Linear(LinearConfig::new(near, f64::MAX, 1)),
        ScheduleConfig::OneCycle({
            let mut o = OneCycleConfig::new(f64::MAX, 10);
            o.div_factor = 1.0;
            o
        }),
    ]);
    for config in configs {
        let s = config.clone().init().unwrap();
        for step in (0..40).chain([u64::MAX]) {
            let lr = s.lr(step);
            assert!(
                lr.is_finite() && lr >= 0.0,
                "{config:?} at step {step}: {lr}"
            );
        }
    }
}

fn within(x: f64, lo: f64, hi: f64) -> bool {
    let slack = 1e-12 * hi.abs().max(1e-12);
    x >= lo - slack && x <= hi + slack
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn values_stay_within_bounds(c in any_valid(), steps in prop::collection::vec(0u64..10_000_000, 1..50)) {
        let s = c.clone().init().unwrap();
        // Each policy states its own range; the property is that it holds.
        let (lo, hi) = s.lr_range();
        for step in steps.into_iter().chain([0, u64::MAX]) {
            let lr = s.lr(step);
            prop_assert!(lr.is_finite() && within(lr, lo, hi), "{c:?} step {step}: {lr} outside [{lo}, {hi}]");
            if let Some(m) = s.momentum(step) {
                prop_assert!(m.is_finite() && (0.0..1.0).contains(&m), "momentum {m}");
            }
        }
    }

    #[test]
    fn triangular_is_periodic(((base, max), up, down) in (rates(), 1u64..3000, 1u64..3000), step in 0u64..1_000_000, k in 1u64..50) {
        let s = ScheduleConfig::Triangular(CyclicConfig::new(base, max, up).with_step_size_down(down)).init().unwrap();
        let period = up + down;
        let (a, b) = (s.lr(step), s.lr(step + k * period));
        prop_assert!((a - b).abs() <= 1e-12 * max, "{a} vs {b}");
    }

    #[test]
    fn triangular2_peak_halves_each_cycle(((base, max), up) in (rates(), 1u64..3000), cycle in 0u64..20) {
        let s = Schedule::triangular2(base, max, up).unwrap();
        let peak = s.lr(up + cycle * 2 * up);
        let expected = base + (max - base) / 2f64.powi(cycle as i32);
        prop_assert!((peak - expected).abs() <= 1e-12 * max, "{peak} vs {expected}");
    }

    #[test]
    fn serde_round_trips_give_identical_values(c in any_valid(), steps in prop::collection::vec(0u64..1_000_000, 1..20)) {
        let s = c.init().unwrap();
        let json: Schedule = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        let toml_text = toml::to_string(&s).unwrap();
        let from_toml: Schedule = toml::from_str(&toml_text).unwrap();
        prop_assert_eq!(&json, &s);
        prop_assert_eq!(&from_toml, &s);
        for step in steps {
            prop_assert_eq!(json.lr(step).to_bits(), s.lr(step).to_bits());
            prop_assert_eq!(from_toml.momentum(step), s.momentum(step));
        }
    }

    /// Any finite (or non-finite) numbers: init either fails with an error or yields a
    /// schedule whose values are finite. Never a panic.
    #[test]
    fn no_panic_on_any_input(a in edgy_f64(), b in edgy_f64(), c in edgy_f64(), d in edgy_f64(),
                             n in edgy_u64(), m in edgy_u64(), step in edgy_u64()) {
        let configs = vec![
            ScheduleConfig::Triangular(CyclicConfig::new(a, b, n).with_step_size_down(m)),
            ScheduleConfig::Triangular2(CyclicConfig::new(a, b, n).with_momentum(c, d)),
            ScheduleConfig::ExpRange(CyclicConfig::new(a, b, n).with_gamma(c)),
            ScheduleConfig::OneCycle({ let mut o = OneCycleConfig::new(a, n); o.pct_start = b; o.div_factor = c; o.final_div_factor = d; o }),
            ScheduleConfig::OneCycle({ let mut o = OneCycleConfig::new(a, n); o.pct_start = b; o.three_phase = true; o }),
            ScheduleConfig::Sgdr(SgdrConfig::new(a, n).with_t_mult(m).with_min_lr(b)),
            ScheduleConfig::Fixed(FixedConfig::new(a)),
            ScheduleConfig::Decay(DecayConfig::new(a, b, n)),
            ScheduleConfig::Exp(ExpConfig::new(a, b)),
            ScheduleConfig::Step(StepDecayConfig::new(a, n, b)),
            ScheduleConfig::Linear(LinearConfig::new(a, b, n)),
            ScheduleConfig::Sequence(SequenceConfig { boundaries: vec![n], schedules: vec![
                ScheduleConfig::Fixed(FixedConfig::new(a)), ScheduleConfig::Fixed(FixedConfig::new(b))] }),
        ];
        for config in configs {
            if let Ok(s) = config.init() {
                prop_assert!(s.lr(step).is_finite());
                prop_assert!(s.lr(0).is_finite());
                if let Some(mo) = s.momentum(step) { prop_assert!(mo.is_finite()); }
            }
        }
    }
}
