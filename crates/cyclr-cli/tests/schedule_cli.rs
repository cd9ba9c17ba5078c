//! `cyclr schedule`: values, JSON, plots, config files, and every kind of bad input.

mod common;

use common::{assert_usage_error, run, stdout};

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn prints_the_papers_triangular_values_as_csv() {
    let t = tmp();
    let o = run(
        t.path(),
        &[
            "schedule",
            "triangular",
            "--base-lr",
            "0.001",
            "--max-lr",
            "0.006",
            "--step-size-up",
            "2",
            "--steps",
            "6",
        ],
    );
    assert!(o.status.success());
    assert_eq!(
        stdout(&o),
        "step,lr\n0,0.001\n1,0.0035\n2,0.006\n3,0.0035\n4,0.001\n5,0.0035\n"
    );
}

#[test]
fn momentum_column_and_json_records() {
    let t = tmp();
    let args = [
        "schedule",
        "one-cycle",
        "--max-lr",
        "0.01",
        "--total-steps",
        "100",
        "--cycle-momentum",
        "--steps",
        "3",
    ];
    let o = run(t.path(), &args);
    let out = stdout(&o);
    // PyTorch's OneCycleLR gives the same first value, to the last digit.
    assert!(
        out.starts_with("step,lr,momentum\n0,0.0003999999999999993,0.95\n"),
        "{out}"
    );
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let o = run(t.path(), &json_args);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 3);
    assert_eq!(v[0]["momentum"], 0.95);
    assert_eq!(v[2]["step"], 2);
}

#[test]
fn several_policies_side_by_side() {
    let t = tmp();
    let o = run(
        t.path(),
        &[
            "schedule",
            "triangular",
            "triangular2",
            "exp_range",
            "--base-lr",
            "0.001",
            "--max-lr",
            "0.006",
            "--step-size-up",
            "2000",
            "--gamma",
            "0.99994",
            "--steps",
            "6001",
        ],
    );
    assert!(o.status.success());
    let out = stdout(&o);
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap(),
        "step,triangular,triangular2,exp_range"
    );
    let at_6000: Vec<f64> = out
        .lines()
        .last()
        .unwrap()
        .split(',')
        .skip(1)
        .map(|v| v.parse().unwrap())
        .collect();
    // At the third peak: full, half, and gamma^6000 of the amplitude.
    assert!((at_6000[0] - 0.006).abs() < 1e-12);
    assert!((at_6000[1] - 0.0035).abs() < 1e-12);
    assert!((at_6000[2] - (0.001 + 0.005 * 0.99994f64.powi(6000))).abs() < 1e-12);
}

