//! `cyclr train`, `cyclr range-test` and `cyclr recreate` end to end on real CIFAR-10
//! subsets, with the files they promise.

mod common;

use std::path::Path;

use common::{assert_usage_error, cyclr, data_dir, is_png, run, stderr, stdout};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn train_writes_metrics_run_json_plot_and_checkpoint() {
    let t = tempfile::tempdir().unwrap();
    let data = data_dir();
    let out = t.path().join("run");
    let o = run(
        t.path(),
        &[
            "train",
            "--data",
            s(&data),
            "--train-limit",
            "1000",
            "--test-limit",
            "200",
            "--epochs",
            "2",
            "--policy",
            "triangular",
            "--base-lr",
            "0.001",
            "--max-lr",
            "0.005",
            "--step-size-up",
            "10",
            "--eval-every",
            "5",
            "--out",
            s(&out),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("finished 20 iterations: final test accuracy"),
        "{text}"
    );
    // Progress lines go to stderr when it is not a terminal: one per evaluation.
    assert_eq!(stderr(&o).matches(" iter ").count(), 4, "{}", stderr(&o));
    let rows = common::metric_numbers(&out);
    assert_eq!(rows.len(), 4);
    let run_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(run_json["status"], "finished");
    assert_eq!(run_json["config"]["schedule"]["policy"], "triangular");
    assert_eq!(run_json["data"]["train_images"], 1000);
    assert!(run_json["hardware"]["cpu"].as_str().is_some());
    assert!(is_png(&out.join("training.png")));
    assert!(out.join("checkpoint.bin").is_file());

    // Resuming a finished run for more epochs continues it; flags that change it are refused.
    let o = run(
        t.path(),
        &[
            "train",
            "--data",
            s(&data),
            "--train-limit",
            "1000",
            "--test-limit",
            "200",
            "--resume",
            s(&out),
            "--epochs",
            "3",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(common::metric_numbers(&out).len(), 6);
    let o = run(
        t.path(),
        &[
            "train",
            "--data",
            s(&data),
            "--resume",
            s(&out),
            "--base-lr",
            "0.1",
        ],
    );
    assert_usage_error(&o, "conflict with --resume");
    // Settings a resumed run would ignore are refused rather than dropped.
    let o = run(
        t.path(),
        &[
            "train",
            "--data",
            s(&data),
            "--resume",
            s(&out),
            "--batch-size",
            "50",
        ],
    );
    assert_usage_error(&o, "cannot be used with");
    let o = run(
        t.path(),
        &[
            "train",
            "--data",
            s(&data),
            "--resume",
            s(&out),
            "--engine",
            "burn",
        ],
    );
    assert_usage_error(&o, "cannot be used with");
    let o = run(
        t.path(),
        &[
            "train",
            "--data",
            s(&data),
            "--resume",
            s(&out),
            "--epochs",
            "0",
        ],
    );
    assert_usage_error(&o, "--epochs is 0");
}

#[test]
fn train_input_errors_are_explained() {
    let t = tempfile::tempdir().unwrap();
    let data = common::synthetic_data_dir(); // input errors: any data will do
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["train", "--data", s(&data)], "no schedule given"),
        (
            vec![
                "train",
                "--data",
                s(&data),
                "--policy",
                "fixed",
                "--base-lr",
                "0.001",
                "--epochs",
                "0",
            ],
            "--epochs is 0",
        ),
        (
            vec![
                "train",
                "--data",
                s(&data),
                "--policy",
                "fixed",
                "--base-lr",
                "0.001",
                "--batch-size",
                "0",
            ],
            "--batch-size is 0",
        ),
        (
            vec![
                "train",
                "--data",
                s(&data),
                "--policy",
                "fixed",
                "--base-lr",
                "0.001",
                "--optimizer",
                "sgd",
                "--momentum",
                "1.5",
            ],
            "momentum is 1.5",
        ),
        (
            vec![
                "train",
                "--data",
                s(&data),
                "--policy",
                "fixed",
                "--base-lr",
                "0.001",
                "--device",
                "tpu",
            ],
            "unknown device 'tpu'",
        ),
        (
            vec![
                "train",
                "--data",
                s(&data),
                "--policy",
                "fixed",
                "--base-lr",
                "0.001",
                "--device",
                "cuda",
            ],
            "rebuild with `cargo build --release --features cyclr-cli/cuda`",
        ),
        (
            vec![
                "train",
                "--data",
                s(&data),
                "--policy",
                "fixed",
                "--base-lr",
                "0.001",
                "--download",
            ],
            "--data and --download conflict",
        ),
        (
            vec![
                "train",
                "--data",
                s(&data),
                "--policy",
                "fixed",
                "--base-lr",
                "0.001",
                "--train-limit",
                "0",
            ],
            "--train-limit is 0",
        ),
        (
            vec![
                "train",
                "--data",
                s(&data),
                "--policy",
                "fixed",
                "--base-lr",
                "0.001",
                "--test-limit",
                "20000",
            ],
            "--test-limit 20000 asks for more",
        ),
        (
            vec![
                "train",
                "--data",
                "/nonexistent/cifar.tar.gz",
                "--policy",
                "fixed",
                "--base-lr",
                "0.001",
            ],
            "does not exist",
        ),
        (
            vec!["train", "--resume", "/nonexistent/run"],
            "no checkpoint there",
        ),
        (
            vec![
                "train",
                "--data",
                s(&data),
                "--policy",
                "triangular",
                "--base-lr",
                "0.001",
            ],
            "triangular needs --max-lr",
        ),
        (
            vec!["train", "--policy", "fixed", "--base-lr", "0.001"],
            "no CIFAR-10 data found: pass --data PATH",
        ),
        (
            vec![
                "train",
                "--data",
                s(&data),
                "--from-range-test",
                "/nonexistent/range_test.json",
            ],
            "reading /nonexistent/range_test.json",
        ),
        (
            vec![
                "train",
                "--data",
                s(&data),
                "--from-range-test",
                "r.json",
                "--config",
                "s.toml",
            ],
            "cannot be used with",
        ),
    ];
    for (args, needle) in cases {
        let o = run(t.path(), &args);
        assert_usage_error(&o, needle);
    }
}

#[test]
fn range_test_then_train_from_it() {
    let t = tempfile::tempdir().unwrap();
    let data = data_dir();
    // A space in the folder: the hint must quote it to work as printed.
    let out = t.path().join("rt dir");
    let o = run(
        t.path(),
        &[
            "range-test",
            "--data",
            s(&data),
            "--train-limit",
            "5000",
            "--test-limit",
            "500",
            "--optimizer",
            "adam",
            "--min-lr",
            "0",
            "--max-lr",
            "0.02",
            "--epochs",
            "3",
            "--eval-every",
            "50",
            "--out",
            s(&out),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("recommended: base_lr"), "{text}");
    // The "next:" hint works as printed (with a short run and a folder of its own added).
    let next = text
        .lines()
        .find_map(|l| l.strip_prefix("next: cyclr "))
        .expect("a next: line");
    let (next, same) = next.split_once("  (= ").unwrap();
    // The expansion names what --from-range-test carries: the optimizer it ran with.
    assert!(
        same.starts_with("--optimizer adam --momentum 0.9 "),
        "{same}"
    );
    let hinted = t.path().join("hinted");
    // Run as printed, through a shell.
    let o2 = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "\"$CYCLR_BIN\" {next} --max-steps 2 --epochs 1 --quiet --out \"$HINTED\""
        ))
        .env("CYCLR_BIN", env!("CARGO_BIN_EXE_cyclr"))
        .env("HINTED", &hinted)
        .env("CYCLR_CACHE_DIR", t.path())
        .env("RAYON_NUM_THREADS", "2")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(o2.status.success(), "{next}: {}", stderr(&o2));
    for f in ["range_test.csv", "range_test.json", "range_test.svg"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    assert!(is_png(&out.join("range_test.png")));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("range_test.json")).unwrap())
            .unwrap();
    let points = json["points"].as_array().unwrap();
    assert_eq!(points.len(), 150);
    let rec = &json["analysis"]["recommendation"];
    let (base, max) = (
        rec["base_lr"].as_f64().unwrap(),
        rec["max_lr"].as_f64().unwrap(),
    );
    // Sane: base < max, both inside the ramp, max not past the divergence point.
    assert!(0.0 < base && base < max && max <= 0.02, "{base} {max}");
    if let Some(at) = json["early_stop"]["lr"].as_f64() {
        assert!(max <= at);
    }
    let rules: Vec<&str> = json["analysis"]["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["rule"].as_str().unwrap())
        .collect();
    for r in [
        "accuracy_base",
        "accuracy_max",
        "steepest_descent",
        "valley",
        "minimum_over_10",
    ] {
        assert!(rules.contains(&r), "{rules:?}");
    }
    assert!(
        points
            .iter()
            .filter(|p| p["test_accuracy"].is_number())
            .count()
            == 3
    );
    let csv_rows = std::fs::read_to_string(out.join("range_test.csv"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(csv_rows, 151);

    let run_dir = t.path().join("from-rt");
    let o = run(
        t.path(),
        &[
            "train",
            "--data",
            s(&data),
            "--train-limit",
            "500",
            "--test-limit",
            "100",
            "--epochs",
            "1",
            "--from-range-test",
            s(&out.join("range_test.json")),
            "--out",
            s(&run_dir),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let run_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("run.json")).unwrap()).unwrap();
    let sched = &run_json["config"]["schedule"];
    assert_eq!(sched["policy"], "triangular");
    assert_eq!(sched["base_lr"].as_f64().unwrap(), base);
    assert_eq!(sched["max_lr"].as_f64().unwrap(), max);
    assert_eq!(
        sched["step_size_up"].as_u64().unwrap(),
        json["stepsize"]["suggested"].as_u64().unwrap()
    );

    // A range test with SGD at batches of 50 (its JSON edited so): the training takes
    // both from it, and another optimizer or batch size is refused, not trained at its
    // bounds.
    let mut sgd = json.clone();
    sgd["settings"]["optimizer"] = serde_json::json!({"optimizer": "sgd", "momentum": 0.9, "weight_decay": 0.0, "nesterov": false});
    sgd["settings"]["batch_size"] = 50.into();
    let edited = t.path().join("sgd.json");
    std::fs::write(&edited, serde_json::to_string(&sgd).unwrap()).unwrap();
    let train_from = |extra: &[&str], dir: &std::path::Path| {
        let mut args = vec![
            "train",
            "--data",
            s(&data),
            "--train-limit",
            "500",
            "--test-limit",
            "100",
            "--max-steps",
            "2",
            "--from-range-test",
            s(&edited),
            "--quiet",
            "--out",
            s(dir),
        ];
        args.extend(extra);
        run(t.path(), &args)
    };
    let carried = t.path().join("carried");
    let o = train_from(&[], &carried);
    assert!(o.status.success(), "{}", stderr(&o));
    let run_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(carried.join("run.json")).unwrap()).unwrap();
    assert_eq!(run_json["config"]["optimizer"]["optimizer"], "sgd");
    assert_eq!(run_json["config"]["batch_size"], 50);
    let o = train_from(&["--optimizer", "adam"], &t.path().join("refused1"));
    assert_usage_error(&o, "bounds are for --optimizer sgd --momentum 0.9");
    let o = train_from(&["--batch-size", "100"], &t.path().join("refused2"));
    assert_usage_error(&o, "ran with batches of 50");
}

#[test]
fn recreate_smoke_writes_a_report_with_the_runs_real_numbers() {
    let t = tempfile::tempdir().unwrap();
    let data = data_dir();
    let out = t.path().join("rec");
    let o = cyclr(t.path())
        .args([
            "recreate",
            "--profile",
            "smoke",
            "--data",
            s(&data),
            "--out",
            s(&out),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("<table>"));
    for picture in ["accuracy.png", "schedules.png", "range-test/range_test.png"] {
        assert!(is_png(&out.join(picture)), "{picture}");
        assert!(report.contains(picture), "report.md links {picture}");
    }
    let mut results = csv::Reader::from_path(out.join("results.csv")).unwrap();
    let mut runs = 0;
    for row in results.records() {
        let row = row.unwrap();
        let (name, iterations, final_acc) = (&row[0], &row[4], row[5].parse::<f64>().unwrap());
        // The run's own metrics agree with the table, and the report shows them.
        let metrics = common::metric_numbers(&out.join("runs").join(name));
        let last = metrics.last().unwrap();
        assert_eq!(last[0], iterations);
        assert_eq!(last[7].parse::<f64>().unwrap(), final_acc);
        let shown = format!("| {name} | ");
        let line = report
            .lines()
            .find(|l| l.starts_with(&shown))
            .unwrap_or_else(|| panic!("{name} in report"));
        assert!(
            line.contains(&format!("{:.2}%", final_acc * 100.0)),
            "{line}"
        );
        assert!(html.contains(&format!("{:.2}%", final_acc * 100.0)));
        runs += 1;
    }
    assert_eq!(runs, 4, "baseline, triangular, triangular2, exp_range");
    // The verdict compares final with final and best with best, and says where the
    // baseline peaked.
    for part in [
        "## Verdict",
        "The fixed-LR baseline",
        "against the baseline's final",
        "against the baseline's best",
        "One seed, so the seed noise is unknown",
    ] {
        assert!(report.contains(part), "{part:?} missing from: {report}");
    }
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert!(
        csv.lines().next().unwrap().contains(
            "best_at_iteration,wall_s,iterations_to_baseline,iterations_to_baseline_best"
        ),
        "{csv}"
    );
    assert!(report.contains("Hardware:") && report.contains("Seeds: 0"));
    let stdout = stdout(&o);
    assert!(stdout.contains("| baseline-seed0 |"), "{stdout}");

    // Starting it again redoes nothing.
    let again = cyclr(t.path())
        .args([
            "recreate",
            "--profile",
            "smoke",
            "--data",
            s(&data),
            "--out",
            s(&out),
        ])
        .output()
        .unwrap();
    assert!(again.status.success());
    assert!(
        !stderr(&again).contains("== baseline"),
        "{}",
        stderr(&again)
    );
    // Other settings in the same folder are refused.
    let other = cyclr(t.path())
        .args([
            "recreate",
            "--profile",
            "smoke",
            "--seeds",
            "2",
            "--data",
            s(&data),
            "--out",
            s(&out),
        ])
        .output()
        .unwrap();
    // An input problem (another recreation's folder): exit 2, like a bad flag.
    assert_eq!(other.status.code(), Some(2));
    assert!(stderr(&other).contains("holds a recreation with other settings"));
}

#[test]
fn recreate_with_seeds_reports_mean_std_and_seed_noise() {
    let t = tempfile::tempdir().unwrap();
    let data = data_dir();
    let out = t.path().join("seeds");
    let o = run(
        t.path(),
        &[
            "recreate",
            "--profile",
            "smoke",
            "--train-limit",
            "500",
            "--test-limit",
            "100",
            "--baseline-epochs",
            "3",
            "--clr-epochs",
            "1",
            "--base-lr",
            "0.001",
            "--max-lr",
            "0.005",
            "--policies",
            "triangular",
            "--seeds",
            "2",
            "--data",
            s(&data),
            "--out",
            s(&out),
            "--quiet",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("| policy | seeds | final test acc (mean ± std) |"),
        "{report}"
    );
    assert!(report.contains("| triangular | 2 |"), "{report}");
    // The HTML page carries the same tables.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("<th>final test acc (mean ± std)</th>"),
        "the per-policy table is in the HTML too"
    );
    assert!(
        report.contains("the seed noise: 2 standard errors"),
        "{report}"
    );
    assert!(!report.contains("One seed"), "{report}");
    assert!(
        report.contains("given on the command line"),
        "bounds given: no range test"
    );
    assert!(!out.join("range-test").exists());
    let runs: Vec<_> = std::fs::read_dir(out.join("runs"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    for r in [
        "baseline-seed0",
        "baseline-seed1",
        "triangular-seed0",
        "triangular-seed1",
    ] {
        assert!(runs.contains(&r.to_string()), "{runs:?}");
    }
}

#[test]
fn recreate_paper_table_scales_the_papers_iteration_budgets() {
    let t = tempfile::tempdir().unwrap();
    let data = data_dir();
    let out = t.path().join("table");
    let o = run(
        t.path(),
        &[
            "recreate",
            "--profile",
            "smoke",
            "--train-limit",
            "500",
            "--test-limit",
            "100",
            "--baseline-epochs",
            "14",
            "--base-lr",
            "0.001",
            "--max-lr",
            "0.005",
            "--policies",
            "paper-table",
            "--data",
            s(&data),
            "--out",
            s(&out),
            "--quiet",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let mut iterations = std::collections::HashMap::new();
    let mut r = csv::Reader::from_path(out.join("results.csv")).unwrap();
    for row in r.records() {
        let row = row.unwrap();
        iterations.insert(row[1].to_string(), row[4].parse::<u64>().unwrap());
    }
    // Table 1 on CIFAR-10: fixed 70k, triangular2 25k, decay 25k, exp 70k, exp_range 42k.
    let fixed = iterations["fixed (baseline)"];
    assert_eq!(fixed, 70);
    assert_eq!(iterations["triangular2"], 25);
    assert_eq!(iterations["decay"], 25);
    assert_eq!(iterations["exp"], 70);
    assert_eq!(iterations["exp_range"], 42);
    // The report states the gamma exp_range ran with: a tenth of the amplitude over its 42.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("recreate.json")).unwrap()).unwrap();
    let gamma = report["gamma"].as_f64().unwrap();
    assert!((gamma - 0.1f64.powf(1.0 / 42.0)).abs() < 1e-12, "{gamma}");
}

#[test]
fn range_test_and_bench_input_errors() {
    let t = tempfile::tempdir().unwrap();
    let data = common::synthetic_data_dir(); // input errors: any data will do
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["range-test", "--batch-size", "0", "--data", s(&data)],
            "--batch-size is 0",
        ),
        (
            vec!["range-test", "--eval-every", "0", "--data", s(&data)],
            "--eval-every is 0",
        ),
        (
            vec!["range-test", "--iters", "1", "--data", s(&data)],
            "give at least 2",
        ),
        (
            vec![
                "range-test",
                "--min-lr",
                "0.1",
                "--max-lr",
                "0.01",
                "--data",
                s(&data),
            ],
            "must be above --min-lr",
        ),
        (
            vec![
                "range-test",
                "--ramp",
                "exp",
                "--min-lr",
                "0",
                "--data",
                s(&data),
            ],
            "cannot start at 0",
        ),
        (
            vec!["range-test", "--epochs", "0", "--data", s(&data)],
            "--epochs is 0",
        ),
        (vec!["bench", "--iters", "0"], "must be at least 1"),
        (
            vec!["bench", "--engine", "fused", "--device", "wgpu"],
            "wgpu",
        ),
        (
            vec!["bench", "--engine", "bf16"],
            "expected fused, fused-bf16 or burn",
        ),
    ];
    for (args, needle) in cases {
        assert_usage_error(&run(t.path(), &args), needle);
    }
}

#[test]
fn recreate_input_errors() {
    let t = tempfile::tempdir().unwrap();
    let data = common::synthetic_data_dir(); // input errors: any data will do
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "recreate",
                "--policies",
                "triangular,bogus",
                "--data",
                s(&data),
            ],
            "unknown policy 'bogus'",
        ),
        (
            vec!["recreate", "--policies", "sgdr", "--data", s(&data)],
            "sgdr is not part of the recreation",
        ),
        (
            vec!["recreate", "--seeds", "0", "--data", s(&data)],
            "--seeds is 0",
        ),
        (
            vec!["recreate", "--base-lr", "0.001", "--data", s(&data)],
            "give both --base-lr and --max-lr",
        ),
        (
            vec![
                "recreate",
                "--base-lr",
                "0.01",
                "--max-lr",
                "0.001",
                "--data",
                s(&data),
            ],
            "need 0 <= base < max",
        ),
        (
            vec!["recreate", "--gamma", "2", "--data", s(&data)],
            "--gamma is 2",
        ),
        (
            vec!["recreate", "--stepsize", "0", "--data", s(&data)],
            "--stepsize is 0",
        ),
        (
            vec!["recreate", "--eval-every", "0", "--data", s(&data)],
            "--eval-every is 0",
        ),
        (
            vec![
                "recreate",
                "--policies",
                "triangular,triangular",
                "--data",
                s(&data),
            ],
            "names triangular twice",
        ),
        (
            vec!["recreate", "--range-epochs", "0", "--data", s(&data)],
            "--range-epochs is 0",
        ),
        (
            vec![
                "recreate",
                "--range-min-lr",
                "0.1",
                "--range-max-lr",
                "0.01",
                "--data",
                s(&data),
            ],
            "--range-min-lr 0.1 and --range-max-lr 0.01",
        ),
        (
            vec![
                "recreate",
                "--policies",
                "paper-table",
                "--base-lr",
                "0",
                "--max-lr",
                "0.01",
                "--data",
                s(&data),
            ],
            "--base-lr is 0",
        ),
        (
            vec!["recreate", "--profile", "huge", "--data", s(&data)],
            "invalid value 'huge'",
        ),
        (
            vec!["recreate", "--profile", "smoke"],
            "no CIFAR-10 data found",
        ),
    ];
    for (args, needle) in cases {
        assert_usage_error(&run(t.path(), &args), needle);
    }
}

/// `--engine burn` (burn's own ops and optimizer state) resumes exactly too: a run cut
/// after one epoch and resumed for a second equals the uninterrupted two epochs.
#[test]
fn resume_with_the_burn_engine_matches_an_uninterrupted_run() {
    let t = tempfile::tempdir().unwrap();
    let data = common::synthetic_data_dir();
    let args = |out: &Path, epochs: &'static str| -> Vec<String> {
        [
            "train",
            "--data",
            s(&data),
            "--train-limit",
            "500",
            "--test-limit",
            "100",
            "--engine",
            "burn",
            "--optimizer",
            "sgd",
            "--policy",
            "triangular",
            "--base-lr",
            "0.002",
            "--max-lr",
            "0.01",
            "--step-size-up",
            "3",
            "--eval-every",
            "2",
            "--epochs",
            epochs,
            "--out",
            s(out),
            "--quiet",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect()
    };
    let straight = t.path().join("straight");
    let o = common::cyclr(t.path())
        .args(args(&straight, "2"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let cut = t.path().join("cut");
    let o = common::cyclr(t.path())
        .args(args(&cut, "1"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let run_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cut.join("run.json")).unwrap()).unwrap();
    assert_eq!(run_json["config"]["engine"], "burn");
    assert_eq!(
        common::metric_numbers(&cut).len(),
        3,
        "one epoch: rows at 2, 4 and 5"
    );
    let o = run(
        t.path(),
        &[
            "train",
            "--data",
            s(&data),
            "--train-limit",
            "500",
            "--test-limit",
            "100",
            "--resume",
            s(&cut),
            "--epochs",
            "2",
            "--quiet",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        common::metric_numbers(&cut),
        common::metric_numbers(&straight)
    );
}

#[test]
fn bench_runs_the_bf16_engine_where_the_cpu_has_it_and_says_why_not_elsewhere() {
    let t = tempfile::tempdir().unwrap();
    let args = [
        "bench",
        "--engine",
        "fused-bf16",
        "--batch-size",
        "8",
        "--warmup",
        "0",
        "--iters",
        "1",
        "--repeats",
        "1",
        "--json",
    ];
    let out = run(t.path(), &args);
    if cyclr_cifar::fused::bf16_available() {
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let result: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(result["hardware"]["engine"], "fused-bf16", "{result}");
        assert_eq!(result["config"]["engine"], "fused-bf16", "{result}");
        assert!(result["train_images_per_s"].as_f64().unwrap() > 0.0);
    } else {
        assert_usage_error(&out, "needs a CPU with AVX-512 BF16");
    }
}
