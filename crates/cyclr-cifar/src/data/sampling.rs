//! Which images a run sees: class-balanced subsets and the seeded order of each epoch.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::format::{CLASS_NAMES, DataError, Split};

impl Split {
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
        let mut out = Split::with_capacity(limit);
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
/// The order of the training images in `epoch` (0-based): a pure function of the seed and
/// the epoch, so a resumed run sees exactly the batches an uninterrupted one would.
pub fn epoch_order(len: usize, seed: u64, epoch: u64) -> Vec<u32> {
    let mut order: Vec<u32> = (0..len as u32).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    order.shuffle(&mut rng);
    order
}
