//! Reliability, second pass: one writer per run folder, folders of their own, no quiet
//! overwrites, bounded inputs, non-regular files, and messages that say what happened.
//! Each case is a row of RELIABILITY.md. None needs real images: they run on a synthetic
//! CIFAR-10 the tests write themselves.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{assert_usage_error, cyclr, run, stderr, synthetic_data_dir as data_dir};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn small_train<'a>(data: &'a str, epochs: &'a str) -> Vec<&'a str> {
    vec![
        "train",
        "--data",
        data,
        "--train-limit",
        "500",
        "--test-limit",
        "100",
        "--epochs",
        epochs,
        "--policy",
        "fixed",
        "--base-lr",
        "0.001",
        "--quiet",
    ]
}

/// A second process on a folder in use is refused (exit 2, naming the holder's pid),
/// whether it is a new run there or a `--resume` of it; the first is not disturbed.
#[test]
fn one_writer_per_run_folder() {
    let t = tempfile::tempdir().unwrap();
    let data = data_dir();
    let out = t.path().join("run");
    let mut args = small_train(s(&data), "200");
    args.extend(["--out", s(&out)]);
    let mut first = cyclr(t.path())
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until it has written a checkpoint (so --resume has something to take).
    let start = Instant::now();
    while !out.join("checkpoint.bin").is_file() {
        assert!(
            first.try_wait().unwrap().is_none(),
            "the first run ended early"
        );
        assert!(start.elapsed() < Duration::from_secs(120), "no checkpoint");
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = run(t.path(), &args);
    assert_usage_error(&second, "is in use by another cyclr");
    assert!(
        stderr(&second).contains(&format!("pid {}", first.id())),
        "{}",
        stderr(&second)
    );
    let resume = run(
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
            s(&out),
            "--epochs",
            "200",
        ],
    );
    assert_usage_error(&resume, "is in use by another cyclr");
    assert!(first.try_wait().unwrap().is_none(), "the first run goes on");
    first.kill().unwrap();
    first.wait().unwrap();
    // Once its holder is gone (even killed), the folder can be taken again.
    let resumed = run(
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
            s(&out),
            "--epochs",
            "2",
            "--quiet",
        ],
    );
    assert!(resumed.status.success(), "{}", stderr(&resumed));
}

