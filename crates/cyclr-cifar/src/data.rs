//! CIFAR-10 in the official binary layout (`cifar-10-batches-bin/data_batch_1..5.bin`,
//! `test_batch.bin`; each record a label byte then 1024 R, 1024 G, 1024 B bytes), read from
//! a folder or straight from the `.tar.gz` archive without unpacking it to disk.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use flate2::read::GzDecoder;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// Bytes of one image: 3 channels of 32x32.
pub const IMAGE_BYTES: usize = 3 * 32 * 32;
/// Bytes of one record: the label, then the image.
pub const RECORD_BYTES: usize = 1 + IMAGE_BYTES;
/// Records in each official batch file.
pub const RECORDS_PER_FILE: usize = 10_000;
/// The five training batch files, 10,000 records each.
pub const TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
/// The test batch file, 10,000 records.
pub const TEST_FILE: &str = "test_batch.bin";
/// Bytes the reader accepts after the end of the tar archive (tar pads to 10 KiB blocks).
const TRAILING_LIMIT: u64 = 1 << 20;
/// Class names, indexed by label (0-9).
pub const CLASS_NAMES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// Per-channel mean and standard deviation of the CIFAR-10 training images (0-1 scale),
/// used to normalise inputs.
pub const MEAN: [f32; 3] = [0.4914, 0.4822, 0.4465];
/// Per-channel standard deviation of the CIFAR-10 training images (0-1 scale); see [`MEAN`].
pub const STD: [f32; 3] = [0.2470, 0.2435, 0.2616];

/// Why CIFAR-10 could not be read, or a subset of it taken.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file or folder could not be read.
    #[error("cannot read {}: {error}", path.display())]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying I/O error. Part of the message, not a `source`: printed with its
        /// causes, it would say the same twice.
        error: std::io::Error,
    },
    /// A file is empty.
    #[error("{} is empty: expected CIFAR-10 records of 3073 bytes", path.display())]
    Empty {
        /// The empty file.
        path: PathBuf,
    },
    /// A file's size is not a whole number of 3073-byte records.
    #[error(
        "{} is {len} bytes, not a whole number of 3073-byte CIFAR-10 records: the file is \
         truncated or not in the CIFAR-10 binary layout",
        path.display()
    )]
    RecordSize {
        /// The file.
        path: PathBuf,
        /// Its size in bytes.
        len: u64,
    },
    /// A batch file does not hold 10,000 records.
    #[error(
        "{} holds {count} records; the CIFAR-10 binary layout has 10,000 per file (the file \
         is truncated, padded or from another dataset)",
        path.display()
    )]
    RecordCount {
        /// The file.
        path: PathBuf,
        /// Records it holds.
        count: usize,
    },
    /// A batch file is larger than 10,000 records.
    #[error(
        "{} holds more than the 10,000 records of a CIFAR-10 batch file (the file is padded \
         or from another dataset)",
        path.display()
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// A record has a label outside 0-9.
    #[error(
        "record {index} of {} has label {label}; CIFAR-10 labels are 0-9 (the file is \
         corrupt or not CIFAR-10)",
        path.display()
    )]
    Label {
        /// The file.
        path: PathBuf,
        /// The record's position in the file, from 0.
        index: usize,
        /// The label found.
        label: u8,
    },
    /// A batch file is missing from the folder or archive.
    #[error(
        "{} lacks {member}: expected cifar-10-batches-bin/ with data_batch_1..5.bin and \
         test_batch.bin (the official binary version, not the Python or MATLAB one)",
        path.display()
    )]
    Missing {
        /// The folder or archive searched.
        path: PathBuf,
        /// The batch file that is missing.
        member: String,
    },
    /// The archive could not be decompressed or read.
    #[error("{} is not a readable .tar.gz archive: {message}", path.display())]
    Archive {
        /// The archive.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The archive holds a path that leaves its folder (`..` or absolute).
    #[error(
        "{} contains the unsafe path '{member}': refusing to read an archive that tries to \
         escape its folder",
        path.display()
    )]
    UnsafePath {
        /// The archive.
        path: PathBuf,
        /// The unsafe path inside it.
        member: String,
    },
    /// A batch file is not a regular file (a folder, a device, a FIFO).
    #[error(
        "{} is not a regular file (a folder, device or pipe): a batch file of the official \
         binary version is expected there",
        path.display()
    )]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The archive holds a data file twice (which one would be read is not to be guessed).
    #[error(
        "{} holds {member} twice: an archive must have one copy of each batch file; \
         download it again",
        path.display()
    )]
    Duplicate {
        /// The archive.
        path: PathBuf,
        /// The member found a second time.
        member: String,
    },
    /// The path is neither a folder nor a gzip archive.
    #[error(
        "{} is neither a folder nor a .tar.gz archive: pass the CIFAR-10 binary archive \
         (cifar-10-binary.tar.gz) or the folder it unpacks to",
        path.display()
    )]
    NotCifar {
        /// The path given.
        path: PathBuf,
    },
    /// A subset limit asks for more images than the split has.
    #[error("{which} {limit} asks for more images than the {available} available")]
    LimitTooLarge {
        /// The setting: `train_limit` or `test_limit`.
        which: &'static str,
        /// Images asked for.
        limit: usize,
        /// Images in the split.
        available: usize,
    },
    /// A subset limit is 0.
    #[error("{which} is 0: give at least 10 images (one per class)")]
    LimitZero {
        /// The setting: `train_limit` or `test_limit`.
        which: &'static str,
    },
}

