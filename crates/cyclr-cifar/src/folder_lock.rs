//! One writer per output folder: `train`, `range-test` and `recreate` hold an exclusive
//! lock on their folder for as long as they run, so a second process (the same output
//! folder, a second resumption of one run) is refused instead of interleaving its rows and
//! checkpoints with the first's.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;

use anyhow::Context;

use crate::error::{AppError, message};

/// The lock file's name inside the folder. It stays behind (empty of meaning once no
/// process holds it): the operating system releases the lock when its holder exits, even
/// on a crash or kill -9.
pub const LOCK_FILE: &str = ".cyclr.lock";

/// The lock; dropping it (or the process ending) releases the folder.
#[derive(Debug)]
pub struct FolderLock {
    _file: File,
}

/// Creates `dir` if needed and takes its lock, or fails with an input error naming the
/// holder when another process has it.
pub fn lock_folder(dir: &Path) -> anyhow::Result<FolderLock> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(LOCK_FILE);
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = match OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        // A link planted at the lock's name is not followed (its target is never written).
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(AppError::Input(message!(
                "{} is a symbolic link, not cyclr's lock: remove it (cyclr writes its lock \
                 there and does not follow links)",
                path.display()
            ))
            .into());
        }
        Err(e) => {
            return Err(e).with_context(|| format!("cannot write in {}", dir.display()));
        }
    };
    match file.try_lock() {
        Ok(()) => {
            let args: Vec<String> = std::env::args().collect();
            let me = format!("pid {}: {}", std::process::id(), args.join(" "));
            // Who holds it, for the message the next process prints.
            let _ = file.set_len(0).and_then(|()| file.write_all(me.as_bytes()));
            Ok(FolderLock { _file: file })
        }
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file
                .rewind()
                .and_then(|()| file.read_to_string(&mut holder));
            let holder = if holder.trim().is_empty() {
                "another process".into()
            } else {
                holder
            };
            Err(AppError::Input(message!(
                "{} is in use by another cyclr ({}): wait for it to finish, or choose another \
                 {out}",
                dir.display(),
                holder.trim()
            ))
            .into())
        }
        Err(TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}