#[test]
fn plots_png_and_svg() {
    let t = tmp();
    let png = t.path().join("t2.png");
    let o = run(
        t.path(),
        &[
            "schedule",
            "triangular2",
            "--base-lr",
            "0.001",
            "--max-lr",
            "0.006",
            "--step-size-up",
            "2000",
            "--steps",
            "12000",
            "--plot",
            png.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(common::is_png(&png));
    assert!(stdout(&o).is_empty(), "no values printed unless --print");
    let svg = t.path().join("m.svg");
    let o = run(
        t.path(),
        &[
            "schedule",
            "triangular",
            "--base-lr",
            "0.001",
            "--max-lr",
            "0.006",
            "--step-size-up",
            "10",
            "--cycle-momentum",
            "--plot",
            svg.to_str().unwrap(),
        ],
    );
    assert!(o.status.success());
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("<svg") && text.contains("momentum"));
}

#[test]
fn save_config_then_config_gives_identical_values() {
    let t = tmp();
    let cfg = t.path().join("s.toml");
    let flags = [
        "--base-lr",
        "0.001",
        "--max-lr",
        "0.006",
        "--step-size-up",
        "300",
        "--step-size-down",
        "700",
        "--gamma",
        "0.9999",
        "--base-momentum",
        "0.8",
        "--max-momentum",
        "0.9",
    ];
    let mut a = vec!["schedule", "exp_range"];
    a.extend(flags);
    a.extend([
        "--steps",
        "3000",
        "--print",
        "--save-config",
        cfg.to_str().unwrap(),
    ]);
    let first = run(t.path(), &a);
    assert!(first.status.success(), "{}", common::stderr(&first));
    let toml = std::fs::read_to_string(&cfg).unwrap();
    assert!(
        toml.contains("policy = \"exp_range\"") && toml.contains("step_size_down = 700"),
        "{toml}"
    );
    let second = run(
        t.path(),
        &[
            "schedule",
            "--config",
            cfg.to_str().unwrap(),
            "--steps",
            "3000",
        ],
    );
    assert_eq!(stdout(&first), stdout(&second));
    // JSON configs too.
    let json = t.path().join("s.json");
    std::fs::write(
        &json,
        r#"{"policy":"triangular","base_lr":0.1,"max_lr":0.2,"step_size_up":1}"#,
    )
    .unwrap();
    let o = run(
        t.path(),
        &[
            "schedule",
            "--config",
            json.to_str().unwrap(),
            "--steps",
            "2",
        ],
    );
    assert_eq!(stdout(&o), "step,lr\n0,0.1\n1,0.2\n");
}

#[test]
fn every_invalid_combination_is_exit_2_with_one_clear_sentence() {
    let t = tmp();
    let tri = [
        "--base-lr",
        "0.001",
        "--max-lr",
        "0.006",
        "--step-size-up",
        "100",
    ];
    let with = |policy: &str, extra: &[&str]| {
        let mut v = vec!["schedule", policy];
        v.extend(tri);
        v.extend(extra);
        v.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["schedule".into(), "triangle".into()],
            "unknown policy 'triangle'",
        ),
        (vec!["schedule".into()], "name a policy"),
        (
            with("triangular", &["--gamma", "0.9"]),
            "--gamma does not apply to triangular",
        ),
        (with("triangular", &["--t0", "5"]), "--t0 does not apply"),
        (with("exp_range", &[]), "needs --gamma"),
        (with("exp_range", &["--gamma", "1.5"]), "gamma is 1.5"),
        (with("exp_range", &["--gamma", "0"]), "must be in (0, 1]"),
        (
            with("triangular", &["--step-size-down", "0"]),
            "step_size_down is 0",
        ),
        (
            with("triangular", &["--base-momentum", "0.9"]),
            "needs both",
        ),
        (
            with(
                "triangular",
                &["--base-momentum", "0.95", "--max-momentum", "0.85"],
            ),
            "swap them",
        ),
        (
            with(
                "triangular",
                &["--base-momentum", "0.5", "--max-momentum", "1.2"],
            ),
            "momentum must be in [0, 1)",
        ),
        (with("triangular", &["--steps", "0"]), "--steps is 0"),
        (
            vec![
                "schedule".into(),
                "triangular".into(),
                "--base-lr".into(),
                "0.001".into(),
                "--max-lr".into(),
                "0.01".into(),
                "--step-size-up".into(),
                u64::MAX.to_string(),
            ],
            "pass --steps",
        ),
        (
            vec![
                "schedule".into(),
                "triangular".into(),
                "--base-lr".into(),
                "0.01".into(),
                "--max-lr".into(),
                "0.001".into(),
                "--step-size-up".into(),
                "5".into(),
            ],
            "max_lr (0.001) is below base_lr (0.01)",
        ),
        (
            vec![
                "schedule".into(),
                "triangular".into(),
                "--base-lr".into(),
                "-0.01".into(),
                "--max-lr".into(),
                "0.1".into(),
                "--step-size-up".into(),
                "5".into(),
            ],
            "cannot be negative",
        ),
        (
            vec![
                "schedule".into(),
                "triangular".into(),
                "--base-lr".into(),
                "nan".into(),
                "--max-lr".into(),
                "0.1".into(),
                "--step-size-up".into(),
                "5".into(),
            ],
            "must be a finite number",
        ),
        (
            vec![
                "schedule".into(),
                "triangular".into(),
                "--base-lr".into(),
                "inf".into(),
                "--max-lr".into(),
                "0.1".into(),
                "--step-size-up".into(),
                "5".into(),
            ],
            "must be a finite number",
        ),
        (
            vec![
                "schedule".into(),
                "triangular".into(),
                "--base-lr".into(),
                "0.001".into(),
                "--step-size-up".into(),
                "5".into(),
            ],
            "triangular needs --max-lr",
        ),
        (
            vec![
                "schedule".into(),
                "triangular".into(),
                "--base-lr".into(),
                "0.001".into(),
                "--max-lr".into(),
                "0.1".into(),
                "--step-size-up".into(),
                "0".into(),
            ],
            "step_size_up is 0",
        ),
        (
            vec![
                "schedule".into(),
                "triangular".into(),
                "--base-lr".into(),
                "abc".into(),
            ],
            "invalid value 'abc'",
        ),
        (
            vec![
                "schedule".into(),
                "one_cycle".into(),
                "--max-lr".into(),
                "0.1".into(),
                "--total-steps".into(),
                "100".into(),
                "--pct-start".into(),
                "1.5".into(),
            ],
            "strictly between 0 and 1",
        ),
        (
            vec![
                "schedule".into(),
                "one_cycle".into(),
                "--max-lr".into(),
                "0.1".into(),
                "--total-steps".into(),
                "100".into(),
                "--pct-start".into(),
                "0.6".into(),
                "--three-phase".into(),
            ],
            "below 0.5",
        ),
        (
            vec![
                "schedule".into(),
                "one_cycle".into(),
                "--max-lr".into(),
                "0.1".into(),
                "--total-steps".into(),
                "100".into(),
                "--div-factor".into(),
                "-2".into(),
            ],
            "div_factor is -2",
        ),
        (
            vec![
                "schedule".into(),
                "sgdr".into(),
                "--max-lr".into(),
                "0.1".into(),
                "--t0".into(),
                "0".into(),
            ],
            "t0 is 0",
        ),
        (
            vec![
                "schedule".into(),
                "sgdr".into(),
                "--max-lr".into(),
                "0.1".into(),
                "--t0".into(),
                "10".into(),
                "--min-lr".into(),
                "0.5".into(),
            ],
            "max_lr (0.1) is below min_lr (0.5)",
        ),
        (
            vec![
                "schedule".into(),
                "step".into(),
                "--base-lr".into(),
                "0.1".into(),
                "--step-size".into(),
                "10".into(),
                "--gamma".into(),
                "2".into(),
            ],
            "gamma is 2",
        ),
        (
            vec![
                "schedule".into(),
                "exp".into(),
                "--base-lr".into(),
                "0.1".into(),
                "--gamma".into(),
                "-1".into(),
            ],
            "gamma is -1",
        ),
        (
            vec![
                "schedule".into(),
                "fixed".into(),
                "--base-lr".into(),
                "0.1".into(),
                "--max-lr".into(),
                "0.2".into(),
            ],
            "--max-lr does not apply to fixed",
        ),
        (
            vec!["schedule".into(), "sequence".into()],
            "write it in a TOML file",
        ),
        (
            vec![
                "schedule".into(),
                "triangular".into(),
                "--config".into(),
                "x.toml".into(),
            ],
            "not both",
        ),
        (
            vec![
                "schedule".into(),
                "--config".into(),
                "/nonexistent/x.toml".into(),
            ],
            "cannot read schedule config",
        ),
        (
            vec![
                "schedule".into(),
                "triangular".into(),
                "triangular2".into(),
                "--base-lr".into(),
                "0.1".into(),
                "--max-lr".into(),
                "0.2".into(),
                "--step-size-up".into(),
                "3".into(),
                "--save-config".into(),
                "a.toml".into(),
            ],
            "writes one schedule",
        ),
        (
            vec![
                "schedule".into(),
                "fixed".into(),
                "--base-lr".into(),
                "0.1".into(),
                "--plot".into(),
                "x.jpg".into(),
            ],
            ".png or .svg",
        ),
    ];
    for (args, needle) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run(t.path(), &args);
        if needle.contains(".png or .svg") {
            // An unusable output name is a failure of the run, not of the schedule.
            assert_ne!(o.status.code(), Some(0), "{args:?}");
            assert!(
                common::stderr(&o).contains(needle),
                "{args:?}: {}",
                common::stderr(&o)
            );
            continue;
        }
        assert_usage_error(&o, needle);
        let lines = common::stderr(&o)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count();
        assert!(
            lines <= 3,
            "{args:?}: more than a sentence: {}",
            common::stderr(&o)
        );
    }
}

