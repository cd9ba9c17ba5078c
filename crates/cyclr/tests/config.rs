//! Schedules as config files: the TOML users write, and the errors they get.

use cyclr::{LrSchedule, Policy, Schedule, ScheduleConfig, ScheduleError};

#[test]
fn toml_written_by_hand_loads() {
    let s: Schedule = toml::from_str(
        r#"
        policy = "triangular2"
        base_lr = 0.001
        max_lr = 0.006
        step_size_up = 2000
        "#,
    )
    .unwrap();
    assert_eq!(s.policy(), Policy::Triangular2);
    assert_eq!(s.lr(0), 0.001);
    assert!((s.lr(6000) - 0.0035).abs() < 1e-15);
}

#[test]
fn hyphenated_policy_names_are_accepted() {
    let s: Schedule = toml::from_str(
        "policy = \"exp-range\"\nbase_lr = 0.001\nmax_lr = 0.006\nstep_size_up = 100\ngamma = 0.999\n",
    )
    .unwrap();
    assert_eq!(s.policy(), Policy::ExpRange);
    assert_eq!("one-cycle".parse::<Policy>().unwrap(), Policy::OneCycle);
    assert_eq!(
        "Triangular2".parse::<Policy>().unwrap(),
        Policy::Triangular2
    );
    let err = "triangle".parse::<Policy>().unwrap_err().to_string();
    assert!(
        err.contains("unknown policy 'triangle'") && err.contains("triangular2"),
        "{err}"
    );
}

#[test]
fn invalid_config_is_rejected_when_read() {
    let err = toml::from_str::<Schedule>(
        "policy = \"triangular\"\nbase_lr = 0.01\nmax_lr = 0.001\nstep_size_up = 100\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("max_lr (0.001) is below base_lr (0.01)"),
        "{err}"
    );
}

