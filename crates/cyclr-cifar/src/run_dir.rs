//! Default output folders, named for what they hold and when it started.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// The default run folder's name: `runs/<what>-<UTC date and time>`.
pub fn dated_dir(what: &str) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, mo, d, h, mi, s) = civil(secs);
    PathBuf::from("runs").join(format!("{what}-{y:04}{mo:02}{d:02}-{h:02}{mi:02}{s:02}"))
}

/// Creates a new default run folder and returns it: [`dated_dir`], or with `-2`, `-3`, ...
/// appended when that name is taken (two runs started in the same second get a folder
/// each: creating a folder is atomic, so only one process can create a name).
pub fn new_dated_dir(what: &str) -> anyhow::Result<PathBuf> {
    new_dir_under(&dated_dir(what))
}

fn new_dir_under(base: &Path) -> anyhow::Result<PathBuf> {
    if let Some(parent) = base.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    for n in 1u32..10_000 {
        let dir = if n == 1 {
            base.to_path_buf()
        } else {
            PathBuf::from(format!("{}-{n}", base.display()))
        };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
        }
    }
    Err(crate::error::AppError::Input(crate::error::message!(
        "{}-2 ... -9999 are all taken: choose {out}",
        base.display()
    ))
    .into())
}

/// UTC calendar date and time of a Unix timestamp (Howard Hinnant's days-to-civil).
pub fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
        (rem % 60) as u32,
    )
}
