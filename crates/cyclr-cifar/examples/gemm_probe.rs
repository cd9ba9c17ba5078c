//! The fused engine's matrix products at their real shapes (one group of 8 images, in the
//! orientations the engine uses), timed on one core through its own bounds-checked
//! product, beside the ceiling: a 512 x 512 x 512 product, about the best this `gemm`
//! reaches here. Prints GFLOP/s per product and the training step's FLOPs per image, so a
//! measured step time gives the fraction of the ceiling reached.
//!
//! ```sh
//! cargo run --release -p cyclr-cifar --example gemm_probe
//! ```
//!
//! Where the CPU has AVX-512 BF16, each product is also timed in bf16 (`mm_bf16`, the
//! `fused-bf16` engine's), with its speed-up over f32.
//!
//! The data stay in cache between repeats, so these are upper bounds: in a real step the
//! patch matrices come from memory (see BENCHMARKS.md).
use cyclr_cifar::fused::{bf16_available, mm, mm_bf16};
use std::time::Instant;

/// Best of 5 repeats of enough calls for about 20 ms each; seconds per call.
fn time(name: &str, flops: f64, mut f: impl FnMut()) -> f64 {
    for _ in 0..20 {
        f();
    }
    let t = Instant::now();
    f();
    let calls = (0.02 / t.elapsed().as_secs_f64().max(1e-7)).ceil() as usize;
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..calls {
            f();
        }
        best = best.min(t.elapsed().as_secs_f64() / calls as f64);
    }
    println!(
        "{name:<44} {:9.1} us  {:6.1} GFLOP/s",
        best * 1e6,
        flops / best / 1e9
    );
    best
}

/// One convolution layer's three products for a group: forward (`rows . W^T`), weight
/// gradient (`rows^T . da`, written `[k][co]`) and patch gradient (`da . W`); `rows` is
/// `[n x k]`, `da` `[n x co]`. Returns its training FLOPs (the patch gradient only when
/// `input_grad`).
fn layer(name: &str, n: usize, co: usize, k: usize, input_grad: bool) -> f64 {
    let rows = vec![0.02f32; n * k];
    let w = vec![0.01f32; co * k];
    let da = vec![0.03f32; n * co];
    let mut out = vec![0.0f32; n * co];
    let mut dw = vec![0.0f32; k * co];
    let mut drows = vec![0.0f32; n * k];
    let f = 2.0 * (n * co * k) as f64;
    type Product = fn(
        usize,
        usize,
        usize,
        &mut [f32],
        usize,
        bool,
        &[f32],
        (usize, usize),
        &[f32],
        (usize, usize),
    );
    let mut products: Vec<(&str, Product)> = vec![("", mm)];
    if bf16_available() {
        products.push((" bf16", mm_bf16));
    }
    let mut f32_time = [0.0; 3];
    for (tag, mm) in products {
        let t = [
            time(
                &format!("{name} forward {n}x{k} . {k}x{co}{tag}"),
                f,
                || mm(n, co, k, &mut out, co, false, &rows, (k, 1), &w, (1, k)),
            ),
            time(&format!("{name} weight gradient{tag}"), f, || {
                mm(k, co, n, &mut dw, co, true, &rows, (1, k), &da, (co, 1))
            }),
            if input_grad {
                time(&format!("{name} patch gradient{tag}"), f, || {
                    mm(n, k, co, &mut drows, k, false, &da, (co, 1), &w, (k, 1))
                })
            } else {
                0.0
            },
        ];
        if tag.is_empty() {
            f32_time = t;
        } else {
            println!(
                "{name} bf16 speed-up: {:.2}x",
                f32_time.iter().sum::<f64>() / t.iter().sum::<f64>()
            );
        }
    }
    f * if input_grad { 3.0 } else { 2.0 }
}

fn main() {
    let group = 8;
    let s = 512;
    let (a, b) = (vec![0.01f32; s * s], vec![0.02f32; s * s]);
    let mut d = vec![0.0f32; s * s];
    let ceiling = 2.0 * (s * s * s) as f64
        / time("ceiling: 512 x 512 x 512", 2.0 * (s * s * s) as f64, || {
            mm(s, s, s, &mut d, s, false, &a, (s, 1), &b, (s, 1))
        });
    if bf16_available() {
        // bf16's own ceiling: what the packing and tiles of mm_bf16 reach on a large product.
        time(
            "ceiling: 512 x 512 x 512 bf16",
            2.0 * (s * s * s) as f64,
            || mm_bf16(s, s, s, &mut d, s, false, &a, (s, 1), &b, (s, 1)),
        );
    }
    // conv1 has no input gradient (its input is the image).
    let mut flops = layer("conv1", group * 900, 32, 27, false);
    flops += layer("conv2", group * 169, 64, 288, true);
    flops += layer("conv3", group * 16, 64, 576, true);
    // The dense layers (forward, weight and input gradients), on the batch.
    let per_image = flops / group as f64 + 2.0 * 3.0 * (1024.0 * 64.0 + 64.0 * 10.0);
    println!(
        "training FLOPs per image: {:.1} M; at the ceiling on one core: {:.0} images/s",
        per_image / 1e6,
        ceiling / per_image
    );
}