#[test]
fn misspelt_keys_are_rejected() {
    let err = toml::from_str::<Schedule>(
        "policy = \"triangular\"\nbase_lr = 0.001\nmax_lr = 0.006\nstepsize = 100\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("stepsize"), "{err}");
}

#[test]
fn warmup_then_triangular2_sequence() {
    let text = r#"
        policy = "sequence"
        boundaries = [500]

        [[schedules]]
        policy = "linear"
        start_lr = 0.0
        end_lr = 0.001
        steps = 500

        [[schedules]]
        policy = "triangular2"
        base_lr = 0.001
        max_lr = 0.006
        step_size_up = 2000
    "#;
    let s: Schedule = toml::from_str(text).unwrap();
    assert_eq!(s.lr(0), 0.0);
    assert!((s.lr(250) - 0.0005).abs() < 1e-15);
    assert_eq!(s.lr(500), 0.001); // the triangular2 starts at its own step 0
    assert!((s.lr(2500) - 0.006).abs() < 1e-15);
    let again: Schedule = toml::from_str(&toml::to_string(&s).unwrap()).unwrap();
    assert_eq!(again, s);
}

fn err(text: &str) -> ScheduleError {
    let c: ScheduleConfig = toml::from_str(text).unwrap();
    c.init().unwrap_err()
}

#[test]
fn each_validation_error_says_what_to_change() {
    let cases: Vec<(&str, &str)> = vec![
        ("policy='fixed'\nbase_lr=-0.1", "cannot be negative"),
        ("policy='fixed'\nbase_lr=nan", "must be a finite number"),
        ("policy='fixed'\nbase_lr=inf", "must be a finite number"),
        (
            "policy='triangular'\nbase_lr=0.1\nmax_lr=0.2\nstep_size_up=0",
            "step_size_up is 0",
        ),
        (
            "policy='triangular'\nbase_lr=0.1\nmax_lr=0.2\nstep_size_up=5\nstep_size_down=0",
            "step_size_down is 0",
        ),
        (
            "policy='exp_range'\nbase_lr=0.1\nmax_lr=0.2\nstep_size_up=5\ngamma=1.5",
            "gamma is 1.5",
        ),
        (
            "policy='exp_range'\nbase_lr=0.1\nmax_lr=0.2\nstep_size_up=5\ngamma=0",
            "must be in (0, 1]",
        ),
        (
            "policy='one_cycle'\nmax_lr=0.1\ntotal_steps=100\npct_start=1.0",
            "strictly between 0 and 1",
        ),
        (
            "policy='one_cycle'\nmax_lr=0.1\ntotal_steps=100\npct_start=0.6\nthree_phase=true",
            "below 0.5",
        ),
        (
            "policy='one_cycle'\nmax_lr=0.1\ntotal_steps=2\npct_start=0.3",
            "shorter than one step",
        ),
        (
            "policy='one_cycle'\nmax_lr=0.1\ntotal_steps=100\ndiv_factor=0",
            "div_factor is 0",
        ),
        (
            "policy='triangular'\nbase_lr=0.1\nmax_lr=0.2\nstep_size_up=5\nbase_momentum=0.9\nmax_momentum=1.0",
            "momentum must be in [0, 1)",
        ),
        (
            "policy='triangular'\nbase_lr=0.1\nmax_lr=0.2\nstep_size_up=5\nbase_momentum=0.95\nmax_momentum=0.85",
            "swap them",
        ),
        (
            "policy='triangular'\nbase_lr=0.1\nmax_lr=0.2\nstep_size_up=5\nbase_momentum=0.85",
            "needs both",
        ),
        ("policy='sgdr'\nmax_lr=0.1\nt0=0", "t0 is 0"),
        ("policy='sgdr'\nmax_lr=0.1\nt0=10\nt_mult=0", "t_mult is 0"),
        (
            "policy='step'\nbase_lr=0.1\nstep_size=10\ngamma=2",
            "gamma is 2",
        ),
        (
            "policy='sequence'\nboundaries=[]\nschedules=[]",
            "at least one schedule",
        ),
        (
            "policy='sequence'\nboundaries=[]\n[[schedules]]\npolicy='fixed'\nbase_lr=0.1\n[[schedules]]\npolicy='fixed'\nbase_lr=0.2",
            "needs 1 boundaries",
        ),
        (
            "policy='sequence'\nboundaries=[0]\n[[schedules]]\npolicy='fixed'\nbase_lr=0.1\n[[schedules]]\npolicy='fixed'\nbase_lr=0.2",
            "strictly increasing",
        ),
        (
            "policy='sequence'\nboundaries=[5]\n[[schedules]]\npolicy='fixed'\nbase_lr=0.1\n[[schedules]]\npolicy='fixed'\nbase_lr=-0.2",
            "schedule 1 of the sequence: base_lr is -0.2",
        ),
        (
            "policy='sequence'\nboundaries=[5]\n[[schedules]]\npolicy='fixed'\nbase_lr=0.1\n[[schedules]]\npolicy='triangular'\nbase_lr=0.1\nmax_lr=0.2\nstep_size_up=5\nbase_momentum=0.8\nmax_momentum=0.9",
            "schedule 1 of the sequence cycles momentum",
        ),
    ];
    for (text, needle) in cases {
        let e = err(text).to_string();
        assert!(e.contains(needle), "for {text:?}: {e:?} lacks {needle:?}");
    }
}

/// `Join` takes any `LrSchedule`, a user's own included, and agrees with `Sequence` where
/// both apply.
#[test]
fn join_accepts_any_schedule_and_matches_sequence() {
    use cyclr::{Join, LrSchedule, Schedule};
    struct Halving(f64);
    impl LrSchedule for Halving {
        fn lr(&self, step: u64) -> f64 {
            self.0 / 2f64.powi(step as i32)
        }
    }
    let own: Vec<Box<dyn LrSchedule>> = vec![
        Box::new(Halving(0.1)),
        Box::new(Schedule::triangular2(0.001, 0.006, 10).unwrap()),
    ];
    let joined = Join::new(own, vec![3]).unwrap();
    assert_eq!(joined.lr(2), 0.025);
    assert_eq!(joined.lr(3), 0.001);
    assert!((joined.lr(13) - 0.006).abs() < 1e-15);

    let seq: Schedule = toml::from_str(
        "policy='sequence'\nboundaries=[5]\n[[schedules]]\npolicy='fixed'\nbase_lr=0.1\n[[schedules]]\npolicy='triangular'\nbase_lr=0.001\nmax_lr=0.006\nstep_size_up=10",
    )
    .unwrap();
    let parts = vec![
        Schedule::fixed(0.1).unwrap(),
        Schedule::triangular(0.001, 0.006, 10).unwrap(),
    ];
    let join = Join::new(parts, vec![5]).unwrap();
    for step in 0..100 {
        assert_eq!(seq.lr(step), join.lr(step));
    }
    let err = Join::new(vec![Schedule::fixed(0.1).unwrap()], vec![5]).unwrap_err();
    assert!(err.to_string().contains("needs 0 boundaries"), "{err}");
    let err = Join::new(
        vec![Schedule::fixed(0.1).unwrap(), Schedule::fixed(0.2).unwrap()],
        vec![0],
    )
    .unwrap_err();
    assert!(err.to_string().contains("strictly increasing"), "{err}");
}

#[test]
fn schedules_that_end_say_when() {
    use cyclr::{OneCycleConfig, Schedule};
    let one: Schedule = ScheduleConfig::OneCycle(OneCycleConfig::new(0.1, 900))
        .init()
        .unwrap();
    assert_eq!(one.length(), Some(900));
    assert_eq!(
        Schedule::triangular(0.001, 0.006, 100).unwrap().length(),
        None
    );
    let seq: Schedule = toml::from_str(
        "policy='sequence'\nboundaries=[50]\n[[schedules]]\npolicy='linear'\nstart_lr=0.0\nend_lr=0.1\nsteps=50\n[[schedules]]\npolicy='one_cycle'\nmax_lr=0.1\ntotal_steps=400",
    )
    .unwrap();
    assert_eq!(seq.length(), Some(450));
}

/// Every policy's name parses back to it, as written, hyphenated and in capitals, and
/// serializes to the same name.
#[test]
fn every_policy_name_round_trips() {
    let mut seen = std::collections::HashSet::new();
    for p in Policy::ALL {
        assert!(seen.insert(p.name()), "{} named twice", p.name());
        assert_eq!(p.name().parse::<Policy>().unwrap(), p);
        assert_eq!(p.to_string(), p.name());
        assert_eq!(p.name().replace('_', "-").parse::<Policy>().unwrap(), p);
        assert_eq!(p.name().to_uppercase().parse::<Policy>().unwrap(), p);
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, format!("\"{}\"", p.name()));
        assert_eq!(serde_json::from_str::<Policy>(&json).unwrap(), p);
    }
    assert_eq!(seen.len(), Policy::ALL.len());
}

