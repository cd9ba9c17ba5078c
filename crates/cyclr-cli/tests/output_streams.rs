//! Output that fails: a reader that goes away, a full disk behind stdout or stderr. The
//! command never panics; a closed stdout ends it quietly (exit 0), a full one with one
//! sentence (exit 1); a closed or full stderr only silences the progress, and the run
//! finishes and saves.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use common::*;

fn full() -> std::fs::File {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full")
}

#[test]
fn a_reader_that_goes_away_ends_the_command_quietly() {
    let cache = tempfile::tempdir().unwrap();
    let mut child = cyclr(cache.path())
        .args([
            "schedule",
            "triangular",
            "--base-lr",
            "0.001",
            "--max-lr",
            "0.006",
            "--step-size-up",
            "100",
            "--steps",
            "50000000",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first.trim(), "step,lr");
    // The reader exits (as `| head -1` does): the pipe closes.
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));

    // A command that prints its result after the work (`bench ... | true`).
    let mut child = cyclr(cache.path())
        .args([
            "bench",
            "--batch-size",
            "8",
            "--warmup",
            "0",
            "--iters",
            "1",
            "--repeats",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

#[test]
fn a_full_stdout_is_one_sentence_and_exit_1_and_a_full_stderr_keeps_the_exit_code() {
    let cache = tempfile::tempdir().unwrap();
    let out = cyclr(cache.path())
        .args(["schedule", "fixed", "--base-lr", "0.1", "--steps", "3"])
        .stdout(full())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cannot write the output"), "{err}");

    // A usage error whose message cannot be written is still a usage error.
    let out = cyclr(cache.path())
        .args(["schedule", "triangle"])
        .stderr(full())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// Training with stderr full and stdout full: the run trains to the end and saves
/// everything; only the final summary cannot be printed (exit 1, said nowhere since
/// stderr is full too).
#[test]
fn a_run_with_nowhere_to_print_still_finishes_and_saves() {
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = synthetic_data_dir();
    let out_dir = dir.path().join("run");
    let out = cyclr(cache.path())
        .args([
            "train",
            "--data",
            data.to_str().unwrap(),
            "--train-limit",
            "200",
            "--test-limit",
            "100",
            "--epochs",
            "2",
            "--policy",
            "fixed",
            "--base-lr",
            "0.001",
            "--eval-every",
            "2",
            "--out",
            out_dir.to_str().unwrap(),
        ])
        .stdout(full())
        .stderr(full())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["status"], "finished", "{run}");
    assert!(out_dir.join("checkpoint.bin").is_file());
}

/// `cyclr train ... 2>&1 | head -1`: the reader goes away while the run prints progress
/// (one line per evaluation when stderr is not a terminal) and before its result. The run
/// trains to its end and saves; the closed stdout then ends it with exit 0.
#[test]
fn a_run_whose_reader_goes_away_still_finishes_and_saves() {
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = synthetic_data_dir();
    let out_dir = dir.path().join("run");
    let mut child = cyclr(cache.path())
        .args([
            "train",
            "--data",
            data.to_str().unwrap(),
            "--train-limit",
            "200",
            "--test-limit",
            "100",
            "--epochs",
            "3",
            "--policy",
            "fixed",
            "--base-lr",
            "0.001",
            "--eval-every",
            "2",
            "--out",
            out_dir.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    // `head -1` exits: both ends close.
    drop(err);
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "first line: {first}");
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["status"], "finished", "{run}");
    assert_eq!(run["steps"], 6);
}
