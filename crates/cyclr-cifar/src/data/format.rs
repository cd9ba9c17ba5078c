//! The official binary layout: file names, record size, classes, and a split's images and
//! labels as they are read from it; and why reading can fail.

use std::path::{Path, PathBuf};

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
    /// The path is a device, a pipe or a socket: reading it could block forever.
    #[error(
        "{} is a device or a pipe, not a folder or a .tar.gz archive: pass the CIFAR-10 \
         binary archive (cifar-10-binary.tar.gz) or the folder it unpacks to",
        path.display()
    )]
    NotRegular {
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
            DataError::LimitTooLarge { .. }
                | DataError::LimitZero { .. }
                | DataError::NotRegular { .. }
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
    /// An empty split with room for `images` images.
    pub fn with_capacity(images: usize) -> Self {
        Self {
            images: Vec::with_capacity(images * IMAGE_BYTES),
            labels: Vec::with_capacity(images),
        }
    }

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
    pub(super) fn push_file(&mut self, path: &Path, bytes: &[u8]) -> Result<(), DataError> {
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
}
