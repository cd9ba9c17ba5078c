//! The fused CPU kernels against burn's autodiff on the same weights and inputs, and
//! against finite differences: losses, gradients, updates and saved state.

use burn::tensor::{Device, Int, Tensor, TensorData};
use cyclr_burn::optim::OptimizerConfig;
use cyclr_cifar::data::Batch;
use cyclr_cifar::fused::{FusedCnn, NUM_PARAMS, Precision};
use cyclr_cifar::model::ReferenceCnn;

fn random_batch(n: usize, seed: u64) -> Batch {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    Batch {
        images: (0..n * 3072).map(|_| (next() * 4.0 - 2.0) as f32).collect(),
        labels: (0..n).map(|_| (next() * 10.0) as i64 % 10).collect(),
    }
}

fn flat(t: Tensor<1>) -> Vec<f32> {
    t.into_data().try_into_vec_as::<f32>().unwrap()
}

/// burn's loss and gradients, flattened in the fused engine's parameter order.
fn burn_gradients(model: &ReferenceCnn, batch: &Batch, device: &Device) -> (f64, Vec<f32>) {
    let n = batch.len();
    let images = Tensor::<4>::from_data(
        TensorData::new(batch.images.clone(), [n, 3, 32, 32]),
        device,
    );
    let labels = Tensor::<1, Int>::from_data(TensorData::new(batch.labels.clone(), [n]), device);
    let (loss, _) = model.forward_loss(images, labels);
    let value = loss.clone().into_scalar::<f32>() as f64;
    let grads = loss.backward();
    let mut g = Vec::new();
    for conv in [&model.conv1, &model.conv2, &model.conv3] {
        g.extend(flat(
            conv.weight.val().grad(&grads).unwrap().flatten::<1>(0, 3),
        ));
        g.extend(flat(
            conv.bias.as_ref().unwrap().val().grad(&grads).unwrap(),
        ));
    }
    for fc in [&model.fc1, &model.fc2] {
        g.extend(flat(
            fc.weight.val().grad(&grads).unwrap().flatten::<1>(0, 1),
        ));
        g.extend(flat(fc.bias.as_ref().unwrap().val().grad(&grads).unwrap()));
    }
    (value, g)
}

fn max_abs(v: &[f32]) -> f32 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

#[test]
fn loss_and_gradients_match_burns_autodiff() {
    let device = Device::flex().autodiff();
    device.seed(3);
    let model = ReferenceCnn::new(&device);
    let batch = random_batch(37, 1); // an odd size: uneven split across threads
    let (burn_loss, burn_g) = burn_gradients(&model, &batch, &device);
    let mut fused = FusedCnn::from_model(&model, &OptimizerConfig::adam());
    // A larger batch first: buffers left from it must not leak into the smaller one.
    fused.gradients(&random_batch(100, 9));
    let (loss, g) = fused.gradients(&batch);
    assert_eq!(g.len(), NUM_PARAMS);
    assert!(
        ((loss - burn_loss) / burn_loss).abs() < 1e-5,
        "loss {loss} vs burn {burn_loss}"
    );
    // Per parameter tensor, relative to that tensor's largest gradient.
    let sizes = [864, 32, 18432, 64, 36864, 64, 65536, 64, 640, 10];
    let mut at = 0;
    for (i, n) in sizes.into_iter().enumerate() {
        let (a, b) = (&g[at..at + n], &burn_g[at..at + n]);
        let scale = max_abs(b).max(1e-12);
        let worst = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst <= 1e-4 * scale,
            "parameter {i}: max diff {worst} vs scale {scale}"
        );
        at += n;
    }
}

#[test]
fn gradients_match_finite_differences() {
    let device = Device::flex();
    device.seed(5);
    let model = ReferenceCnn::new(&device);
    let batch = random_batch(8, 2);
    let mut fused = FusedCnn::from_model(&model, &OptimizerConfig::sgd());
    let (_, g) = fused.gradients(&batch);
    let h = 1e-3f32;
    // The largest-gradient entry of every parameter tensor.
    let sizes = [864, 32, 18432, 64, 36864, 64, 65536, 64, 640, 10];
    let mut at = 0;
    for n in sizes {
        let i = (at..at + n)
            .max_by(|&a, &b| g[a].abs().total_cmp(&g[b].abs()))
            .unwrap();
        let loss_at = |delta: f32| {
            let mut m = FusedCnn::from_model(&fused.to_model(&device), &OptimizerConfig::sgd());
            m.perturb(i, delta);
            m.gradients(&batch).0
        };
        let numeric = (loss_at(h) - loss_at(-h)) / (2.0 * h as f64);
        let analytic = g[i] as f64;
        assert!(
            (numeric - analytic).abs() <= 0.03 * analytic.abs() + 2e-4,
            "param {i}: numeric {numeric} analytic {analytic}"
        );
        at += n;
    }
}

