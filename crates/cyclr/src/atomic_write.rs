//! Writing a file so that a crash or a full disk never leaves a torn one behind, and a
//! link planted at the temporary name is never followed: what every layer that saves a
//! result (a range test's files, a run's record and checkpoint) uses.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A fresh temporary name beside `path` (same folder, so the rename is atomic), random
/// enough that another process or an attacker cannot guess it in advance.
fn temporary_name(path: &Path, attempt: u64) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // A cheap mix of time, process, counter and attempt; uniqueness comes from create_new.
    let tag = (nanos ^ u64::from(std::process::id()).rotate_left(32) ^ n.rotate_left(17))
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ attempt;
    path.with_file_name(format!(".{name}.{tag:016x}.partial"))
}

/// Creates a new, empty temporary file beside `path` exclusively (`O_EXCL`: no file or
/// link already there is opened) and returns its name, for a writer that must open the
/// file itself (a chart's bitmap encoder); rename it over `path` when done.
pub fn reserve_temporary(path: &Path) -> std::io::Result<PathBuf> {
    let mut attempt = 0;
    loop {
        // The target's extension last: encoders choose the format by it.
        let mut tmp = temporary_name(path, attempt).into_os_string();
        if let Some(ext) = path.extension() {
            tmp.push(".");
            tmp.push(ext);
        }
        let tmp = PathBuf::from(tmp);
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(_) => return Ok(tmp),
            Err(e) if e.kind() == ErrorKind::AlreadyExists && attempt < 16 => attempt += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Writes `bytes` to `path` atomically: a new temporary file beside it, created exclusively
/// (`O_EXCL`, so no file or link already there is opened), flushed to disk, then renamed
/// over the target. On any error the previous file (if any) is left untouched.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut attempt = 0;
    let (tmp, mut file) = loop {
        let tmp = temporary_name(path, attempt);
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == ErrorKind::AlreadyExists && attempt < 16 => attempt += 1,
            Err(e) => return Err(e),
        }
    };
    let result = (|| -> std::io::Result<()> {
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Make the rename itself durable; not all filesystems allow syncing a folder.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_and_leaves_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("cyclr-atomic-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let target = dir.join("x.json");
        write_atomic(&target, b"one").unwrap();
        write_atomic(&target, b"two").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"two");
        let left: Vec<_> = fs::read_dir(&dir).unwrap().collect();
        assert_eq!(left.len(), 1, "only the target remains");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn temporary_names_differ() {
        let p = Path::new("/tmp/run.json");
        assert_ne!(temporary_name(p, 0), temporary_name(p, 0));
    }
}
