//! `lr(step)` of every policy: a schedule must never show in a training step
//! (target: under 50 ns per call). Run: cargo bench -p cyclr

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use cyclr::{
    CyclicConfig, DecayConfig, ExpConfig, FixedConfig, LinearConfig, LrSchedule, OneCycleConfig,
    ScheduleConfig, SequenceConfig, SgdrConfig, StepDecayConfig,
};

fn schedules() -> Vec<(&'static str, ScheduleConfig)> {
    let c = CyclicConfig::new(0.001, 0.006, 2000).with_momentum(0.85, 0.95);
    vec![
        ("triangular", ScheduleConfig::Triangular(c.clone())),
        ("triangular2", ScheduleConfig::Triangular2(c.clone())),
        ("exp_range", ScheduleConfig::ExpRange(c.with_gamma(0.99994))),
        (
            "one_cycle",
            ScheduleConfig::OneCycle(OneCycleConfig::new(0.01, 100_000).with_momentum(0.85, 0.95)),
        ),
        (
            "sgdr",
            ScheduleConfig::Sgdr(SgdrConfig::new(0.01, 1000).with_t_mult(2)),
        ),
        ("fixed", ScheduleConfig::Fixed(FixedConfig::new(0.001))),
        (
            "decay",
            ScheduleConfig::Decay(DecayConfig::new(0.001, 0.006, 2000)),
        ),
        ("exp", ScheduleConfig::Exp(ExpConfig::new(0.006, 0.99994))),
        (
            "step",
            ScheduleConfig::Step(StepDecayConfig::new(0.1, 1000, 0.5)),
        ),
        (
            "linear",
            ScheduleConfig::Linear(LinearConfig::new(0.0, 0.02, 10_000)),
        ),
        (
            "sequence",
            ScheduleConfig::Sequence(SequenceConfig {
                boundaries: vec![500],
                schedules: vec![
                    ScheduleConfig::Linear(LinearConfig::new(0.0, 0.001, 500)),
                    ScheduleConfig::Triangular2(CyclicConfig::new(0.001, 0.006, 2000)),
                ],
            }),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("lr");
    for (name, config) in schedules() {
        let s = config.init().unwrap();
        let mut step = 0u64;
        group.bench_function(name, |b| {
            b.iter(|| {
                // Walk through the schedule so every branch is exercised.
                step = (step + 7919) % 1_000_000;
                black_box(s.lr(black_box(step)))
            })
        });
    }
    group.finish();
    let s =
        ScheduleConfig::Triangular(CyclicConfig::new(0.001, 0.006, 2000).with_momentum(0.85, 0.95))
            .init()
            .unwrap();
    c.bench_function("momentum/triangular", |b| {
        let mut step = 0u64;
        b.iter(|| {
            step = (step + 7919) % 1_000_000;
            black_box(s.momentum(black_box(step)))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
