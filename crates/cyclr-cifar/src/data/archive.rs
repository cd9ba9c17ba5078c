//! Reading CIFAR-10 from a folder or straight from the `.tar.gz` archive (without
//! unpacking it to disk), and writing the binary layout back out.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use flate2::read::GzDecoder;

use super::Cifar10;
use super::format::*;

/// Bytes the reader accepts after the end of the tar archive (tar pads to 10 KiB blocks).
const TRAILING_LIMIT: u64 = 1 << 20;

impl Cifar10 {
    /// Reads CIFAR-10 from a `.tar.gz` archive, a `cifar-10-batches-bin` folder, or a folder
    /// that contains one.
    pub fn load(path: &Path) -> Result<Cifar10, DataError> {
        let meta = std::fs::metadata(path).map_err(|error| DataError::Io {
            path: path.into(),
            error,
        })?;
        // A FIFO or a device would block or never end: refused before it is opened.
        if !meta.is_dir() && !meta.is_file() {
            return Err(DataError::NotRegular { path: path.into() });
        }
        let mut data = if meta.is_dir() {
            let dir = if path.join("cifar-10-batches-bin").is_dir() {
                path.join("cifar-10-batches-bin")
            } else {
                path.to_path_buf()
            };
            Self::load_dir(&dir)?
        } else {
            Self::load_archive(path)?
        };
        data.source = path.to_path_buf();
        Ok(data)
    }

    fn load_dir(dir: &Path) -> Result<Cifar10, DataError> {
        let read = |name: &str| -> Result<(PathBuf, Vec<u8>), DataError> {
            let p = dir.join(name);
            let io = |error| DataError::Io {
                path: p.clone(),
                error,
            };
            // Missing only when it is not there: a folder that cannot be entered is said as
            // its own error (permission denied), not as a missing file.
            match std::fs::symlink_metadata(&p) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(DataError::Missing {
                        path: dir.into(),
                        member: name.into(),
                    });
                }
                Err(e) => return Err(io(e)),
                Ok(_) => {}
            }
            // A device (/dev/zero), a FIFO or a folder where a batch file should be would
            // read forever or fail obscurely: only regular files are read.
            let meta = std::fs::metadata(&p).map_err(io)?;
            if !meta.is_file() {
                return Err(DataError::NotAFile { path: p });
            }
            if meta.len() > (RECORDS_PER_FILE * RECORD_BYTES) as u64 {
                return Err(DataError::TooLarge { path: p });
            }
            // Read no more than a batch file can hold, whatever the size said.
            let cap = (RECORDS_PER_FILE * RECORD_BYTES) as u64 + 1;
            let mut bytes = Vec::with_capacity(meta.len() as usize);
            File::open(&p)
                .and_then(|f| f.take(cap).read_to_end(&mut bytes))
                .map_err(io)?;
            if bytes.len() as u64 == cap {
                return Err(DataError::TooLarge { path: p });
            }
            Ok((p, bytes))
        };
        let (mut train, mut test) = (Split::default(), Split::default());
        for name in TRAIN_FILES {
            let (p, bytes) = read(name)?;
            train.push_file(&p, &bytes)?;
        }
        let (p, bytes) = read(TEST_FILE)?;
        test.push_file(&p, &bytes)?;
        Ok(Cifar10 {
            train: Arc::new(train),
            test,
            source: PathBuf::new(),
        })
    }

    fn load_archive(path: &Path) -> Result<Cifar10, DataError> {
        let file = File::open(path).map_err(|error| DataError::Io {
            path: path.into(),
            error,
        })?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len == 0 {
            return Err(DataError::Empty { path: path.into() });
        }
        let mut magic = [0u8; 2];
        let mut probe = &file;
        let _ = probe.read(&mut magic);
        if magic != [0x1f, 0x8b] {
            return Err(DataError::NotCifar { path: path.into() });
        }
        let file = File::open(path).map_err(|error| DataError::Io {
            path: path.into(),
            error,
        })?;
        Self::read_archive(
            GzDecoder::new(BufReader::with_capacity(1 << 20, file)),
            path,
        )
    }

    /// Reads the binary layout from an uncompressed tar stream (`path` names it in errors).
    /// Any byte stream is safe to give: it is validated, never trusted (see `fuzz/`).
    pub fn read_archive<R: Read>(reader: R, path: &Path) -> Result<Cifar10, DataError> {
        let archive_err = |e: std::io::Error| DataError::Archive {
            path: path.into(),
            message: e.to_string(),
        };
        let mut archive = tar::Archive::new(reader);
        // `entries` borrows the archive mutably; collect the members first, then drain.
        let mut members: Vec<Option<Vec<u8>>> = vec![None; TRAIN_FILES.len() + 1];
        for entry in archive.entries().map_err(archive_err)? {
            let mut entry = entry.map_err(archive_err)?;
            let member = entry.path().map_err(archive_err)?.into_owned();
            if member.components().any(|c| {
                matches!(
                    c,
                    Component::ParentDir | Component::RootDir | Component::Prefix(_)
                )
            }) {
                return Err(DataError::UnsafePath {
                    path: path.into(),
                    member: member.display().to_string(),
                });
            }
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let Some(name) = member.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let slot = TRAIN_FILES
                .iter()
                .position(|f| *f == name)
                .or((name == TEST_FILE).then_some(TRAIN_FILES.len()));
            if let Some(slot) = slot {
                if members[slot].is_some() {
                    return Err(DataError::Duplicate {
                        path: path.into(),
                        member: member.display().to_string(),
                    });
                }
                // The header's size is not trusted beyond one file's worth: a forged one
                // could ask for terabytes. Read what is there, up to that and a byte; the
                // capacity (bounded so) spares the growing vector's copies and page faults.
                let cap = (RECORDS_PER_FILE * RECORD_BYTES) as u64 + 1;
                let mut bytes =
                    Vec::with_capacity(entry.header().size().unwrap_or(0).min(cap) as usize);
                entry
                    .by_ref()
                    .take(cap)
                    .read_to_end(&mut bytes)
                    .map_err(archive_err)?;
                if bytes.len() as u64 == cap {
                    return Err(DataError::TooLarge {
                        path: path.join(name),
                    });
                }
                members[slot] = Some(bytes);
            }
        }
        // Read on to the end of the stream, so a gzip decoder checks its CRC and length
        // (the tar reader stops at the end-of-archive blocks, before the gzip trailer).
        // Past the archive there may be padding, not another archive's worth of data.
        let mut rest = archive.into_inner();
        let trailing = std::io::copy(
            &mut rest.by_ref().take(TRAILING_LIMIT + 1),
            &mut std::io::sink(),
        )
        .map_err(|e| DataError::Archive {
            path: path.into(),
            message: format!(
                "the compressed stream is corrupt past the last member ({e}): download it \
                         again"
            ),
        })?;
        if trailing > TRAILING_LIMIT {
            return Err(DataError::Archive {
                path: path.into(),
                message: format!(
                    "more than {TRAILING_LIMIT} bytes follow the end of the tar archive"
                ),
            });
        }
        // Room for every record is made once, from the bytes actually read: growing the
        // splits file by file cost copies and page faults of up to 150 MB.
        let records = |m: &[Option<Vec<u8>>]| -> usize {
            m.iter().flatten().map(|b| b.len() / RECORD_BYTES).sum()
        };
        let (mut train, mut test) = (
            Split::with_capacity(records(&members[..TRAIN_FILES.len()])),
            Split::with_capacity(records(&members[TRAIN_FILES.len()..])),
        );
        for (slot, bytes) in members.into_iter().enumerate() {
            let name = if slot < TRAIN_FILES.len() {
                TRAIN_FILES[slot]
            } else {
                TEST_FILE
            };
            let bytes = bytes.ok_or_else(|| DataError::Missing {
                path: path.into(),
                member: format!("cifar-10-batches-bin/{name}"),
            })?;
            let label = path.join(name);
            let split = if slot < TRAIN_FILES.len() {
                &mut train
            } else {
                &mut test
            };
            split.push_file(&label, &bytes)?;
        }
        Ok(Cifar10 {
            train: Arc::new(train),
            test,
            source: path.to_path_buf(),
        })
    }
}

