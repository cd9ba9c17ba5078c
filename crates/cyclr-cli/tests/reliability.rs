//! Reliability: kill -9 and Ctrl-C at random moments, a full disk, download faults,
//! numeric faults and bad data. Each case checks what the user sees and what is kept.
//! The table in RELIABILITY.md lists them.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

// Runs are compared with runs, not with known accuracies: a synthetic CIFAR-10 will do
// (only the bad-data case reads the real archive, to damage a copy of it).
use common::{cyclr, metric_numbers, run, stderr, stdout, synthetic_data_dir as data_dir};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A small deterministic generator for kill times.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn train_args<'a>(data: &'a str, out: &'a str, epochs: &'a str) -> Vec<&'a str> {
    vec![
        "train",
        "--data",
        data,
        "--train-limit",
        "1000",
        "--test-limit",
        "200",
        "--epochs",
        epochs,
        "--policy",
        "triangular",
        "--base-lr",
        "0.001",
        "--max-lr",
        "0.004",
        "--step-size-up",
        "7",
        "--eval-every",
        "3",
        "--seed",
        "5",
        "--out",
        out,
        "--quiet",
    ]
}

/// Every file a run leaves must be whole: CSV rows complete, JSON parsing, checkpoint loading.
fn assert_not_torn(dir: &Path) {
    if dir.join("metrics.csv").is_file() {
        let mut r = csv::Reader::from_path(dir.join("metrics.csv")).unwrap();
        for rec in r.records() {
            let rec = rec.expect("a whole row");
            assert_eq!(rec.len(), 10, "a torn row: {rec:?}");
            for field in rec.iter() {
                field
                    .parse::<f64>()
                    .unwrap_or_else(|_| panic!("a torn number {field:?}"));
            }
        }
    }
    if dir.join("run.json").is_file() {
        let text = std::fs::read_to_string(dir.join("run.json")).unwrap();
        serde_json::from_str::<serde_json::Value>(&text).expect("run.json parses");
    }
    if dir.join("checkpoint.bin").is_file() {
        cyclr_cifar::train::load_summary(dir).expect("the checkpoint loads");
    }
}

fn wait_with_timeout(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Waits until `progress` holds while `child` still runs; false if the child ended first
/// or `limit` passed. A kill after this lands mid-run, not after the end.
fn wait_for_progress(
    child: &mut Child,
    limit: Duration,
    mut progress: impl FnMut() -> bool,
) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if progress() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// SIGKILL, after checking the process is still running (so the kill is what ends it).
fn kill_running(child: &mut Child) {
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run ended before the kill"
    );
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        None,
        "ended by the signal, not by finishing: {status:?}"
    );
}

