//! CIFAR-10 in the official binary layout (`cifar-10-batches-bin/data_batch_1..5.bin`,
//! `test_batch.bin`; each record a label byte then 1024 R, 1024 G, 1024 B bytes), read from
//! a folder or straight from the `.tar.gz` archive without unpacking it to disk.
//!
//! One module per concern: [`format`](mod@format) (the layout and a split), [`archive`] (reading and
//! writing it), [`sampling`] (subsets and epoch order), [`batching`] and [`prefetch`]. The
//! application trains on any [`Dataset`]; [`Cifar10`] is the first.

pub mod archive;
pub mod batching;
pub mod format;
pub mod prefetch;
pub mod sampling;

use std::path::PathBuf;
use std::sync::Arc;

pub use archive::write_binary_folder;
pub use batching::{Batch, MEAN, STD, make_batch};
pub use format::{
    CLASS_NAMES, DataError, IMAGE_BYTES, RECORD_BYTES, RECORDS_PER_FILE, Split, TEST_FILE,
    TRAIN_FILES,
};
pub use prefetch::Prefetcher;
pub use sampling::epoch_order;

use crate::run_record::DataInfo;

/// A labelled image dataset the application trains on: the shape of its images, its
/// classes and its two splits. The trainer, the range test and the recreation read data
/// only through it.
pub trait Dataset {
    /// Channels, height and width of every image.
    fn image_shape(&self) -> [usize; 3];
    /// The classes' names, by label.
    fn classes(&self) -> &[&'static str];
    /// The training split (shared with the threads that build batches).
    fn train(&self) -> &Arc<Split>;
    /// The held-out split.
    fn test(&self) -> &Split;
    /// Where the data came from, for reports.
    fn source(&self) -> String;
    /// SHA-256 (hex) of both splits: what a resumed run checks its data by. It reads every
    /// byte, so it is asked for only where it is recorded.
    fn digest(&self) -> String;
    /// Where the data came from, its sizes and its digest, as a run records them.
    fn info(&self) -> DataInfo {
        DataInfo {
            source: self.source(),
            train_images: self.train().len(),
            test_images: self.test().len(),
            sha256: Some(self.digest()),
        }
    }
}

impl Dataset for Cifar10 {
    fn image_shape(&self) -> [usize; 3] {
        [3, 32, 32]
    }
    fn classes(&self) -> &[&'static str] {
        &CLASS_NAMES
    }
    fn train(&self) -> &Arc<Split> {
        &self.train
    }
    fn test(&self) -> &Split {
        &self.test
    }
    fn source(&self) -> String {
        self.source.display().to_string()
    }
    fn digest(&self) -> String {
        Cifar10::digest(self)
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