/// Every optimizer (Adam, AdamW, SGD with Nesterov and weight decay), under a momentum
/// that changes every step as a cyclical schedule sets it: the fused engine's updates are
/// the burn engine's.
#[test]
fn every_optimizer_step_matches_our_burn_optimizer_under_cycled_momentum() {
    let configs = [
        OptimizerConfig::adam(),
        OptimizerConfig::adamw().with_weight_decay(0.1),
        OptimizerConfig::Sgd {
            momentum: 0.9,
            weight_decay: 1e-3,
            nesterov: true,
        },
    ];
    for config in configs {
        let device = Device::flex().autodiff();
        let batch = random_batch(20, 3);
        let mut burn = cyclr_cifar::engine::Engine::new(
            &config,
            9,
            device,
            cyclr_cifar::engine::EngineKind::Burn,
        );
        let mut fused = FusedCnn::from_model(&burn.model(&Device::flex()).unwrap(), &config);
        let lr = if config.name() == "sgd" { 1e-2 } else { 1e-3 };
        for (step, momentum) in [Some(0.95), Some(0.85), None, Some(0.9)]
            .into_iter()
            .enumerate()
        {
            if let Some(m) = momentum {
                fused.momentum.set(m);
                burn.momentum().set(m);
            }
            let a = fused.train_batch(&batch, lr);
            let b = burn.train_batch(&batch, lr);
            assert!(
                (a.loss - b.loss).abs() < 1e-4,
                "{}: step {step}: {} vs {}",
                config.name(),
                a.loss,
                b.loss
            );
        }
        let burn_params = FusedCnn::from_model(&burn.model(&Device::flex()).unwrap(), &config);
        let worst = fused
            .params()
            .iter()
            .zip(burn_params.params())
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst < 1e-4,
            "{}: weights differ by {worst} after 4 steps",
            config.name()
        );
    }
}

#[test]
fn reference_cnn_has_122570_parameters() {
    use burn::module::Module;
    assert_eq!(ReferenceCnn::new(&Device::flex()).num_params(), 122_570);
}

#[test]
fn saved_state_resumes_identically() {
    for config in [
        OptimizerConfig::adam(),
        OptimizerConfig::sgd(),
        OptimizerConfig::adamw(),
    ] {
        let device = Device::flex();
        device.seed(1);
        let mut a = FusedCnn::from_model(&ReferenceCnn::new(&device), &config);
        let b1 = random_batch(10, 4);
        let b2 = random_batch(10, 5);
        a.train_batch(&b1, 1e-3);
        let (model, optim) = a.save().unwrap();
        let mut b = FusedCnn::from_model(&ReferenceCnn::new(&device), &config);
        b.load(model, optim).unwrap();
        assert_eq!(a.params(), b.params());
        let (x, y) = (a.train_batch(&b2, 1e-3), b.train_batch(&b2, 1e-3));
        assert_eq!(x.loss, y.loss);
        assert_eq!(a.params(), b.params());
        // Another engine's optimizer state is refused with a clear message.
        let (model, _) = a.save().unwrap();
        let err = b.load(model, b"not ours".to_vec()).unwrap_err().to_string();
        assert!(err.contains("not written by the fused engine"), "{err}");
    }
}

#[test]
fn evaluation_matches_burns() {
    // Evaluation takes a different path (no columns kept): it must agree with burn too.
    let device = Device::flex().autodiff();
    let config = OptimizerConfig::adam();
    let mut burn =
        cyclr_cifar::engine::Engine::new(&config, 4, device, cyclr_cifar::engine::EngineKind::Burn);
    let mut fused = FusedCnn::from_model(&burn.model(&Device::flex()).unwrap(), &config);
    let n = 230;
    let split = cyclr_cifar::data::Split {
        images: (0..n * 3072)
            .map(|i| ((i * 2654435761usize) >> 7) as u8)
            .collect(),
        labels: (0..n).map(|i| (i * 7 % 10) as u8).collect(),
    };
    let (a, b) = (fused.evaluate(&split, 100), burn.evaluate(&split, 100));
    assert!(
        ((a.loss - b.loss) / b.loss).abs() < 1e-5,
        "{} vs {}",
        a.loss,
        b.loss
    );
    assert_eq!(a.accuracy, b.accuracy);
    // And the training path's loss on the same images.
    let batch = cyclr_cifar::data::make_batch(&split, &(0..100).collect::<Vec<u32>>());
    let first = cyclr_cifar::data::Split {
        images: split.images[..100 * 3072].to_vec(),
        labels: split.labels[..100].to_vec(),
    };
    let (train_loss, _) = fused.gradients(&batch);
    assert!((fused.evaluate(&first, 100).loss - train_loss).abs() < 1e-5);
}