#[test]
fn kill_9_of_train_at_random_moments_loses_at_most_an_epoch_and_resumes_exactly() {
    let t = tempfile::tempdir().unwrap();
    let data = data_dir();
    let straight = t.path().join("straight");
    let o = run(t.path(), &train_args(s(&data), s(&straight), "6"));
    assert!(o.status.success(), "{}", stderr(&o));
    let expected = metric_numbers(&straight);

    let cut = t.path().join("cut");
    let mut rng = Rng(2026);
    let steps_per_epoch = 10u64;
    let saved_steps = |dir: &Path| {
        cyclr_cifar::train::load_summary(dir)
            .ok()
            .flatten()
            .map_or(0, |s| s.steps)
    };
    for round in 0..3 {
        let args = if cut.join("checkpoint.bin").is_file() {
            vec![
                "train",
                "--data",
                s(&data),
                "--train-limit",
                "1000",
                "--test-limit",
                "200",
                "--epochs",
                "6",
                "--resume",
                s(&cut),
                "--quiet",
            ]
        } else {
            train_args(s(&data), s(&cut), "6")
        };
        let mut child = cyclr(t.path())
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill once this process has saved a new checkpoint, then a little later, at a
        // random moment of the next epoch.
        let before = saved_steps(&cut);
        let progressed = wait_for_progress(&mut child, Duration::from_secs(120), || {
            saved_steps(&cut) > before
        });
        assert!(
            progressed,
            "round {round}: the run saved no new checkpoint before ending"
        );
        std::thread::sleep(Duration::from_secs_f64(0.15 * rng.next()));
        kill_running(&mut child);
        assert_not_torn(&cut);
        let saved = cyclr_cifar::train::load_summary(&cut)
            .unwrap()
            .expect("a checkpoint survives the kill");
        assert!(
            saved.steps > before && saved.steps < 60,
            "round {round}: killed mid-run at {}",
            saved.steps
        );
        let rows = metric_numbers(&cut);
        assert!(!rows.is_empty(), "rows were written before the kill");
        let last_row = rows.last().map_or(0, |r| r[0].parse::<u64>().unwrap());
        assert!(
            saved.steps + steps_per_epoch >= last_row,
            "lost more than an epoch: checkpoint {} vs row {last_row}",
            saved.steps
        );
    }
    // Finish the job.
    let args = if cut.join("checkpoint.bin").is_file() {
        vec![
            "train",
            "--data",
            s(&data),
            "--train-limit",
            "1000",
            "--test-limit",
            "200",
            "--epochs",
            "6",
            "--resume",
            s(&cut),
            "--quiet",
        ]
    } else {
        train_args(s(&data), s(&cut), "6")
    };
    let o = run(t.path(), &args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(metric_numbers(&cut), expected);
}

#[test]
fn a_stale_partial_checkpoint_is_ignored_and_a_damaged_one_is_reported() {
    let t = tempfile::tempdir().unwrap();
    let data = data_dir();
    let out = t.path().join("run");
    let o = run(t.path(), &train_args(s(&data), s(&out), "1"));
    assert!(o.status.success());
    // What a kill in the middle of writing the next checkpoint leaves behind.
    std::fs::write(
        out.join(".checkpoint.bin.partial"),
        b"CYCLRCK1 half-written",
    )
    .unwrap();
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
            "--resume",
            s(&out),
            "--quiet",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(metric_numbers(&out).len(), 8);

    // A checkpoint damaged by something else entirely: a clear error, not a panic.
    let bytes = std::fs::read(out.join("checkpoint.bin")).unwrap();
    std::fs::write(out.join("checkpoint.bin"), &bytes[..bytes.len() / 2]).unwrap();
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
            "3",
            "--resume",
            s(&out),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is damaged"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"));
}

fn interrupt(child: &Child) {
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Ctrl-C to `child`, then its exit status and what it said on stderr.
fn ctrl_c(child: &mut Child) -> (std::process::ExitStatus, String) {
    interrupt(child);
    let status = wait_with_timeout(child, Duration::from_secs(60)).expect("exits after Ctrl-C");
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status, err)
}

#[test]
fn ctrl_c_saves_a_checkpoint_at_the_current_batch_and_resume_matches() {
    let t = tempfile::tempdir().unwrap();
    let data = data_dir();
    let straight = t.path().join("straight");
    assert!(
        run(t.path(), &train_args(s(&data), s(&straight), "3"))
            .status
            .success()
    );

    let cut = t.path().join("cut");
    let mut child = cyclr(t.path())
        .args(train_args(s(&data), s(&cut), "3"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the first evaluations, then press Ctrl-C mid-epoch.
    let start = Instant::now();
    while metric_numbers_or_empty(&cut).len() < 2 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, err) = ctrl_c(&mut child);
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("--resume"), "{err}");
    let saved = cyclr_cifar::train::load_summary(&cut)
        .unwrap()
        .expect("a checkpoint");
    assert!(
        saved.steps >= 6 && saved.steps < 30,
        "saved at {}",
        saved.steps
    );
    assert_not_torn(&cut);

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
            "3",
            "--resume",
            s(&cut),
            "--quiet",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(metric_numbers(&cut), metric_numbers(&straight));
}

fn metric_numbers_or_empty(dir: &Path) -> Vec<Vec<String>> {
    if dir.join("metrics.csv").is_file() {
        metric_numbers(dir)
    } else {
        vec![]
    }
}

