//! Fetching the official CIFAR-10 binary archive into a per-user cache, with its checksum
//! verified. A partial download never takes the final name.

use crate::error::{AppError, AppResult, message};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use md5::{Digest, Md5};

/// Where the authors publish the binary version of CIFAR-10.
pub const OFFICIAL_URL: &str = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";
/// Its MD5 as published by the authors.
pub const OFFICIAL_MD5: &str = "c32a1d4ab5d03f1284b67883e8d87530";
/// Its size in bytes.
pub const OFFICIAL_SIZE: u64 = 170_052_171;
/// The file name in the cache.
pub const ARCHIVE_NAME: &str = "cifar-10-binary.tar.gz";

/// Why the CIFAR-10 archive could not be downloaded.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The request failed before the transfer began.
    #[error("downloading {url} failed: {message}. Check the connection and run the command again")]
    Http {
        /// The address fetched.
        url: String,
        /// The HTTP client's error.
        message: String,
    },
    /// The downloaded bytes do not have the expected MD5.
    #[error(
        "the download from {url} is corrupt: MD5 {actual}, expected {expected}. It was deleted; \
         run the command again"
    )]
    Checksum {
        /// The address fetched.
        url: String,
        /// The MD5 expected, in hex.
        expected: String,
        /// The MD5 of what arrived, in hex.
        actual: String,
    },
    /// The transfer ended before all the bytes arrived.
    #[error(
        "the download from {url} stopped after {got} of {expected} bytes ({reason}). It was \
         deleted; run the command again"
    )]
    Incomplete {
        /// The address fetched.
        url: String,
        /// Bytes received.
        got: u64,
        /// Bytes expected, as text (`an unknown number of` when not known).
        expected: String,
        /// Why the transfer stopped.
        reason: String,
    },
    /// The download could not be written to disk.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// No per-user cache folder could be found.
    #[error(
        "no cache folder could be found for this user: set CYCLR_CACHE_DIR to a writable \
         folder, or give the data's path"
    )]
    NoCacheDir,
}

/// What to fetch and how to check it.
#[derive(Debug, Clone)]
pub struct DownloadSpec {
    /// Address of the archive.
    pub url: String,
    /// Expected MD5 of the whole file, in hex.
    pub md5: String,
    /// Expected size in bytes when the server does not send one (None: unknown).
    pub size: Option<u64>,
    /// A transfer that receives nothing for this long fails instead of hanging forever.
    pub stall_timeout: Duration,
}

impl DownloadSpec {
    /// The official CIFAR-10 binary archive, with the authors' MD5 and size.
    pub fn official() -> Self {
        Self {
            url: OFFICIAL_URL.into(),
            md5: OFFICIAL_MD5.into(),
            size: Some(OFFICIAL_SIZE),
            stall_timeout: Duration::from_secs(60),
        }
    }
}

/// The per-user cache folder: `$CYCLR_CACHE_DIR`, else `$XDG_CACHE_HOME/cyclr`
/// (`~/.cache/cyclr` on Linux).
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("CYCLR_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    dirs::cache_dir().map(|d| d.join("cyclr"))
}

/// The cached archive, if a complete one is there.
pub fn cached_archive() -> Option<PathBuf> {
    let p = cache_dir()?.join(ARCHIVE_NAME);
    p.is_file().then_some(p)
}

