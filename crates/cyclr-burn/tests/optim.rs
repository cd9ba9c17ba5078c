//! Our SGD, Adam and AdamW against updates computed by hand (PyTorch's formulas, in f64)
//! and against burn's own optimizers.

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use cyclr_burn::optim::OptimizerConfig;

fn device() -> Device {
    Device::flex().autodiff()
}

/// A 2->1 linear layer with known weights; loss = sum(w . x + b) so grad_w = x, grad_b = 1.
fn layer(device: &Device) -> Linear {
    let mut l = LinearConfig::new(2, 1).init(device);
    l.weight = Param::from_tensor(Tensor::from_data(
        TensorData::new(vec![0.5f32, -0.25], [2, 1]),
        device,
    ));
    l.bias = Some(Param::from_tensor(Tensor::from_data(
        TensorData::new(vec![0.1f32], [1]),
        device,
    )));
    l
}

fn grads(model: &Linear, x: [f32; 2], device: &Device) -> GradientsParams {
    let input = Tensor::<2>::from_data(TensorData::new(x.to_vec(), [1, 2]), device);
    let loss = model.forward(input).sum();
    GradientsParams::from_grads(loss.backward(), model)
}

fn weights(model: &Linear) -> Vec<f64> {
    let mut w: Vec<f64> = model
        .weight
        .val()
        .into_data()
        .iter::<f32>()
        .map(f64::from)
        .collect();
    w.extend(
        model
            .bias
            .as_ref()
            .unwrap()
            .val()
            .into_data()
            .iter::<f32>()
            .map(f64::from),
    );
    w
}

fn assert_close(got: &[f64], want: &[f64]) {
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-6, "got {got:?}, want {want:?}");
    }
}

#[test]
fn sgd_momentum_matches_pytorch_without_dampening() {
    let device = device();
    let (mut optim, momentum) = OptimizerConfig::sgd().init();
    let mut model = layer(&device);
    let mut p = vec![0.5f64, -0.25, 0.1];
    let mut buf = [0.0f64; 3];
    let xs = [[1.0f32, 2.0], [-0.5, 0.25], [3.0, -1.0]];
    let ms = [0.9, 0.8, 0.95]; // momentum changed between steps, as a cyclical schedule does
    let lr = 0.1;
    for (i, (x, m)) in xs.iter().zip(ms).enumerate() {
        momentum.set(m);
        let g = grads(&model, *x, &device);
        model = optim.step(lr, model, g);
        let grad = [x[0] as f64, x[1] as f64, 1.0];
        for j in 0..3 {
            buf[j] = if i == 0 {
                grad[j]
            } else {
                m * buf[j] + grad[j]
            };
            p[j] -= lr * buf[j];
        }
        assert_close(&weights(&model), &p);
    }
}

#[test]
fn adam_matches_hand_computed_updates_with_changing_beta1() {
    let device = device();
    let config = OptimizerConfig::adam();
    let (mut optim, beta1) = config.init();
    let mut model = layer(&device);
    let (b2, eps) = (0.999f64, 1e-7f64);
    let mut p = vec![0.5f64, -0.25, 0.1];
    let (mut m, mut v) = (vec![0.0f64; 3], vec![0.0f64; 3]);
    let xs = [[1.0f32, 2.0], [-0.5, 0.25], [3.0, -1.0], [0.1, 0.2]];
    let b1s = [0.9, 0.85, 0.95, 0.9];
    let lr = 0.01;
    for (t, (x, b1)) in xs.iter().zip(b1s).enumerate() {
        beta1.set(b1);
        let g = grads(&model, *x, &device);
        model = optim.step(lr, model, g);
        let grad = [x[0] as f64, x[1] as f64, 1.0];
        let t = t as i32 + 1;
        for j in 0..3 {
            m[j] = b1 * m[j] + (1.0 - b1) * grad[j];
            v[j] = b2 * v[j] + (1.0 - b2) * grad[j] * grad[j];
            let m_hat = m[j] / (1.0 - b1.powi(t));
            let v_hat = v[j] / (1.0 - b2.powi(t));
            p[j] -= lr * m_hat / (v_hat.sqrt() + eps);
        }
        assert_close(&weights(&model), &p);
    }
}

#[test]
fn optimizer_state_survives_a_byte_round_trip() {
    let device = device();
    let (mut a, _) = OptimizerConfig::adam().init();
    let mut model = layer(&device);
    for x in [[1.0f32, 2.0], [0.5, -1.0]] {
        let g = grads(&model, x, &device);
        model = a.step(0.01, model, g);
    }
    let bytes = a.into_bytes().unwrap();
    let (fresh, _) = OptimizerConfig::adam().init();
    let mut b = fresh.from_bytes(bytes).unwrap();
    let g1 = grads(&model, [0.3, 0.3], &device);
    let g2 = grads(&model, [0.3, 0.3], &device);
    let next_a = a.step(0.01, model.clone(), g1);
    let next_b = b.step(0.01, model, g2);
    assert_eq!(weights(&next_a), weights(&next_b));
}