impl DataError {
    /// The message, with the subset's setting called what `name` calls it.
    pub fn describe(&self, name: crate::error::Namer) -> String {
        match self {
            DataError::LimitTooLarge {
                which,
                limit,
                available,
            } => format!(
                "{} {limit} asks for more images than the {available} available",
                name(which)
            ),
            DataError::LimitZero { which } => format!(
                "{} is 0: give at least 10 images (one per class)",
                name(which)
            ),
            other => other.to_string(),
        }
    }

    /// Whether the input is at fault (a subset the data cannot give), not the data.
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            DataError::LimitTooLarge { .. } | DataError::LimitZero { .. }
        )
    }
}

/// Images and labels of one split, images as raw CHW bytes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Split {
    /// Images as CHW bytes, [`IMAGE_BYTES`] each, in record order.
    pub images: Vec<u8>,
    /// Class labels (0-9), one per image.
    pub labels: Vec<u8>,
}

impl Split {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the split has no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Iterations per epoch at this batch size (the last batch may be short).
    pub fn steps_per_epoch(&self, batch_size: usize) -> u64 {
        self.len().div_ceil(batch_size) as u64
    }

    /// The CHW bytes of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * IMAGE_BYTES..(i + 1) * IMAGE_BYTES]
    }

    /// Appends the records of one batch file after validating them.
    fn push_file(&mut self, path: &Path, bytes: &[u8]) -> Result<(), DataError> {
        if bytes.is_empty() {
            return Err(DataError::Empty { path: path.into() });
        }
        if !bytes.len().is_multiple_of(RECORD_BYTES) {
            return Err(DataError::RecordSize {
                path: path.into(),
                len: bytes.len() as u64,
            });
        }
        let count = bytes.len() / RECORD_BYTES;
        if count != RECORDS_PER_FILE {
            return Err(DataError::RecordCount {
                path: path.into(),
                count,
            });
        }
        self.images.reserve(count * IMAGE_BYTES);
        self.labels.reserve(count);
        for (index, record) in bytes.chunks_exact(RECORD_BYTES).enumerate() {
            let label = record[0];
            if label as usize >= CLASS_NAMES.len() {
                return Err(DataError::Label {
                    path: path.into(),
                    index,
                    label,
                });
            }
            self.labels.push(label);
            self.images.extend_from_slice(&record[1..]);
        }
        Ok(())
    }

    /// A class-balanced subset of `limit` images: the first `limit / 10` of each class in
    /// file order (the first `limit % 10` classes get one more), kept in file order.
    pub fn balanced_subset(&self, limit: usize, which: &'static str) -> Result<Split, DataError> {
        if limit == 0 {
            return Err(DataError::LimitZero { which });
        }
        if limit > self.len() {
            return Err(DataError::LimitTooLarge {
                which,
                limit,
                available: self.len(),
            });
        }
        if limit == self.len() {
            return Ok(self.clone());
        }
        let k = CLASS_NAMES.len();
        let quota: Vec<usize> = (0..k)
            .map(|c| limit / k + usize::from(c < limit % k))
            .collect();
        let mut taken = vec![0usize; k];
        let mut out = Split::default();
        for i in 0..self.len() {
            let c = self.labels[i] as usize;
            if taken[c] < quota[c] {
                taken[c] += 1;
                out.labels.push(self.labels[i]);
                out.images.extend_from_slice(self.image(i));
            }
        }
        if out.len() < limit {
            // Some class has fewer images than its quota: fill from the rest, in order.
            let mut used = vec![0usize; k];
            for i in 0..self.len() {
                let c = self.labels[i] as usize;
                used[c] += 1;
                if used[c] > quota[c] && out.len() < limit {
                    out.labels.push(self.labels[i]);
                    out.images.extend_from_slice(self.image(i));
                }
            }
        }
        Ok(out)
    }

    /// Images per class.
    pub fn class_counts(&self) -> [usize; 10] {
        let mut counts = [0; 10];
        for &l in &self.labels {
            counts[l as usize] += 1;
        }
        counts
    }
}

/// The CIFAR-10 training and test splits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cifar10 {
    /// Shared, so every run's prefetch thread reads it without a 150 MB copy.
    pub train: Arc<Split>,
    /// The test split.
    pub test: Split,
    /// Where the data came from, for reports.
    pub source: PathBuf,
}

