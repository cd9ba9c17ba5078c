use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Int, Tensor};
use cyclr_burn::model::ReferenceCnn;
use std::time::Instant;

fn main() {
    let device = Device::flex().autodiff();
    device.seed(1);
    let mut model = ReferenceCnn::new(&device);
    println!("params {}", model.num_params());
    let mut optim = AdamConfig::new().init();
    let x = Tensor::<4>::random([100, 3, 32, 32], Distribution::Default, &device);
    let y = Tensor::<1, Int>::from_ints([3i32; 100], &device);
    for i in 0..25 {
        if i == 5 { println!("warm"); }
        let t = Instant::now();
        let (loss, _) = model.forward_loss(x.clone(), y.clone());
        let l: f32 = loss.clone().into_scalar();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(0.001, model, grads);
        println!("step {i} loss {l:.4} {:.1} img/s", 100.0 / t.elapsed().as_secs_f64());
    }
}
