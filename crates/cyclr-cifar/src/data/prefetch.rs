//! Building an epoch's batches on a background thread, ahead of the model.

use std::sync::Arc;

use super::batching::{Batch, make_batch};
use super::format::Split;

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
