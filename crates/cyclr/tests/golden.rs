//! Every step of every case in tests/golden (PyTorch's own values, see its README.md and
//! make_schedules.py) must match to 1e-9 relative.

use std::path::PathBuf;

use cyclr::{
    AnnealStrategy, CyclicConfig, LrSchedule, OneCycleConfig, Schedule, ScheduleConfig, SgdrConfig,
};
use serde_json::Value;

fn golden_dir() -> PathBuf {
    std::env::var_os("CYCLR_GOLDEN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden"))
}

fn f(case: &Value, key: &str) -> f64 {
    case[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing"))
}

fn u(case: &Value, key: &str) -> u64 {
    case[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing"))
}

fn schedule_for(case: &Value) -> Schedule {
    let config = match case["kind"].as_str().unwrap() {
        "cyclic" => {
            let mut c = CyclicConfig::new(
                f(case, "base_lr"),
                f(case, "max_lr"),
                u(case, "step_size_up"),
            )
            .with_momentum(f(case, "base_momentum"), f(case, "max_momentum"));
            if let Some(down) = case["step_size_down"].as_u64() {
                c = c.with_step_size_down(down);
            }
            match case["mode"].as_str().unwrap() {
                "triangular" => ScheduleConfig::Triangular(c),
                "triangular2" => ScheduleConfig::Triangular2(c),
                "exp_range" => ScheduleConfig::ExpRange(c.with_gamma(f(case, "gamma"))),
                m => panic!("unknown mode {m}"),
            }
        }
        "onecycle" => {
            let mut c = OneCycleConfig::new(f(case, "max_lr"), u(case, "total_steps"))
                .with_momentum(f(case, "base_momentum"), f(case, "max_momentum"));
            c.pct_start = f(case, "pct_start");
            c.div_factor = f(case, "div_factor");
            c.final_div_factor = f(case, "final_div_factor");
            c.three_phase = case["three_phase"].as_bool().unwrap();
            c.anneal_strategy = match case["anneal_strategy"].as_str().unwrap() {
                "cos" => AnnealStrategy::Cos,
                "linear" => AnnealStrategy::Linear,
                a => panic!("unknown anneal {a}"),
            };
            ScheduleConfig::OneCycle(c)
        }
        "sgdr" => ScheduleConfig::Sgdr(
            SgdrConfig::new(f(case, "max_lr"), u(case, "T_0"))
                .with_t_mult(u(case, "T_mult"))
                .with_min_lr(f(case, "eta_min")),
        ),
        k => panic!("unknown kind {k}"),
    };
    config.init().expect("golden parameters are valid")
}

fn assert_close(what: &str, step: u64, got: f64, want: f64) {
    let tol = 1e-9 * want.abs().max(1e-300);
    assert!(
        (got - want).abs() <= tol,
        "{what} at step {step}: got {got:e}, PyTorch {want:e} (rel err {:e})",
        ((got - want) / want).abs()
    );
}

#[test]
fn every_golden_case_matches_pytorch() {
    let dir = golden_dir();
    let cases: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("cases.json"))
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.join("cases.json").display())),
    )
    .unwrap();
    let cases = cases["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 7, "expected the 7 documented cases");
    for case in cases {
        let file = case["file"].as_str().unwrap();
        let schedule = schedule_for(case);
        // Round-trip through config text too: the saved form must give the same values.
        let reloaded: Schedule =
            serde_json::from_str(&serde_json::to_string(&schedule).unwrap()).unwrap();
        let mut reader = csv::Reader::from_path(dir.join(file)).unwrap();
        let headers = reader.headers().unwrap().clone();
        let has_momentum = headers.iter().any(|h| h == "momentum");
        let mut rows = 0u64;
        for record in reader.records() {
            let record = record.unwrap();
            let step: u64 = record[0].parse().unwrap();
            let lr: f64 = record[1].parse().unwrap();
            assert_close(&format!("{file} lr"), step, schedule.lr(step), lr);
            assert_eq!(reloaded.lr(step), schedule.lr(step));
            if has_momentum {
                let m: f64 = record[2].parse().unwrap();
                let got = schedule.momentum(step).expect("momentum cycled");
                assert_close(&format!("{file} momentum"), step, got, m);
            } else {
                assert_eq!(schedule.momentum(step), None);
            }
            rows += 1;
        }
        // Each file holds steps 0..=steps.
        assert_eq!(rows, u(case, "steps") + 1, "{file}: row count");
    }
}
