//! The range test as a library call: it leaves the model and optimizer as they were.

mod common;
use common::synthetic_split;

use burn::tensor::Device;
use cyclr::range_test::{Ramp, RangeTestConfig};
use cyclr_burn::optim::OptimizerConfig;
use cyclr_cifar::data::Cifar10;
use cyclr_cifar::engine::{Backend, Engine, EngineKind};
use cyclr_cifar::observer::Silent;
use cyclr_cifar::range_test::{RangeTestSettings, run_on_engine};

#[test]
fn the_model_and_optimizer_are_restored_afterwards() {
    let data = Cifar10 {
        train: synthetic_split(300, 1).into(),
        test: synthetic_split(50, 2),
        source: "synthetic".into(),
    };
    // fused-bf16 too where the CPU runs it: the same restore, on other kernels.
    let bf16 = cyclr_cifar::fused::bf16_available().then_some(EngineKind::FusedBf16);
    if bf16.is_none() {
        eprintln!("fused-bf16 skipped: this CPU lacks AVX-512 BF16");
    }
    for kind in [EngineKind::Fused, EngineKind::Burn]
        .into_iter()
        .chain(bf16)
    {
        // Two identical engines with some training, so the optimizer has state to lose.
        let batch = cyclr_cifar::data::make_batch(&data.train, &(0..50).collect::<Vec<u32>>());
        let next = cyclr_cifar::data::make_batch(&data.train, &(50..100).collect::<Vec<u32>>());
        let make = || {
            let mut e = Engine::new(&OptimizerConfig::adam(), 3, Device::flex().autodiff(), kind);
            e.train_batch(&batch, 1e-3);
            e
        };
        let (mut tested, mut control) = (make(), make());
        let settings = RangeTestSettings {
            ramp: RangeTestConfig::new(0.0, 0.05, 12, Ramp::Linear),
            optimizer: OptimizerConfig::adam(),
            batch_size: 50,
            seed: 0,
            eval_every: Some(6),
            backend: Backend::Flex,
            engine: kind,
        };
        let rec = run_on_engine(&mut tested, &settings, &data, &mut Silent).unwrap();
        assert_eq!(rec.points.len(), 12);
        assert_eq!(
            rec.points
                .iter()
                .filter(|p| p.test_accuracy.is_some())
                .count(),
            2
        );
        assert!(
            rec.points.windows(2).all(|w| w[1].lr > w[0].lr),
            "the rate rises"
        );
        // The next step (which uses Adam's moments) is the same as if no test had run.
        let (a, b) = (
            tested.train_batch(&next, 1e-3),
            control.train_batch(&next, 1e-3),
        );
        assert_eq!(a.loss, b.loss, "{kind:?}");
        let weights = |e: &Engine| {
            cyclr_cifar::fused::FusedCnn::from_model(
                &e.model(&Device::flex()).unwrap(),
                &OptimizerConfig::adam(),
            )
            .params()
            .to_vec()
        };
        assert!(
            weights(&tested) == weights(&control),
            "{kind:?}: model and optimizer restored"
        );
    }
}