/// Runs started in the same second without --out get a folder each.
#[test]
fn default_folders_are_unique() {
    let t = tempfile::tempdir().unwrap();
    let data = data_dir();
    let args = small_train(s(&data), "1");
    let children: Vec<_> = (0..3)
        .map(|_| {
            cyclr(t.path())
                .args(&args)
                .current_dir(t.path())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let mut dirs: Vec<_> = std::fs::read_dir(t.path().join("runs"))
        .unwrap()
        .map(|d| d.unwrap().path())
        .collect();
    dirs.sort();
    assert_eq!(dirs.len(), 3, "{dirs:?}");
    for d in &dirs {
        // Each folder holds one whole run: 5 iterations, one row at the epoch end.
        assert_eq!(common::metric_numbers(d).len(), 1, "{}", d.display());
    }
}

/// A folder holding someone's metrics.csv (no run.json: not a cyclr run) is not
/// overwritten; a range test does not replace an earlier one unless asked.
#[test]
fn no_quiet_overwrites() {
    let t = tempfile::tempdir().unwrap();
    let data = data_dir();
    let theirs = t.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::write(theirs.join("metrics.csv"), "step,loss\n1,2.3\n").unwrap();
    let mut args = small_train(s(&data), "1");
    args.extend(["--out", s(&theirs)]);
    assert_usage_error(
        &run(t.path(), &args),
        "holds a metrics.csv that no cyclr run wrote",
    );
    assert_eq!(
        std::fs::read_to_string(theirs.join("metrics.csv")).unwrap(),
        "step,loss\n1,2.3\n"
    );

    let rt = t.path().join("rt");
    let range = |extra: &[&str]| {
        let mut a = vec![
            "range-test",
            "--data",
            s(&data),
            "--train-limit",
            "500",
            "--test-limit",
            "100",
            "--iters",
            "20",
            "--quiet",
            "--out",
            s(&rt),
        ];
        a.extend_from_slice(extra);
        run(t.path(), &a)
    };
    assert!(range(&[]).status.success());
    let before = std::fs::read(rt.join("range_test.json")).unwrap();
    assert_usage_error(&range(&[]), "already holds a range test");
    assert_eq!(
        std::fs::read(rt.join("range_test.json")).unwrap(),
        before,
        "kept"
    );
    assert!(range(&["--overwrite"]).status.success());
}

/// The range test claims its folder before the ramp: an --out that cannot be created fails
/// at once, before any training.
#[test]
fn range_test_checks_its_folder_first() {
    let t = tempfile::tempdir().unwrap();
    let data = data_dir();
    let file = t.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let out = file.join("sub");
    let o = run(
        t.path(),
        &[
            "range-test",
            "--data",
            s(&data),
            "--train-limit",
            "500",
            "--test-limit",
            "100",
            "--iters",
            "30",
            "--out",
            s(&out),
        ],
    );
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("a-file/sub"), "{err}");
    assert!(!err.contains(" iter "), "no iteration trained: {err}");
}

/// Ctrl-C in a range test: exit 130, the points so far written, and a message that says
/// so (not "saving a checkpoint", which a range test has none of).
#[test]
fn range_test_ctrl_c_keeps_the_points_and_exits_130() {
    let t = tempfile::tempdir().unwrap();
    let data = data_dir();
    let out = t.path().join("rt");
    let mut child = cyclr(t.path())
        .args([
            "range-test",
            "--data",
            s(&data),
            "--train-limit",
            "1000",
            "--test-limit",
            "100",
            "--iters",
            "100000",
            "--max-lr",
            "0.001",
            "--out",
            s(&out),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert!(child.try_wait().unwrap().is_none(), "still ramping");
    let ok = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(
        err.contains("keeping the points so far") && !err.contains("checkpoint at"),
        "{err}"
    );
    assert!(
        err.contains("the points so far and their analysis are in"),
        "{err}"
    );
    let csv = std::fs::read_to_string(out.join("range_test.csv")).unwrap();
    assert!(csv.lines().count() > 2, "points were written");
}

/// Inputs that used to panic, hang or take gigabytes: refused with exit 2.
#[test]
fn sizes_seeds_and_threads_are_bounded() {
    let t = tempfile::tempdir().unwrap();
    let data = data_dir();
    let d = s(&data);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "recreate",
                "--profile",
                "smoke",
                "--data",
                d,
                "--seeds",
                "18446744073709551615",
            ],
            "--seeds is 18446744073709551615: give 1 to 1000",
        ),
        (
            vec![
                "recreate",
                "--profile",
                "smoke",
                "--data",
                d,
                "--seeds",
                "100000000",
            ],
            "give 1 to 1000",
        ),
        (
            vec![
                "recreate",
                "--profile",
                "smoke",
                "--data",
                d,
                "--seed",
                "18446744073709551614",
                "--seeds",
                "3",
            ],
            "runs past the largest seed",
        ),
        // One seed at the very top is fine (the plan then stops on the epochs, not on seeds).
        (
            vec![
                "recreate",
                "--profile",
                "smoke",
                "--data",
                d,
                "--seed",
                "18446744073709551615",
                "--seeds",
                "1",
                "--baseline-epochs",
                "0",
            ],
            "",
        ),
        (
            vec!["bench", "--batch-size", "18446744073709551615"],
            "--batch-size",
        ),
        (vec!["bench", "--batch-size", "20000"], "give at most 4096"),
        (
            vec!["bench", "--threads", "100000"],
            "--threads is 100000: give 1 to 1024",
        ),
        (
            vec![
                "train",
                "--data",
                d,
                "--policy",
                "fixed",
                "--base-lr",
                "0.001",
                "--weight-decay",
                "1e300",
            ],
            "but it must be at most 1 (typical values",
        ),
        (
            vec![
                "schedule", "sgdr", "--max-lr", "0.1", "--t0", "10", "--t-mult", "0",
            ],
            "it is a factor",
        ),
        (
            vec![
                "range-test",
                "--data",
                d,
                "--ramp",
                "exp",
                "--min-lr",
                "1e-320",
                "--max-lr",
                "1e10",
            ],
            "spans more than a float",
        ),
    ];
    for (args, needle) in cases {
        let o = run(t.path(), &args);
        if needle.is_empty() {
            // One seed at the very top is fine: it must not be reported as "0 seeds".
            assert!(
                !stderr(&o).contains("--seeds is 0"),
                "{args:?}: {}",
                stderr(&o)
            );
            continue;
        }
        if args[1] == "--batch-size" && needle == "--batch-size" {
            // clap refuses a number past usize on some platforms; either way: exit 2.
            assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
            assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
            continue;
        }
        assert_usage_error(&o, needle);
    }
}

