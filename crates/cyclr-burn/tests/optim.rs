//! Our Adam and SGD against updates computed by hand (PyTorch's formulas, in f64).

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use cyclr_burn::optim::OptimizerConfig;

fn device() -> Device {
    Device::flex().autodiff()
}

/// A 2->1 linear layer with known weights; loss = sum(w . x + b) so grad_w = x, grad_b = 1.
fn layer(device: &Device) -> Linear {
    let mut l = LinearConfig::new(2, 1).init(device);
    l.weight = Param::from_tensor(Tensor::from_data(TensorData::new(vec![0.5f32, -0.25], [2, 1]), device));
    l.bias = Some(Param::from_tensor(Tensor::from_data(TensorData::new(vec![0.1f32], [1]), device)));
    l
}

fn grads(model: &Linear, x: [f32; 2], device: &Device) -> GradientsParams {
    let input = Tensor::<2>::from_data(TensorData::new(x.to_vec(), [1, 2]), device);
    let loss = model.forward(input).sum();
    GradientsParams::from_grads(loss.backward(), model)
}

fn weights(model: &Linear) -> Vec<f64> {
    let mut w: Vec<f64> = model.weight.val().into_data().iter::<f32>().map(f64::from).collect();
    w.extend(model.bias.as_ref().unwrap().val().into_data().iter::<f32>().map(f64::from));
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
            buf[j] = if i == 0 { grad[j] } else { m * buf[j] + grad[j] };
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
    let bad = OptimizerConfig::Sgd { momentum: 1.5, weight_decay: 0.0, nesterov: false };
    assert!(bad.validate().unwrap_err().contains("momentum is 1.5"));
    let bad = OptimizerConfig::Adam { beta1: 0.9, beta2: 0.999, epsilon: 0.0, weight_decay: 0.0 };
    assert!(bad.validate().unwrap_err().contains("epsilon"));
}

#[test]
fn reference_cnn_has_122570_parameters() {
    let model = cyclr_burn::model::ReferenceCnn::new(&Device::flex());
    assert_eq!(model.num_params(), 122_570);
}