/// Every policy of the registry: its example builds, survives TOML and JSON with the same
/// values, names only parameters its config takes, and (except a sequence, whose schedules
/// are no plain parameters) rebuilds from its own named parameters.
#[test]
fn every_registered_policy_round_trips_and_builds_from_its_parameters() {
    use cyclr::{Horizon, LrSchedule, Parameter, Schedule};
    for p in Policy::ALL {
        let config = p.example();
        assert_eq!(config.policy(), p);
        let s: Schedule = config.clone().init().unwrap();
        assert_eq!(s.policy(), p);
        assert_eq!(s.config(), config);
        let toml_back: Schedule = toml::from_str(&toml::to_string(&s).unwrap()).unwrap();
        let json_back: Schedule =
            serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        let Horizon { span, end } = s.horizon();
        assert!(span > 0, "{p}: a horizon to show");
        assert_eq!(s.length(), end);
        for step in (0..span.min(5000)).step_by(7) {
            assert_eq!(
                toml_back.lr(step).to_bits(),
                s.lr(step).to_bits(),
                "{p} {step}"
            );
            assert_eq!(json_back.momentum(step), s.momentum(step), "{p} {step}");
        }
        let json = serde_json::to_value(&config).unwrap();
        let fields: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .filter(|k| *k != "policy")
            .collect();
        for f in &fields {
            assert!(
                p.parameters().contains(f),
                "{p}: {f} not among {:?}",
                p.parameters()
            );
        }
        if p == Policy::Sequence {
            continue;
        }
        let params: Vec<(&str, Parameter)> = json
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| *k != "policy")
            .map(|(k, v)| {
                let param = match v {
                    serde_json::Value::Bool(b) => Parameter::Bool(*b),
                    serde_json::Value::String(t) => Parameter::Text(t.clone()),
                    serde_json::Value::Number(n) if n.is_u64() => {
                        Parameter::Int(n.as_u64().unwrap())
                    }
                    serde_json::Value::Number(n) => Parameter::Float(n.as_f64().unwrap()),
                    other => panic!("{p}: {k} = {other}"),
                };
                (k.as_str(), param)
            })
            .collect();
        let rebuilt = Schedule::from_parameters(p, params).unwrap();
        assert_eq!(rebuilt, s, "{p}");
    }
}