/// Devices, pipes and folders where a file should be are refused, not read forever; a
/// symlink or device is not replaced by --save-config.
#[test]
fn non_regular_files_are_refused() {
    let t = tempfile::tempdir().unwrap();
    // A data folder whose batch file is /dev/zero (through a symlink) or a folder.
    let bin = t.path().join("data/cifar-10-batches-bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink("/dev/zero", bin.join("data_batch_1.bin")).unwrap();
    let o = run(
        t.path(),
        &[
            "train",
            "--data",
            s(&t.path().join("data")),
            "--epochs",
            "1",
            "--policy",
            "fixed",
            "--base-lr",
            "0.001",
        ],
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("data_batch_1.bin is not a regular file"),
        "{}",
        stderr(&o)
    );

    // --config /dev/zero and a FIFO: refused at once.
    let fifo = t.path().join("fifo.toml");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for config in ["/dev/zero", s(&fifo)] {
        let o = run(t.path(), &["schedule", "--config", config, "--steps", "3"]);
        assert_usage_error(&o, "not a regular file");
    }

    // --save-config onto a symlink or a folder: refused; the link's target is untouched.
    let target = t.path().join("target.txt");
    std::fs::write(&target, "keep me").unwrap();
    let link = t.path().join("link.toml");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let o = run(
        t.path(),
        &[
            "schedule",
            "triangular",
            "--base-lr",
            "0.001",
            "--max-lr",
            "0.01",
            "--step-size-up",
            "5",
            "--steps",
            "3",
            "--save-config",
            s(&link),
        ],
    );
    assert_usage_error(&o, "symbolic link");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    let o = run(
        t.path(),
        &[
            "schedule",
            "triangular",
            "--base-lr",
            "0.001",
            "--max-lr",
            "0.01",
            "--step-size-up",
            "5",
            "--steps",
            "3",
            "--save-config",
            s(t.path()),
        ],
    );
    assert_usage_error(&o, "folder");
}

/// Messages that used to mislead.
#[test]
fn messages_say_what_happened() {
    let t = tempfile::tempdir().unwrap();
    let data = data_dir();
    // --resume of a run stopped before its first checkpoint.
    let early = t.path().join("early");
    std::fs::create_dir(&early).unwrap();
    std::fs::write(early.join("run.json"), "{}").unwrap();
    let o = run(
        t.path(),
        &["train", "--data", s(&data), "--resume", s(&early)],
    );
    assert_usage_error(&o, "run the original command again");

    // A config whose bad line is 200 KB long is quoted cut, not whole.
    let long = t.path().join("long.toml");
    std::fs::write(
        &long,
        format!(
            "policy = \"triangular\"\nbase_lr = {}\n",
            "9".repeat(200_000)
        ),
    )
    .unwrap();
    let o = run(
        t.path(),
        &["schedule", "--config", s(&long), "--steps", "3"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).len() < 2000,
        "{} bytes of message",
        stderr(&o).len()
    );

    // A range test without a recommendation and without warnings: no empty "()".
    let rt = t.path().join("rt");
    let o = run(
        t.path(),
        &[
            "range-test",
            "--data",
            s(&data),
            "--train-limit",
            "500",
            "--test-limit",
            "100",
            "--iters",
            "20",
            "--quiet",
            "--out",
            s(&rt),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rt.join("range_test.json")).unwrap())
            .unwrap();
    json["analysis"]["recommendation"] = serde_json::Value::Null;
    json["analysis"]["warnings"] = serde_json::json!([]);
    let edited = t.path().join("edited.json");
    std::fs::write(&edited, json.to_string()).unwrap();
    let o = run(
        t.path(),
        &["train", "--data", s(&data), "--from-range-test", s(&edited)],
    );
    assert_usage_error(&o, "has no recommendation: read its plot");
    assert!(!stderr(&o).contains("()"), "{}", stderr(&o));

    // A folder that already holds a run: an input problem, exit 2.
    let done = t.path().join("done");
    let mut args = small_train(s(&data), "1");
    args.extend(["--out", s(&done)]);
    assert!(run(t.path(), &args).status.success());
    assert_usage_error(&run(t.path(), &args), "already holds a run: pass --resume");
}

/// What Ctrl-C says to do works as written: `cyclr train --resume DIR` alone continues the
/// run with its own data, subset, epochs and iteration budget, and ends where an
/// uninterrupted run does. A flag that disagrees with the run is refused; a longer run is
/// allowed, said, and recorded in run.json.
#[test]
fn resume_needs_only_the_run_folder() {
    let t = tempfile::tempdir().unwrap();
    let data = data_dir();
    let args = |out: &Path| -> Vec<String> {
        [
            "train",
            "--data",
            s(&data),
            "--train-limit",
            "500",
            "--test-limit",
            "100",
            "--epochs",
            "8",
            "--max-steps",
            "37",
            "--policy",
            "triangular",
            "--base-lr",
            "0.001",
            "--max-lr",
            "0.004",
            "--step-size-up",
            "4",
            "--eval-every",
            "3",
            "--seed",
            "3",
            "--quiet",
            "--out",
            s(out),
        ]
        .iter()
        .map(|a| a.to_string())
        .collect()
    };
    let straight = t.path().join("straight");
    assert!(
        cyclr(t.path())
            .args(args(&straight))
            .output()
            .unwrap()
            .status
            .success()
    );

    let cut = t.path().join("cut");
    let child = cyclr(t.path())
        .args(args(&cut))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !cut.join("checkpoint.bin").is_file() {
        assert!(start.elapsed() < Duration::from_secs(120), "no checkpoint");
        std::thread::sleep(Duration::from_millis(5));
    }
    let ok = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "interrupted mid-run: {err}");
    assert!(
        err.contains(&format!("cyclr train --resume {}", cut.display())),
        "{err}"
    );

    // Literally what it said.
    let o = run(t.path(), &["train", "--resume", s(&cut)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("resuming with data {}", data.display())),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        common::metric_numbers(&cut),
        common::metric_numbers(&straight)
    );
    let run_json = |dir: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap()
    };
    assert_eq!(
        run_json(&cut)["steps"],
        37,
        "the iteration budget was remembered"
    );
    assert_eq!(run_json(&cut)["status"], "finished");

    // Disagreeing flags are refused; the length may change, and says so.
    assert_usage_error(
        &run(
            t.path(),
            &["train", "--resume", s(&cut), "--train-limit", "600"],
        ),
        "was trained on 500",
    );
    let o = run(
        t.path(),
        &[
            "train",
            "--resume",
            s(&cut),
            "--epochs",
            "10",
            "--max-steps",
            "45",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("epochs 8 -> 10, max steps 37 -> 45"),
        "{}",
        stderr(&o)
    );
    assert_eq!(run_json(&cut)["steps"], 45);
    let changes = run_json(&cut)["changes"].to_string();
    assert!(changes.contains("epochs 8 -> 10"), "{changes}");
}