#[test]
fn invalid_optimizer_settings_are_explained() {
    let bad = OptimizerConfig::Sgd {
        momentum: 1.5,
        weight_decay: 0.0,
        nesterov: false,
    };
    assert!(
        bad.validate()
            .unwrap_err()
            .to_string()
            .contains("momentum is 1.5")
    );
    let bad = OptimizerConfig::Adam {
        beta1: 0.9,
        beta2: 0.999,
        epsilon: 0.0,
        weight_decay: 0.0,
    };
    assert!(bad.validate().unwrap_err().to_string().contains("epsilon"));
}

/// A two-layer net, for comparing whole optimizer trajectories.
#[derive(Module, Debug)]
struct Mlp {
    a: Linear,
    b: Linear,
}

impl Mlp {
    fn loss(&self, x: Tensor<2>) -> Tensor<1> {
        let h = burn::tensor::activation::relu(self.a.forward(x));
        let y = self.b.forward(h);
        (y.clone() * y).mean().reshape([1])
    }

    fn params(&self) -> Vec<f64> {
        let mut out = Vec::new();
        for l in [&self.a, &self.b] {
            out.extend(l.weight.val().into_data().iter::<f32>().map(f64::from));
            out.extend(
                l.bias
                    .as_ref()
                    .unwrap()
                    .val()
                    .into_data()
                    .iter::<f32>()
                    .map(f64::from),
            );
        }
        out
    }
}

/// Ten steps of `ours` and of `theirs` from the same weights on the same data.
fn trajectories(mut ours: ModuleOptimizer, mut theirs: ModuleOptimizer) -> (Vec<f64>, Vec<f64>) {
    let device = device();
    device.seed(5);
    let start = Mlp {
        a: LinearConfig::new(4, 8).init(&device),
        b: LinearConfig::new(8, 3).init(&device),
    };
    let (mut a, mut b) = (start.clone(), start);
    for i in 0..10 {
        let x = Tensor::<2>::from_data(
            TensorData::new(
                (0..8)
                    .map(|k| ((i * 8 + k) as f32 * 0.37).sin())
                    .collect::<Vec<f32>>(),
                [2, 4],
            ),
            &device,
        );
        let ga = GradientsParams::from_grads(a.loss(x.clone()).backward(), &a);
        let gb = GradientsParams::from_grads(b.loss(x).backward(), &b);
        a = ours.step(0.01, a, ga);
        b = theirs.step(0.01, b, gb);
    }
    (a.params(), b.params())
}

/// With a constant momentum, ours are burn's own optimizers (PyTorch semantics: SGD
/// without dampening), to 1e-6 over ten steps.
#[test]
fn with_constant_momentum_they_match_burns_own_optimizers() {
    use burn::optim::decay::WeightDecayConfig;
    use burn::optim::momentum::MomentumConfig;
    use burn::optim::{AdamConfig, AdamWConfig, SgdConfig};
    let sgd_momentum = |nesterov| MomentumConfig {
        momentum: 0.9,
        dampening: 0.0,
        nesterov,
    };
    let cases: Vec<(&str, ModuleOptimizer, ModuleOptimizer)> = vec![
        (
            "sgd",
            OptimizerConfig::Sgd {
                momentum: 0.9,
                weight_decay: 0.01,
                nesterov: false,
            }
            .init()
            .0,
            SgdConfig::new()
                .with_momentum(Some(sgd_momentum(false)))
                .with_weight_decay(Some(WeightDecayConfig { penalty: 0.01 }))
                .init(),
        ),
        (
            "sgd nesterov",
            OptimizerConfig::Sgd {
                momentum: 0.9,
                weight_decay: 0.0,
                nesterov: true,
            }
            .init()
            .0,
            SgdConfig::new()
                .with_momentum(Some(sgd_momentum(true)))
                .init(),
        ),
        (
            "adam",
            OptimizerConfig::Adam {
                beta1: 0.9,
                beta2: 0.999,
                epsilon: 1e-7,
                weight_decay: 0.01,
            }
            .init()
            .0,
            AdamConfig::new()
                .with_epsilon(1e-7)
                .with_weight_decay(Some(WeightDecayConfig { penalty: 0.01 }))
                .init(),
        ),
        (
            "adamw",
            OptimizerConfig::adamw().with_weight_decay(0.1).init().0,
            AdamWConfig::new()
                .with_epsilon(1e-8)
                .with_weight_decay(0.1)
                .init(),
        ),
    ];
    for (name, ours, theirs) in cases {
        let (a, b) = trajectories(ours, theirs);
        let worst = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        assert!(worst < 1e-6, "{name}: differs from burn's by {worst:e}");
        // And the comparison can fail: the weights did move.
        let start = trajectories(OptimizerConfig::sgd().init().0, SgdConfig::new().init()).1;
        assert!(
            a.iter().zip(&start).any(|(x, y)| (x - y).abs() > 1e-4),
            "{name}: the weights moved"
        );
    }
}