#[test]
fn a_bad_config_file_names_the_file_and_the_problem() {
    let t = tmp();
    let cfg = t.path().join("bad.toml");
    std::fs::write(
        &cfg,
        "policy = \"triangular\"\nbase_lr = 0.01\nmax_lr = 0.001\nstep_size_up = 10\n",
    )
    .unwrap();
    let o = run(t.path(), &["schedule", "--config", cfg.to_str().unwrap()]);
    assert_usage_error(&o, "bad.toml is not a valid schedule");
    assert!(common::stderr(&o).contains("swap them"));
    std::fs::write(
        &cfg,
        "policy = \"triangular\"\nbase_lr = 0.001\nmax_lr = 0.006\nstepsize = 10\n",
    )
    .unwrap();
    let o = run(t.path(), &["schedule", "--config", cfg.to_str().unwrap()]);
    assert_usage_error(&o, "stepsize");
}

mod no_panic {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(40))]
        /// Random numbers for every option of every policy: success or exit 2, never a panic.
        #[test]
        fn random_flags_never_panic(policy in prop::sample::select(vec!["triangular", "triangular2", "exp_range", "one_cycle", "sgdr", "fixed", "decay", "exp", "step", "linear"]),
                                    a in any::<f64>(), b in any::<f64>(), g in any::<f64>(), n in 0u64..50, m in 0u64..50) {
            let t = tmp();
            let (a, b, g) = (format!("{a:e}"), format!("{b:e}"), format!("{g:e}"));
            let (n, m) = (n.to_string(), m.to_string());
            let mut args = vec!["schedule", policy, "--steps", "20"];
            match policy {
                "one_cycle" => args.extend(["--max-lr", &a, "--total-steps", &n, "--pct-start", &g]),
                "sgdr" => args.extend(["--max-lr", &a, "--t0", &n, "--t-mult", &m, "--min-lr", &b]),
                "fixed" => args.extend(["--base-lr", &a]),
                "exp" => args.extend(["--base-lr", &a, "--gamma", &g]),
                "step" => args.extend(["--base-lr", &a, "--step-size", &n, "--gamma", &g]),
                "linear" => args.extend(["--start-lr", &a, "--end-lr", &b, "--total-steps", &n]),
                "decay" => args.extend(["--base-lr", &a, "--max-lr", &b, "--step-size", &n]),
                "exp_range" => args.extend(["--base-lr", &a, "--max-lr", &b, "--step-size-up", &n, "--gamma", &g]),
                _ => args.extend(["--base-lr", &a, "--max-lr", &b, "--step-size-up", &n, "--step-size-down", &m]),
            }
            let o = run(t.path(), &args);
            let code = o.status.code();
            prop_assert!(code == Some(0) || code == Some(2), "{args:?}: {code:?} {}", common::stderr(&o));
            prop_assert!(!common::stderr(&o).contains("panicked"));
            if code == Some(0) {
                prop_assert!(!stdout(&o).contains("NaN") && !stdout(&o).contains("inf"), "{args:?}");
            }
        }
    }
}
