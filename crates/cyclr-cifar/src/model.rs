//! The reference CNN of the recreation (the seed post's Keras model), in burn:
//! Conv 3->32 3x3 valid + ReLU, MaxPool 2, Conv 32->64 3x3 + ReLU, MaxPool 2,
//! Conv 64->64 3x3 + ReLU, Flatten, Linear 1024->64 + ReLU, Linear 64->10.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor};

/// Number of CIFAR-10 classes.
pub const NUM_CLASSES: usize = 10;

/// The reference CNN (layers in the module doc), as burn modules.
#[derive(Module, Debug)]
pub struct ReferenceCnn {
    /// Conv 3->32, 3x3, valid.
    pub conv1: Conv2d,
    /// Conv 32->64, 3x3, valid.
    pub conv2: Conv2d,
    /// Conv 64->64, 3x3, valid.
    pub conv3: Conv2d,
    /// 2x2 max pooling, after conv1 and after conv2.
    pub pool: MaxPool2d,
    /// Linear 1024->64.
    pub fc1: Linear,
    /// Linear 64->10: the class logits.
    pub fc2: Linear,
}

impl ReferenceCnn {
    /// A freshly initialised model (burn's defaults, which follow PyTorch's). Seed the
    /// device first (`device.seed(s)`) for reproducible weights.
    pub fn new(device: &Device) -> Self {
        Self {
            conv1: Conv2dConfig::new([3, 32], [3, 3]).init(device),
            conv2: Conv2dConfig::new([32, 64], [3, 3]).init(device),
            conv3: Conv2dConfig::new([64, 64], [3, 3]).init(device),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            fc1: LinearConfig::new(64 * 4 * 4, 64).init(device),
            fc2: LinearConfig::new(64, NUM_CLASSES).init(device),
        }
    }

    /// Logits `[batch, 10]` for images `[batch, 3, 32, 32]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self.pool.forward(relu(self.conv1.forward(images))); // 32x15x15
        let x = self.pool.forward(relu(self.conv2.forward(x))); // 64x6x6
        let x = relu(self.conv3.forward(x)); // 64x4x4
        let x = x.flatten::<2>(1, 3);
        self.fc2.forward(relu(self.fc1.forward(x)))
    }

    /// Mean cross-entropy from logits, and the logits.
    pub fn forward_loss(
        &self,
        images: Tensor<4>,
        labels: Tensor<1, Int>,
    ) -> (Tensor<1>, Tensor<2>) {
        let logits = self.forward(images);
        let loss = CrossEntropyLossConfig::new()
            .init(&logits.device())
            .forward(logits.clone(), labels);
        (loss, logits)
    }
}