/// AdamW's decoupled decay against hand-computed updates: `p = p (1 - lr wd) - lr m̂ / (√v̂ + ε)`.
#[test]
fn adamw_decays_the_weights_not_the_gradient() {
    let device = device();
    let (mut optim, beta1) = OptimizerConfig::AdamW {
        beta1: 0.9,
        beta2: 0.999,
        epsilon: 1e-8,
        weight_decay: 0.5,
    }
    .init();
    let mut model = layer(&device);
    let (b2, eps, wd, lr) = (0.999f64, 1e-8f64, 0.5f64, 0.01f64);
    let mut p = vec![0.5f64, -0.25, 0.1];
    let (mut m, mut v) = (vec![0.0f64; 3], vec![0.0f64; 3]);
    let xs = [[1.0f32, 2.0], [-0.5, 0.25], [3.0, -1.0]];
    for (t, (x, b1)) in xs.iter().zip([0.9, 0.85, 0.95]).enumerate() {
        beta1.set(b1);
        let g = grads(&model, *x, &device);
        model = optim.step(lr, model, g);
        let grad = [x[0] as f64, x[1] as f64, 1.0];
        let t = t as i32 + 1;
        for j in 0..3 {
            m[j] = b1 * m[j] + (1.0 - b1) * grad[j];
            v[j] = b2 * v[j] + (1.0 - b2) * grad[j] * grad[j];
            let (m_hat, v_hat) = (m[j] / (1.0 - b1.powi(t)), v[j] / (1.0 - b2.powi(t)));
            p[j] = p[j] * (1.0 - lr * wd) - lr * m_hat / (v_hat.sqrt() + eps);
        }
        assert_close(&weights(&model), &p);
    }
}

/// The flat optimizer (for engines that keep their weights in one `f32` buffer) applies the
/// same rules as the tensor optimizers: the same weights after ten steps with a cycling
/// momentum, for every optimizer; its state survives a round trip through its bytes and is
/// refused by another optimizer.
#[test]
fn the_flat_optimizer_is_the_tensor_optimizer() {
    use burn::optim::Optimizer;
    use cyclr_burn::optim::{Adam, FlatOptimizer, MomentumHandle, Sgd};
    let configs = [
        OptimizerConfig::adam().with_weight_decay(0.01),
        OptimizerConfig::adamw(),
        OptimizerConfig::sgd().with_weight_decay(0.001),
        OptimizerConfig::Sgd {
            momentum: 0.9,
            weight_decay: 0.0,
            nesterov: true,
        },
    ];
    let device = Device::flex();
    for config in configs {
        let n = 37;
        let mut flat_params: Vec<f32> = (0..n).map(|i| (i as f32 * 0.7).cos()).collect();
        let mut tensor = Tensor::<1>::from_data(TensorData::new(flat_params.clone(), [n]), &device);
        let handle = MomentumHandle::new(config.momentum());
        let mut flat = FlatOptimizer::new(&config, n);
        let (mut adam_state, mut sgd_state) = (None, None);
        for step in 0..10 {
            let momentum = 0.85 + 0.01 * step as f64;
            handle.set(momentum);
            let grads: Vec<f32> = (0..n).map(|i| ((i + step) as f32 * 0.31).sin()).collect();
            let g = Tensor::<1>::from_data(TensorData::new(grads.clone(), [n]), &device);
            flat.step(&mut flat_params, &grads, 0.01, momentum);
            tensor = match config {
                OptimizerConfig::Adam {
                    beta2,
                    epsilon,
                    weight_decay,
                    ..
                }
                | OptimizerConfig::AdamW {
                    beta2,
                    epsilon,
                    weight_decay,
                    ..
                } => {
                    let adam = Adam {
                        beta1: handle.clone(),
                        beta2: beta2 as f32,
                        epsilon: epsilon as f32,
                        weight_decay: weight_decay as f32,
                        decoupled: matches!(config, OptimizerConfig::AdamW { .. }),
                    };
                    let (t, s) = adam.step(0.01, tensor, g, adam_state.take());
                    adam_state = s;
                    t
                }
                OptimizerConfig::Sgd {
                    weight_decay,
                    nesterov,
                    ..
                } => {
                    let sgd = Sgd {
                        momentum: handle.clone(),
                        weight_decay: weight_decay as f32,
                        nesterov,
                    };
                    let (t, s) = sgd.step(0.01, tensor, g, sgd_state.take());
                    sgd_state = s;
                    t
                }
                _ => unreachable!("every optimizer is listed above"),
            };
        }
        let expected: Vec<f32> = tensor.into_data().iter::<f32>().collect();
        let worst = flat_params
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-6, "{}: {worst}", config.name());

        let mut back = FlatOptimizer::new(&config, n);
        back.load_bytes(&flat.to_bytes()).unwrap();
        assert_eq!(back, flat, "{}", config.name());
        let other = match config {
            OptimizerConfig::Sgd { .. } => OptimizerConfig::adam(),
            _ => OptimizerConfig::sgd(),
        };
        assert!(
            FlatOptimizer::new(&other, n)
                .load_bytes(&flat.to_bytes())
                .is_err()
        );
        assert!(
            FlatOptimizer::new(&config, n + 1)
                .load_bytes(&flat.to_bytes())
                .is_err()
        );
    }
}