/// Euclidean norm of `a - b` over that of `b`.
fn relative_distance(a: &[f32], b: &[f32]) -> f64 {
    let (mut d, mut n) = (0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        d += f64::from(x - y).powi(2);
        n += f64::from(*y).powi(2);
    }
    (d / n).sqrt()
}

#[test]
fn bf16_products_stay_near_f32s_numbers_and_differ_from_them() {
    if !cyclr_cifar::fused::bf16_available() {
        eprintln!("skipped: this CPU lacks AVX-512 BF16, so fused-bf16 cannot run here");
        return;
    }
    let device = Device::flex();
    device.seed(6);
    let model = ReferenceCnn::new(&device);
    let config = OptimizerConfig::adam();
    let mut f32_cnn = FusedCnn::from_model(&model, &config);
    let mut bf16_cnn = FusedCnn::from_model(&model, &config)
        .with_precision(Precision::Bf16)
        .unwrap();
    assert_eq!(bf16_cnn.precision(), Precision::Bf16);
    // 37 images: whole and partial groups, and a partial tile in every product.
    let batch = random_batch(37, 8);
    let (la, ga) = f32_cnn.gradients(&batch);
    let (lb, gb) = bf16_cnn.gradients(&batch);
    // bf16 really ran: the numbers are not f32's...
    assert_ne!(ga, gb, "the bf16 engine gave f32's gradients");
    // ...but near them, layer by layer: bf16 rounds each operand by up to 2^-9, which the
    // cancellation in sums of mixed-sign terms amplifies (0.04 apart for the dense layers to
    // 0.10 for conv1, measured); a wrong layout or a lost tile would put them 1 or more
    // apart.
    assert!(((la - lb) / la).abs() < 1e-2, "loss {la} vs {lb}");
    let mut at = 0;
    for (layer, len) in [
        ("conv1", 32 * 3 * 9 + 32),
        ("conv2", 32 * 32 * 9 + 32),
        ("conv3", 64 * 32 * 9 + 64),
        ("dense", NUM_PARAMS - at_dense()),
    ] {
        let d = relative_distance(&gb[at..at + len], &ga[at..at + len]);
        assert!(d < 0.25, "{layer}: gradients {d:.4} apart (relative)");
        at += len;
    }
    assert_eq!(at, NUM_PARAMS);
    // Training follows f32's path closely for a few steps.
    for step in 0..4 {
        let (a, b) = (
            f32_cnn.train_batch(&batch, 1e-3),
            bf16_cnn.train_batch(&batch, 1e-3),
        );
        assert!(
            ((a.loss - b.loss) / a.loss).abs() < 2e-2,
            "step {step}: loss {} vs {}",
            a.loss,
            b.loss
        );
    }
}

/// Where the dense layers' parameters start: after the three convolutions'.
fn at_dense() -> usize {
    (32 * 3 * 9 + 32) + (32 * 32 * 9 + 32) + (64 * 32 * 9 + 64)
}

#[test]
fn the_bf16_engine_is_chosen_by_name_and_checked() {
    use cyclr_cifar::engine::{Backend, EngineKind};
    let kind: EngineKind = "fused-bf16".parse().unwrap();
    assert_eq!(kind, EngineKind::FusedBf16);
    assert_eq!(kind.name(), "fused-bf16");
    let err = kind.check(Backend::Wgpu).unwrap_err().to_string();
    assert!(
        err.contains("the fused-bf16 engine runs on the CPU"),
        "{err}"
    );
    let checked = kind.check(Backend::Flex);
    if cyclr_cifar::fused::bf16_available() {
        checked.unwrap();
    } else {
        let err = checked.unwrap_err().to_string();
        assert!(err.contains("AVX-512 BF16"), "{err}");
    }
}