/// Named parameters are checked by the config itself: a missing one, one the policy does
/// not take and a value of the wrong kind come back typed.
#[test]
fn named_parameters_are_checked_by_the_config() {
    use cyclr::{Parameter, ParameterError, Schedule, ScheduleError};
    let missing = Schedule::from_parameters(
        Policy::Triangular,
        [
            ("base_lr", Parameter::Float(0.001)),
            ("step_size_up", Parameter::Int(10)),
        ],
    )
    .unwrap_err();
    assert_eq!(
        missing,
        ParameterError::Missing {
            policy: Policy::Triangular,
            parameter: "max_lr"
        }
    );
    let unknown = Schedule::from_parameters(
        Policy::Fixed,
        [
            ("base_lr", Parameter::Float(0.1)),
            ("t0", Parameter::Int(5)),
        ],
    )
    .unwrap_err();
    assert!(
        matches!(unknown, ParameterError::NotApplicable { ref parameter, .. } if parameter == "t0")
    );
    let bad_kind = Schedule::from_parameters(
        Policy::OneCycle,
        [
            ("max_lr", Parameter::Float(0.1)),
            ("total_steps", Parameter::Int(100)),
            ("anneal_strategy", Parameter::Text("sideways".into())),
        ],
    )
    .unwrap_err();
    assert!(
        matches!(bad_kind, ParameterError::Invalid { .. }),
        "{bad_kind}"
    );
    let invalid = Schedule::from_parameters(
        Policy::ExpRange,
        [
            ("base_lr", Parameter::Float(0.001)),
            ("max_lr", Parameter::Float(0.01)),
            ("step_size_up", Parameter::Int(10)),
        ],
    )
    .unwrap_err();
    assert!(matches!(
        invalid,
        ParameterError::Schedule {
            source: ScheduleError::MissingGamma { .. },
            ..
        }
    ));
}

/// A warm-up is a join of existing schedules: a linear ramp to the first rate of the next.
#[test]
fn a_warmup_joins_a_linear_ramp_to_any_schedule() {
    use cyclr::{LrSchedule, Schedule};
    let tri = Schedule::triangular(0.001, 0.006, 100).unwrap();
    let warm = tri.clone().with_warmup(40).unwrap();
    assert_eq!(warm.policy(), Policy::Sequence);
    assert_eq!(warm.lr(0), 0.0);
    assert!((warm.lr(20) - 0.0005).abs() < 1e-15);
    for step in 0..500 {
        assert_eq!(warm.lr(40 + step), tri.lr(step));
    }
    assert!(Schedule::fixed(0.1).unwrap().with_warmup(0).is_err());
}

/// Huge and tiny numbers read as numbers (`1e300`, not three hundred digits), and gamma 0
/// is not explained as a gamma above 1.
#[test]
fn messages_write_extreme_numbers_shortly_and_say_the_right_reason() {
    use cyclr::Schedule;
    let e = Schedule::triangular(1e300, 1e-300, 4)
        .unwrap_err()
        .to_string();
    assert!(e.contains("(1e-300)") && e.contains("(1e300)"), "{e}");
    assert!(e.len() < 120, "{} bytes: {e}", e.len());
    let e = Schedule::exp_range(0.001, 0.01, 4, 0.0)
        .unwrap_err()
        .to_string();
    assert!(!e.contains("above 1") && e.contains("0 or less"), "{e}");
    let e = Schedule::exp_range(0.001, 0.01, 4, 1.5)
        .unwrap_err()
        .to_string();
    assert!(e.contains("above 1"), "{e}");
}
