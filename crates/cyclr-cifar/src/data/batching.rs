//! Batches for the model: normalised CHW floats and labels.

use super::format::{IMAGE_BYTES, Split};

/// Per-channel mean and standard deviation of the CIFAR-10 training images (0-1 scale),
/// used to normalise inputs.
pub const MEAN: [f32; 3] = [0.4914, 0.4822, 0.4465];
/// Per-channel standard deviation of the CIFAR-10 training images (0-1 scale); see [`MEAN`].
pub const STD: [f32; 3] = [0.2470, 0.2435, 0.2616];

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