/// Writes a full dataset (50,000 training and 10,000 test images) in the official binary
/// layout under `dir/cifar-10-batches-bin/`, e.g. to keep an unpacked copy that loads
/// faster than the archive.
pub fn write_binary_folder(data: &Cifar10, dir: &Path) -> anyhow::Result<PathBuf> {
    let expected = (TRAIN_FILES.len() * RECORDS_PER_FILE, RECORDS_PER_FILE);
    if (data.train.len(), data.test.len()) != expected {
        anyhow::bail!(
            "the official layout holds 50,000 training and 10,000 test images, not {} and {}",
            data.train.len(),
            data.test.len()
        );
    }
    let bin = dir.join("cifar-10-batches-bin");
    std::fs::create_dir_all(&bin)?;
    let write = |name: &str, split: &Split, from: usize| -> anyhow::Result<()> {
        let mut bytes = Vec::with_capacity(RECORDS_PER_FILE * RECORD_BYTES);
        for i in from..from + RECORDS_PER_FILE {
            bytes.push(split.labels[i]);
            bytes.extend_from_slice(split.image(i));
        }
        crate::io::write_atomic(&bin.join(name), &bytes)
    };
    for (k, name) in TRAIN_FILES.iter().enumerate() {
        write(name, &data.train, k * RECORDS_PER_FILE)?;
    }
    write(TEST_FILE, &data.test, 0)?;
    Ok(bin)
}
