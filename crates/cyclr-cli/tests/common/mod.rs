//! Helpers shared by the CLI's integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// The `cyclr` binary, isolated from the user's cache, with a fixed thread count so runs
/// are reproducible.
pub fn cyclr(cache: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cyclr"));
    c.env("CYCLR_CACHE_DIR", cache)
        .env("RAYON_NUM_THREADS", "2")
        .env_remove("CYCLR_DOWNLOAD_URL")
        .stdin(Stdio::null());
    c
}

pub fn run(cache: &Path, args: &[&str]) -> Output {
    cyclr(cache).args(args).output().expect("running cyclr")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts a usage error: exit code 2, one clear line containing `needle`, no panic.
pub fn assert_usage_error(o: &Output, needle: &str) {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "expected exit 2 for {needle:?}; stderr: {err}"
    );
    assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[path = "../../../cyclr-cifar/tests/common/cifar_archive.rs"]
mod cifar_archive;

/// The real CIFAR-10 archive (see `cifar_archive` for where it is looked for).
pub fn archive() -> PathBuf {
    cifar_archive::cifar_archive()
}

/// The real CIFAR-10, unpacked into the target's temp folder: a folder loads in a
/// fraction of the archive's time. One copy, named for the archive's size and shared by
/// every test binary and every run (unpacked to a temporary name, then renamed, so a
/// half-written copy is never used); not one copy per process.
pub fn data_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let archive = archive();
        let size = std::fs::metadata(&archive).map(|m| m.len()).unwrap_or(0);
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cifar-{size}"));
        if root
            .join("cifar-10-batches-bin")
            .join("test_batch.bin")
            .is_file()
        {
            return root;
        }
        let data = cyclr_cifar::data::Cifar10::load(&archive).expect("the real CIFAR-10 archive");
        let partial = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("cifar-{size}.partial-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&partial);
        cyclr_cifar::data::write_binary_folder(&data, &partial).expect("unpacking CIFAR-10");
        // Another test binary may have finished first: theirs is as good as ours.
        if std::fs::rename(&partial, &root).is_err() {
            let _ = std::fs::remove_dir_all(&partial);
        }
        root
    })
    .clone()
}

/// A synthetic CIFAR-10 in the official layout (50,000 + 10,000 records of deterministic
/// pixels, labels cycling through the classes), written once into the target's temp
/// folder: for tests that need data the commands accept, not real images.
pub fn synthetic_data_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cifar-synthetic");
        if root
            .join("cifar-10-batches-bin")
            .join("test_batch.bin")
            .is_file()
        {
            return root;
        }
        let split = |n: usize, seed: usize| cyclr_cifar::data::Split {
            images: (0..n * 3072)
                .map(|i| ((i.wrapping_mul(2654435761) + seed) >> 13) as u8)
                .collect(),
            labels: (0..n).map(|i| (i % 10) as u8).collect(),
        };
        let data = cyclr_cifar::data::Cifar10 {
            train: split(50_000, 1).into(),
            test: split(10_000, 2),
            source: PathBuf::from("synthetic"),
        };
        let partial = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("cifar-synthetic.partial-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&partial);
        cyclr_cifar::data::write_binary_folder(&data, &partial)
            .expect("writing synthetic CIFAR-10");
        if std::fs::rename(&partial, &root).is_err() {
            let _ = std::fs::remove_dir_all(&partial);
        }
        root
    })
    .clone()
}

/// Rows of a metrics.csv without the wall-clock columns, which differ between runs.
pub fn metric_numbers(dir: &Path) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_path(dir.join("metrics.csv")).expect("metrics.csv");
    let headers = r.headers().unwrap().clone();
    let keep: Vec<usize> = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| *h != "elapsed_s" && *h != "images_per_s")
        .map(|(i, _)| i)
        .collect();
    r.records()
        .map(|rec| {
            let rec = rec.expect("a whole CSV row");
            keep.iter().map(|&i| rec[i].to_string()).collect()
        })
        .collect()
}

pub fn is_png(path: &Path) -> bool {
    std::fs::read(path)
        .map(|b| b.len() > 8 && &b[1..4] == b"PNG")
        .unwrap_or(false)
}