/// Downloads `spec.url` to `dest`, calling `progress(bytes_so_far, total)` as it goes.
/// The bytes go to a temporary file (a fresh name beside `dest`) that is renamed only after the checksum matches; on
/// any failure it is deleted, so `dest` is either complete and verified or absent.
pub fn download(
    spec: &DownloadSpec,
    dest: &Path,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<PathBuf, DownloadError> {
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| DownloadError::Io {
            path: dir.into(),
            source,
        })?;
    }
    // A fresh name of its own, created exclusively: a link planted beside the archive is
    // never written through.
    let partial =
        cyclr::atomic_write::reserve_temporary(dest).map_err(|source| DownloadError::Io {
            path: dest.into(),
            source,
        })?;
    let result = fetch(spec, &partial, progress).and_then(|()| {
        std::fs::rename(&partial, dest).map_err(|source| DownloadError::Io {
            path: dest.into(),
            source,
        })
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result.map(|()| dest.to_path_buf())
}

fn fetch(
    spec: &DownloadSpec,
    partial: &Path,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<(), DownloadError> {
    let http = |e: ureq::Error| DownloadError::Http {
        url: spec.url.clone(),
        message: e.to_string(),
    };
    if let Some(dir) = partial.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| DownloadError::Io {
            path: dir.into(),
            source,
        })?;
    }
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(30)))
            // Per read, so a slow but moving transfer goes on and a stalled one fails
            // (timeout_recv_response alone covers only the headers).
            .timeout_recv_response(Some(spec.stall_timeout))
            .timeout_per_read(Some(spec.stall_timeout))
            .build(),
    );
    let mut response = agent.get(&spec.url).call().map_err(http)?;
    let total = response.body().content_length().or(spec.size);
    let mut reader = response.body_mut().with_config().limit(u64::MAX).reader();
    let io_err = |source| DownloadError::Io {
        path: partial.into(),
        source,
    };
    let mut file = File::create(partial).map_err(io_err)?;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut got = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(DownloadError::Incomplete {
                    url: spec.url.clone(),
                    got,
                    expected: total.map_or("an unknown number of".into(), |t| t.to_string()),
                    reason: e.to_string(),
                });
            }
        };
        file.write_all(&buf[..n]).map_err(io_err)?;
        hasher.update(&buf[..n]);
        got += n as u64;
        progress(got, total);
    }
    file.sync_all().map_err(io_err)?;
    if let Some(expected) = total.filter(|&t| t != got) {
        return Err(DownloadError::Incomplete {
            url: spec.url.clone(),
            got,
            expected: expected.to_string(),
            reason: "the connection closed early".into(),
        });
    }
    let actual = format!("{:x}", hasher.finalize());
    if !actual.eq_ignore_ascii_case(&spec.md5) {
        return Err(DownloadError::Checksum {
            url: spec.url.clone(),
            expected: spec.md5.clone(),
            actual,
        });
    }
    Ok(())
}

/// Finds the data: the path given, else the cache, else a download when allowed. Offline
/// without data, the error (an [`AppError::Input`], the user's to fix, unlike a download
/// that fails) says exactly how to get it.
pub fn locate_data(
    data: Option<&Path>,
    download_allowed: bool,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> AppResult<PathBuf> {
    if let Some(p) = data {
        // A link that goes nowhere, or in a loop, is not "does not exist".
        if let (Ok(_), Err(e)) = (std::fs::symlink_metadata(p), std::fs::metadata(p)) {
            return Err(AppError::Input(message!(
                "{data} {} is a symbolic link that cannot be followed ({}): point it at the \
                 CIFAR-10 archive or folder, or pass that path",
                p.display(),
                e
            )));
        }
        if !p.exists() {
            return Err(AppError::Input(message!(
                "{data} {} does not exist: pass the CIFAR-10 binary archive \
                 (cifar-10-binary.tar.gz) or the folder it unpacks to",
                p.display()
            )));
        }
        return Ok(p.to_path_buf());
    }
    if let Some(p) = cached_archive() {
        return Ok(p);
    }
    let Some(cache) = cache_dir() else {
        return Err(match download_allowed {
            true => AppError::Failed(DownloadError::NoCacheDir.into()),
            false => AppError::Input(message!(
                "no cache folder could be found for this user: set CYCLR_CACHE_DIR to a \
                 writable folder, or pass {data}"
            )),
        });
    };
    if !download_allowed {
        return Err(AppError::Input(message!(
            "no CIFAR-10 data found: pass {data} PATH (the binary archive \
             cifar-10-binary.tar.gz or its unpacked folder), or {download} to fetch it ({} MB) \
             from {} into {}",
            OFFICIAL_SIZE / 1_000_000,
            OFFICIAL_URL,
            cache.display()
        )));
    }
    let spec = DownloadSpec {
        url: std::env::var("CYCLR_DOWNLOAD_URL").unwrap_or_else(|_| OFFICIAL_URL.into()),
        ..DownloadSpec::official()
    };
    download(&spec, &cache.join(ARCHIVE_NAME), progress).map_err(|e| AppError::Failed(e.into()))
}