/// When the system refuses memory (here a 1 GB address-space limit against a 4,096-image
/// batch): one sentence and exit 1, not an abort with a backtrace.
#[test]
fn refused_memory_is_a_message_not_a_crash() {
    let o = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "ulimit -v 1000000 && exec '{}' bench --batch-size 4096 --iters 1 --repeats 1 --warmup 0",
            env!("CARGO_BIN_EXE_cyclr")
        ))
        .env("RAYON_NUM_THREADS", "2")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("out of memory: the system refused"), "{err}");
    assert!(
        !err.contains("backtrace") && !err.contains("panicked"),
        "{err}"
    );
}

/// A FIFO (or a device) given as the data or as a range test's result is refused before it
/// is opened: opening a FIFO for reading blocks until a writer comes, and `/dev/zero` never
/// ends. Each run is bounded in time, so a regression fails instead of hanging the suite.
#[test]
fn pipes_and_devices_as_data_or_results_are_refused_not_waited_on() {
    let t = tempfile::tempdir().unwrap();
    let fifo = t.path().join("fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let fifo = fifo.to_str().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "train",
                "--data",
                fifo,
                "--policy",
                "fixed",
                "--base-lr",
                "0.1",
            ],
            "is a device or a pipe",
        ),
        (
            &["train", "--data", fifo, "--from-range-test", fifo],
            "not a regular file",
        ),
        (
            &["train", "--data", fifo, "--from-range-test", "/dev/zero"],
            "not a regular file",
        ),
        (
            &[
                "train",
                "--data",
                "/dev/zero",
                "--policy",
                "fixed",
                "--base-lr",
                "0.1",
            ],
            "is a device or a pipe",
        ),
    ];
    for (args, needle) in cases {
        let mut child = cyclr(t.path())
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        while child.try_wait().unwrap().is_none() {
            if start.elapsed() > std::time::Duration::from_secs(30) {
                child.kill().unwrap();
                panic!("{args:?} waited on the pipe");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let o = child.wait_with_output().unwrap();
        assert_usage_error(&o, needle);
    }
}

/// Counts that would overflow (epochs x iterations) or never end are refused with the
/// bound, before anything is written: no wrapped length, no run "finished" after 0 steps.
#[test]
fn lengths_that_overflow_or_never_end_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let data = common::synthetic_data_dir();
    let data = data.to_str().unwrap();
    let out = t.path().join("run");
    let o = out.to_str().unwrap();
    let sub = ["--train-limit", "200", "--test-limit", "100"];
    let with = |head: &[&str], tail: &[&str]| -> Vec<String> {
        head.iter()
            .chain(["--data", data].iter())
            .chain(sub.iter())
            .chain(tail.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let fixed = ["--policy", "fixed", "--base-lr", "0.001", "--out", o];
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            with(&["train", "--epochs", "9223372036854775808"], &fixed),
            "--epochs is 9223372036854775808: give at most",
        ),
        (
            with(&["train", "--epochs", "18446744073709551615"], &fixed),
            "give at most",
        ),
        (
            with(&["train", "--max-steps", "18446744073709551615"], &fixed),
            "--max-steps 18446744073709551615 is more than",
        ),
        (
            with(
                &["range-test", "--iters", "18446744073709551615", "--out", o],
                &[],
            ),
            "--iters is 18446744073709551615: give at most",
        ),
        (
            with(
                &[
                    "recreate",
                    "--profile",
                    "smoke",
                    "--baseline-epochs",
                    "4611686018427387904",
                    "--clr-epochs",
                    "4611686018427387904",
                    "--out",
                    o,
                ],
                &[],
            ),
            "--baseline-epochs is 4611686018427387904",
        ),
    ];
    for (args, needle) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = run(t.path(), &args);
        assert_usage_error(&r, needle);
        assert!(
            !out.join("run.json").exists() && !out.join("plan.json").exists(),
            "{args:?}"
        );
    }
}