impl Cifar10 {
    /// Reads CIFAR-10 from a `.tar.gz` archive, a `cifar-10-batches-bin` folder, or a folder
    /// that contains one.
    pub fn load(path: &Path) -> Result<Cifar10, DataError> {
        let meta = std::fs::metadata(path).map_err(|error| DataError::Io {
            path: path.into(),
            error,
        })?;
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
            if !p.exists() {
                return Err(DataError::Missing {
                    path: dir.into(),
                    member: name.into(),
                });
            }
            let io = |error| DataError::Io {
                path: p.clone(),
                error,
            };
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
                // The header's size is not trusted for the allocation: a forged one could
                // ask for terabytes. Read what is there, up to one file's worth and a byte.
                let cap = (RECORDS_PER_FILE * RECORD_BYTES) as u64 + 1;
                let mut bytes = Vec::new();
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
        let (mut train, mut test) = (Split::default(), Split::default());
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

    /// SHA-256 (hex) of the images and labels of both splits: what a resumed run checks it
    /// is given the same data by.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for split in [&*self.train, &self.test] {
            h.update((split.len() as u64).to_le_bytes());
            h.update(&split.images);
            h.update(&split.labels);
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Class-balanced subsets of both splits (`None` keeps a split whole).
    pub fn limit(self, train: Option<usize>, test: Option<usize>) -> Result<Cifar10, DataError> {
        Ok(Cifar10 {
            train: match train {
                Some(n) => Arc::new(self.train.balanced_subset(n, "train_limit")?),
                None => self.train,
            },
            test: match test {
                Some(n) => self.test.balanced_subset(n, "test_limit")?,
                None => self.test,
            },
            source: self.source,
        })
    }
}

/// The order of the training images in `epoch` (0-based): a pure function of the seed and
/// the epoch, so a resumed run sees exactly the batches an uninterrupted one would.
pub fn epoch_order(len: usize, seed: u64, epoch: u64) -> Vec<u32> {
    let mut order: Vec<u32> = (0..len as u32).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    order.shuffle(&mut rng);
    order
}

/// A batch ready for the model: normalised CHW floats and labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Normalised images as CHW floats, `[batch, 3, 32, 32]` flattened.
    pub images: Vec<f32>,
    /// Class labels (0-9), one per image.
    pub labels: Vec<i64>,
}

impl Batch {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the batch has no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// Builds the batch of the given image indices, normalised with [`MEAN`] and [`STD`].
pub fn make_batch(split: &Split, indices: &[u32]) -> Batch {
    let mut images = Vec::with_capacity(indices.len() * IMAGE_BYTES);
    let mut labels = Vec::with_capacity(indices.len());
    // One multiply-add per byte: scale and shift folded per channel.
    let scale: [f32; 3] = std::array::from_fn(|c| 1.0 / (255.0 * STD[c]));
    let shift: [f32; 3] = std::array::from_fn(|c| -MEAN[c] / STD[c]);
    for &i in indices {
        let img = split.image(i as usize);
        for c in 0..3 {
            let plane = &img[c * 1024..(c + 1) * 1024];
            images.extend(plane.iter().map(|&b| b as f32 * scale[c] + shift[c]));
        }
        labels.push(split.labels[i as usize] as i64);
    }
    Batch { images, labels }
}

/// Batches of one epoch, built on a background thread a few ahead of the consumer so the
/// model never waits for data. Batches before `skip` are not built (resuming mid-epoch).
pub struct Prefetcher {
    rx: std::sync::mpsc::Receiver<Batch>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Prefetcher {
    /// Starts building the batches of `order`, `batch_size` images each, skipping the first
    /// `skip` batches.
    pub fn new(split: Arc<Split>, order: Vec<u32>, batch_size: usize, skip: usize) -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel(4);
        let handle = std::thread::Builder::new()
            .name("cyclr-prefetch".into())
            .spawn(move || {
                for chunk in order.chunks(batch_size).skip(skip) {
                    if tx.send(make_batch(&split, chunk)).is_err() {
                        break; // the consumer stopped early
                    }
                }
            })
            .expect("spawning a thread");
        Self {
            rx,
            handle: Some(handle),
        }
    }
}

impl Iterator for Prefetcher {
    type Item = Batch;
    fn next(&mut self) -> Option<Batch> {
        self.rx.recv().ok()
    }
}

impl Drop for Prefetcher {
    fn drop(&mut self) {
        // Dropping the receiver first ends the producer's loop.
        let (_, dead) = std::sync::mpsc::sync_channel(0);
        drop(std::mem::replace(&mut self.rx, dead));
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The I/O error is part of the message, not also its source: printed with its causes
    /// (as the CLI does), it is said once.
    #[test]
    fn an_io_error_is_said_once() {
        let e = DataError::Io {
            path: "cifar/data_batch_1.bin".into(),
            error: std::io::Error::from_raw_os_error(21),
        };
        let text = format!("{:#}", anyhow::Error::new(e));
        let cause = std::io::Error::from_raw_os_error(21).to_string();
        assert_eq!(text.matches(&cause).count(), 1, "{text}");
    }
}