#[test]
fn kill_9_and_ctrl_c_of_recreate_then_rerun_finishes_with_the_same_numbers() {
    let t = tempfile::tempdir().unwrap();
    let data = data_dir();
    let args = |out: &PathBuf| -> Vec<String> {
        [
            "recreate",
            "--profile",
            "smoke",
            "--train-limit",
            "1000",
            "--test-limit",
            "200",
            "--data",
            s(&data),
            "--quiet",
            "--out",
            s(out),
        ]
        .iter()
        .map(|a| a.to_string())
        .collect()
    };
    let straight = t.path().join("straight");
    let o = cyclr(t.path()).args(args(&straight)).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let expected = std::fs::read_to_string(straight.join("results.csv")).unwrap();
    let finals = |text: &str| -> Vec<(String, String, String)> {
        text.lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (f[0].to_string(), f[4].to_string(), f[5].to_string())
            })
            .collect()
    };

    let cut = t.path().join("cut");
    let mut rng = Rng(7);
    // Progress a kill can follow: the range test's result and every checkpoint written.
    let saved = |cut: &Path| -> u64 {
        let mut n = u64::from(cut.join("range-test/range_test.json").is_file());
        for run_dir in std::fs::read_dir(cut.join("runs")).into_iter().flatten() {
            let dir = run_dir.unwrap().path();
            n += cyclr_cifar::train::load_summary(&dir)
                .ok()
                .flatten()
                .map_or(0, |s| 1 + s.steps);
        }
        n
    };
    for round in 0..4 {
        let mut child = cyclr(t.path())
            .args(args(&cut))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let before = saved(&cut);
        let progressed = wait_for_progress(&mut child, Duration::from_secs(120), || {
            saved(&cut) > before
        });
        assert!(
            progressed,
            "round {round}: the job made no progress before ending"
        );
        std::thread::sleep(Duration::from_secs_f64(0.3 * rng.next()));
        if round == 1 {
            assert!(
                child.try_wait().unwrap().is_none(),
                "the job ended before Ctrl-C"
            );
            interrupt(&child); // Ctrl-C: a clean stop with exit 130
            let st = wait_with_timeout(&mut child, Duration::from_secs(60)).unwrap();
            assert_eq!(st.code(), Some(130), "{st:?}");
        } else {
            kill_running(&mut child);
        }
        assert!(
            !cut.join("results.csv").is_file(),
            "round {round}: interrupted mid-job"
        );
        for run_dir in std::fs::read_dir(cut.join("runs")).into_iter().flatten() {
            assert_not_torn(&run_dir.unwrap().path());
        }
        for f in ["plan.json", "recreate.json", "range-test/range_test.json"] {
            if cut.join(f).is_file() {
                serde_json::from_str::<serde_json::Value>(
                    &std::fs::read_to_string(cut.join(f)).unwrap(),
                )
                .expect(f);
            }
        }
    }
    let o = cyclr(t.path()).args(args(&cut)).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let got = std::fs::read_to_string(cut.join("results.csv")).unwrap();
    assert_eq!(finals(&got), finals(&expected));
    assert!(
        std::fs::read_to_string(cut.join("report.md"))
            .unwrap()
            .contains("## Verdict")
    );
}

#[test]
fn a_full_disk_gives_a_clear_error_and_keeps_the_previous_checkpoint() {
    let t = tempfile::tempdir().unwrap();
    let data = data_dir();
    let straight = t.path().join("straight");
    assert!(
        run(t.path(), &train_args(s(&data), s(&straight), "2"))
            .status
            .success()
    );

    let out = t.path().join("run");
    assert!(
        run(t.path(), &train_args(s(&data), s(&out), "1"))
            .status
            .success()
    );
    // A file-size limit below the checkpoint's size stands in for a full disk (SIGXFSZ is
    // ignored so that writes fail with EFBIG, as they would with ENOSPC).
    let o = Command::new("bash")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 512; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_cyclr"))
        .args([
            "train",
            "--data",
            s(&data),
            "--train-limit",
            "1000",
            "--test-limit",
            "200",
            "--epochs",
            "2",
            "--resume",
            s(&out),
            "--quiet",
        ])
        .env("CYCLR_CACHE_DIR", t.path())
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("checkpoint.bin") && err.contains("previous version is kept"),
        "{err}"
    );
    assert!(!err.contains("panicked"));
    assert_not_torn(&out);
    assert_eq!(
        cyclr_cifar::train::load_summary(&out)
            .unwrap()
            .unwrap()
            .steps,
        10
    );
    // With space again, the run finishes as if nothing happened.
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
            "--resume",
            s(&out),
            "--quiet",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(metric_numbers(&out), metric_numbers(&straight));
}