/// More threads than a batch has images: said, and the engine uses only as many as there
/// are images (no per-thread buffers for idle threads); the run trains as usual.
#[test]
fn more_threads_than_images_are_said_and_capped() {
    let t = tempfile::tempdir().unwrap();
    let data = common::synthetic_data_dir();
    let out = t.path().join("run");
    let o = run(
        t.path(),
        &[
            "train",
            "--data",
            data.to_str().unwrap(),
            "--train-limit",
            "40",
            "--test-limit",
            "20",
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--threads",
            "64",
            "--policy",
            "fixed",
            "--base-lr",
            "0.001",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--threads 64 is more than the 8 images of a batch"),
        "{}",
        stderr(&o)
    );
    assert!(out.join("checkpoint.bin").is_file());
}

/// The thread count changes the order of the sums, so a run's numbers: a resumed run keeps
/// the count it was made with (even where the default would be another), and a different
/// `--threads` is refused.
#[test]
fn a_resumed_run_keeps_its_thread_count() {
    let t = tempfile::tempdir().unwrap();
    let data = common::synthetic_data_dir();
    let out = t.path().join("run");
    let o = out.to_str().unwrap();
    let first = run(
        t.path(),
        &[
            "train",
            "--data",
            data.to_str().unwrap(),
            "--train-limit",
            "40",
            "--test-limit",
            "20",
            "--epochs",
            "1",
            "--batch-size",
            "10",
            "--threads",
            "1",
            "--policy",
            "fixed",
            "--base-lr",
            "0.001",
            "--out",
            o,
            "--quiet",
        ],
    );
    assert!(first.status.success(), "{}", stderr(&first));
    let threads_of = || -> (serde_json::Value, serde_json::Value) {
        let run: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
        (
            run["config"]["threads"].clone(),
            run["hardware"]["threads"].clone(),
        )
    };
    assert_eq!(threads_of(), (1.into(), 1.into()));
    // The test environment's default is 2 threads (RAYON_NUM_THREADS): not taken.
    let resumed = run(
        t.path(),
        &["train", "--resume", o, "--epochs", "2", "--quiet"],
    );
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert_eq!(threads_of(), (1.into(), 1.into()));
    let other = run(
        t.path(),
        &["train", "--resume", o, "--epochs", "3", "--threads", "2"],
    );
    assert_usage_error(&other, "--threads 2: ");
    assert!(
        stderr(&other).contains("made with 1 thread(s)"),
        "{}",
        stderr(&other)
    );
}

/// A recreation records its thread count in plan.json: continued without `--threads` it
/// keeps it; with another it is refused, so its runs are never a mix.
/// A recreation of two one-epoch runs on a 40-image subset, bounds given (no range test).
fn small_recreate(data: &Path, out: &Path) -> Vec<String> {
    [
        "recreate",
        "--data",
        s(data),
        "--train-limit",
        "40",
        "--test-limit",
        "20",
        "--baseline-epochs",
        "1",
        "--clr-epochs",
        "1",
        "--base-lr",
        "0.001",
        "--max-lr",
        "0.005",
        "--policies",
        "fixed,triangular",
        "--out",
        s(out),
        "--quiet",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect()
}

#[test]
fn a_continued_recreation_keeps_its_thread_count() {
    let t = tempfile::tempdir().unwrap();
    let data = common::synthetic_data_dir();
    let out = t.path().join("rec");
    let args = |threads: Option<&'static str>| -> Vec<String> {
        let mut v = small_recreate(&data, &out);
        if let Some(n) = threads {
            v.extend(["--threads".to_string(), n.to_string()]);
        }
        v
    };
    let a = args(Some("1"));
    let first = run(t.path(), &a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(first.status.success(), "{}", stderr(&first));
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("plan.json")).unwrap()).unwrap();
    assert_eq!(plan["threads"], 1);
    let a = args(Some("2"));
    let other = run(t.path(), &a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_usage_error(&other, "made with 1 thread(s)");
    let a = args(None);
    let again = run(t.path(), &a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(again.status.success(), "{}", stderr(&again));
}

/// Links planted where cyclr writes are never followed: at the lock's name the run is
/// refused and the link's target untouched; at the temporary names an older cyclr used
/// (`.run.json.partial`, `.s3.toml.partial`) nothing is written through them, since
/// temporary files now get fresh, random names created exclusively.
#[test]
fn planted_links_are_never_followed() {
    let t = tempfile::tempdir().unwrap();
    let data = common::synthetic_data_dir();
    let secret = t.path().join("secret.txt");
    std::fs::write(&secret, "keep me").unwrap();
    let run_dir = t.path().join("run");
    std::fs::create_dir(&run_dir).unwrap();
    std::os::unix::fs::symlink(&secret, run_dir.join(".cyclr.lock")).unwrap();
    let train = |dir: &std::path::Path| {
        run(
            t.path(),
            &[
                "train",
                "--data",
                data.to_str().unwrap(),
                "--train-limit",
                "40",
                "--test-limit",
                "20",
                "--epochs",
                "1",
                "--policy",
                "fixed",
                "--base-lr",
                "0.001",
                "--out",
                dir.to_str().unwrap(),
                "--quiet",
            ],
        )
    };
    assert_usage_error(&train(&run_dir), "is a symbolic link, not cyclr's lock");
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "keep me");

    let other = t.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::os::unix::fs::symlink(&secret, other.join(".run.json.partial")).unwrap();
    let o = train(&other);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "keep me");
    assert!(other.join("run.json").symlink_metadata().unwrap().is_file());

    std::os::unix::fs::symlink(&secret, t.path().join(".s3.toml.partial")).unwrap();
    let saved = t.path().join("s3.toml");
    let o = run(
        t.path(),
        &[
            "schedule",
            "fixed",
            "--base-lr",
            "0.1",
            "--steps",
            "2",
            "--save-config",
            saved.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "keep me");
    assert!(saved.symlink_metadata().unwrap().is_file());
}

/// Messages that name the cause: a chart into a missing folder, a data link that loops,
/// a TOML error's list of policies kept whole.
#[test]
fn messages_name_the_cause_in_one_sentence() {
    let t = tempfile::tempdir().unwrap();
    let o = run(
        t.path(),
        &[
            "schedule",
            "fixed",
            "--base-lr",
            "0.1",
            "--plot",
            "/missing/dir/x.png",
        ],
    );
    let err = stderr(&o);
    assert!(
        err.contains("the folder /missing/dir does not exist"),
        "{err}"
    );
    assert!(
        !err.contains("ImageError") && !err.contains("backend"),
        "{err}"
    );

    let (a, b) = (t.path().join("loop-a"), t.path().join("loop-b"));
    std::os::unix::fs::symlink(&b, &a).unwrap();
    std::os::unix::fs::symlink(&a, &b).unwrap();
    let o = run(
        t.path(),
        &[
            "train",
            "--data",
            a.to_str().unwrap(),
            "--policy",
            "fixed",
            "--base-lr",
            "0.1",
        ],
    );
    assert_usage_error(&o, "is a symbolic link that cannot be followed");

    let bad = t.path().join("bad.toml");
    std::fs::write(&bad, "policy = \"trianglar\"\nbase_lr = 0.1\n").unwrap();
    let o = run(t.path(), &["schedule", "--config", bad.to_str().unwrap()]);
    assert_usage_error(&o, "`linear`, `sequence`");

    // step's gamma is not explained with exp_range's example.
    let o = run(
        t.path(),
        &["schedule", "step", "--base-lr", "0.1", "--step-size", "3"],
    );
    assert_usage_error(&o, "step needs --gamma");
    assert!(!stderr(&o).contains("0.99994"), "{}", stderr(&o));
}

/// A finished run's numbers come from what is checked: a `run.json` edited by hand does not
/// change what a continued recreation reports.
#[test]
fn a_recreation_does_not_believe_an_edited_run_json() {
    let t = tempfile::tempdir().unwrap();
    let data = common::synthetic_data_dir();
    let out = t.path().join("rec");
    let args = small_recreate(&data, &out);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let first = run(t.path(), &args);
    assert!(first.status.success(), "{}", stderr(&first));
    let csv = || std::fs::read_to_string(out.join("results.csv")).unwrap();
    let before = csv();
    let run_json = out.join("runs").join("baseline-seed0").join("run.json");
    let mut record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&run_json).unwrap()).unwrap();
    record["final_test_accuracy"] = 0.968.into();
    record["best_test_accuracy"] = 0.968.into();
    std::fs::write(&run_json, serde_json::to_string(&record).unwrap()).unwrap();
    let again = run(t.path(), &args);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        !common::stdout(&again).contains("96.80%"),
        "{}",
        common::stdout(&again)
    );
    // The same numbers as before the edit (wall times aside).
    let header: Vec<String> = before
        .lines()
        .next()
        .unwrap()
        .split(',')
        .map(String::from)
        .collect();
    let wall = header
        .iter()
        .position(|h| h == "wall_s")
        .expect("a wall_s column");
    let numbers = |text: &str| -> Vec<String> {
        text.lines()
            .map(|l| {
                l.split(',')
                    .enumerate()
                    .filter(|(i, _)| *i != wall)
                    .map(|(_, f)| f.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect()
    };
    assert_eq!(numbers(&csv()), numbers(&before));
}

/// A checkpoint is read only as far as one of this network can be (a sparse 50 GB file is
/// refused at once, not read into memory), and one without a checksum is not trusted.
#[test]
fn oversized_and_unchecked_checkpoints_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let data = common::synthetic_data_dir();
    let dir = t.path().join("run");
    let o = run(
        t.path(),
        &[
            "train",
            "--data",
            data.to_str().unwrap(),
            "--train-limit",
            "40",
            "--test-limit",
            "20",
            "--epochs",
            "1",
            "--policy",
            "fixed",
            "--base-lr",
            "0.001",
            "--out",
            dir.to_str().unwrap(),
            "--quiet",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let ckpt = dir.join("checkpoint.bin");
    let f = std::fs::OpenOptions::new().write(true).open(&ckpt).unwrap();
    f.set_len(50 << 30).unwrap();
    drop(f);
    let o = run(
        t.path(),
        &["train", "--resume", dir.to_str().unwrap(), "--epochs", "2"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("larger than 1 GiB"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("out of memory"), "{}", stderr(&o));

    std::fs::write(&ckpt, b"CYCLRCK1 and the rest of an old checkpoint").unwrap();
    let o = run(
        t.path(),
        &["train", "--resume", dir.to_str().unwrap(), "--epochs", "2"],
    );
    assert!(stderr(&o).contains("without a checksum"), "{}", stderr(&o));
}

/// A run started with a relative `--data`, resumed from another folder: the message says
/// the path is the run's own record, relative to where it started, and how to give another.
#[test]
fn a_relative_data_path_resumed_elsewhere_is_explained() {
    let t = tempfile::tempdir().unwrap();
    let data = common::synthetic_data_dir();
    let start = t.path().join("start");
    std::fs::create_dir(&start).unwrap();
    std::os::unix::fs::symlink(&data, start.join("data")).unwrap();
    let dir = t.path().join("run");
    let o = cyclr(t.path())
        .current_dir(&start)
        .args([
            "train",
            "--data",
            "data",
            "--train-limit",
            "40",
            "--test-limit",
            "20",
            "--epochs",
            "1",
            "--policy",
            "fixed",
            "--base-lr",
            "0.001",
            "--out",
            dir.to_str().unwrap(),
            "--quiet",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = cyclr(t.path())
        .current_dir(t.path())
        .args([
            "train",
            "--resume",
            dir.to_str().unwrap(),
            "--epochs",
            "2",
            "--quiet",
        ])
        .output()
        .unwrap();
    assert_usage_error(
        &o,
        "the run's data was recorded as data, relative to the folder",
    );
    assert!(
        !stderr(&o).contains("--data data does not exist"),
        "{}",
        stderr(&o)
    );
    // From the folder it started in, the same command continues.
    let o = cyclr(t.path())
        .current_dir(&start)
        .args([
            "train",
            "--resume",
            dir.to_str().unwrap(),
            "--epochs",
            "2",
            "--quiet",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

/// A batch folder the user cannot enter is reported as what it is (permission denied), not
/// as a missing file. Root enters any folder, so the command runs as `nobody` (setpriv).
#[test]
fn a_folder_that_cannot_be_entered_is_permission_denied_not_missing() {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let data = t.path().join("data");
    let batches = data.join("cifar-10-batches-bin");
    std::fs::create_dir_all(&batches).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&batches, std::fs::Permissions::from_mode(0o000)).unwrap();
    let uid = std::process::Command::new("id").arg("-u").output().unwrap();
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        // Not root: the folder is closed to this user already.
        let o = run(
            t.path(),
            &[
                "train",
                "--data",
                s(&data),
                "--policy",
                "fixed",
                "--base-lr",
                "0.1",
            ],
        );
        assert!(stderr(&o).contains("ermission denied"), "{}", stderr(&o));
        return;
    }
    let o = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_cyclr"))
        .args([
            "train",
            "--data",
            s(&data),
            "--policy",
            "fixed",
            "--base-lr",
            "0.1",
        ])
        .env("CYCLR_CACHE_DIR", t.path())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("setpriv (util-linux) runs the command as nobody");
    let err = stderr(&o);
    assert!(err.contains("ermission denied"), "{err}");
    assert!(!err.contains("lacks"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