#[test]
fn divergence_in_training_and_in_the_range_test_stops_with_a_message_and_keeps_the_files() {
    let t = tempfile::tempdir().unwrap();
    let data = data_dir();
    // A rate so large that one step is enough to break the model.
    let out = t.path().join("boom");
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
            "2",
            "--policy",
            "fixed",
            "--base-lr",
            "1e12",
            "--optimizer",
            "sgd",
            "--out",
            s(&out),
            "--quiet",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("the loss became") && err.contains("Lower the maximum learning rate"),
        "{err}"
    );
    assert_not_torn(&out);
    let run_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(run_json["status"], "diverged");

    let rt = t.path().join("rt");
    let o = run(
        t.path(),
        &[
            "range-test",
            "--data",
            s(&data),
            "--train-limit",
            "1000",
            "--test-limit",
            "100",
            "--optimizer",
            "sgd",
            "--min-lr",
            "0.001",
            "--max-lr",
            "1e6",
            "--ramp",
            "exp",
            "--iters",
            "200",
            "--out",
            s(&rt),
            "--quiet",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("stopped early at iteration"),
        "{}",
        stdout(&o)
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rt.join("range_test.json")).unwrap())
            .unwrap();
    let n = json["points"].as_array().unwrap().len();
    assert!(n < 200, "stopped early");
    assert_eq!(
        std::fs::read_to_string(rt.join("range_test.csv"))
            .unwrap()
            .lines()
            .count(),
        n + 1
    );
    if let Some(max) = json["analysis"]["recommendation"]["max_lr"].as_f64() {
        assert!(max <= json["early_stop"]["lr"].as_f64().unwrap());
    }
}

#[test]
fn bad_data_is_named_on_the_command_line() {
    let t = tempfile::tempdir().unwrap();
    let junk = t.path().join("cifar.tar.gz");
    std::fs::write(&junk, b"this is not an archive").unwrap();
    let o = run(
        t.path(),
        &[
            "train",
            "--data",
            s(&junk),
            "--policy",
            "fixed",
            "--base-lr",
            "0.001",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cifar.tar.gz is neither a folder nor a .tar.gz archive"),
        "{}",
        stderr(&o)
    );

    let truncated = t.path().join("trunc.tar.gz");
    let bytes = std::fs::read(common::archive()).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    let o = run(
        t.path(),
        &[
            "train",
            "--data",
            s(&truncated),
            "--policy",
            "fixed",
            "--base-lr",
            "0.001",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("trunc.tar.gz"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"));
}

/// Serves each connection with the next behaviour, then stops.
fn server(behaviours: Vec<&'static str>, body: Vec<u8>) -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/cifar-10-binary.tar.gz",
        listener.local_addr().unwrap()
    );
    let handle = std::thread::spawn(move || {
        for b in behaviours {
            let (mut stream, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            match b {
                "500" => {
                    let _ = stream.write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                }
                "drop" => {
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(head.as_bytes());
                    let _ = stream.write_all(&body[..body.len() / 2]);
                }
                _ => {
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(head.as_bytes());
                    let _ = stream.write_all(&body);
                }
            }
        }
    });
    (url, handle)
}

#[test]
fn download_faults_leave_no_file_and_say_what_happened() {
    let t = tempfile::tempdir().unwrap();
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let (url, handle) = server(vec!["500", "drop", "ok"], body);
    let attempt = || {
        cyclr(t.path())
            .env("CYCLR_DOWNLOAD_URL", &url)
            .args([
                "train",
                "--download",
                "--policy",
                "fixed",
                "--base-lr",
                "0.001",
            ])
            .output()
            .unwrap()
    };
    let cached = t.path().join("cifar-10-binary.tar.gz");
    let expect = ["500", "stopped after", "is corrupt: MD5"];
    for needle in expect {
        let o = attempt();
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{needle}: {}", stderr(&o));
        assert!(!cached.exists(), "no file left looking complete");
        let leftovers: Vec<_> = std::fs::read_dir(t.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
    handle.join().unwrap();
}

/// Ctrl-C during a range test keeps the points so far (exit 130) and says the command that
/// works for the whole ramp: the same one with `--overwrite`, since without it the folder
/// that now holds a result is refused.
#[test]
fn ctrl_c_in_a_range_test_says_the_command_that_works() {
    let t = tempfile::tempdir().unwrap();
    let data = common::synthetic_data_dir();
    let rt = t.path().join("rt");
    let args = [
        "range-test",
        "--data",
        s(&data),
        "--train-limit",
        "200",
        "--test-limit",
        "20",
        "--iters",
        "1000000",
        "--batch-size",
        "10",
        "--out",
        s(&rt),
        "--quiet",
    ];
    let mut child = cyclr(t.path())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The folder is claimed (its lock written) before the ramp starts.
    let start = Instant::now();
    while !rt.join(".cyclr.lock").is_file() && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    let (status, err) = ctrl_c(&mut child);
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(
        err.contains("run the command again with --overwrite"),
        "{err}"
    );
    assert!(rt.join("range_test.json").is_file());
    // Without it, the same command is refused, as the message implies.
    let o = run(t.path(), &args);
    common::assert_usage_error(&o, "--overwrite");
}
