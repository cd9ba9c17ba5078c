//! GFLOP/s of each layer's matrix product in each orientation, on one core, through the
//! fused engine's own (bounds-checked) product.
use cyclr_cifar::fused::mm;
use std::time::Instant;

fn time(name: &str, flops: f64, mut f: impl FnMut()) {
    for _ in 0..50 {
        f();
    }
    let t = Instant::now();
    let n = 2000;
    for _ in 0..n {
        f();
    }
    let s = t.elapsed().as_secs_f64() / n as f64;
    println!(
        "{name:<40} {:8.2} us  {:6.1} GFLOP/s",
        s * 1e6,
        flops / s / 1e9
    );
}

fn main() {
    let (co, k, n) = (64usize, 288usize, 195usize);
    let w = vec![0.01f32; co * k];
    let cols = vec![0.02f32; k * n];
    let mut out = vec![0.0f32; co * n];
    let da = vec![0.03f32; co * n];
    let mut dw = vec![0.0f32; co * k];
    let mut dcols = vec![0.0f32; k * n];
    let colst = vec![0.02f32; n * k];
    let f = 2.0 * (co * k * n) as f64;
    time("fwd W.cols", f, || {
        mm(co, n, k, &mut out, n, false, &w, (k, 1), &cols, (n, 1))
    });
    time("dW += dA.cols^T (view)", f, || {
        mm(co, k, n, &mut dw, k, true, &da, (n, 1), &cols, (1, n))
    });
    time("dW += dA.colsT (contiguous)", f, || {
        mm(co, k, n, &mut dw, k, true, &da, (n, 1), &colst, (k, 1))
    });
    time("dcols = W^T(view).dA", f, || {
        mm(k, n, co, &mut dcols, n, false, &w, (1, k), &da, (n, 1))
    });
    let wt = vec![0.01f32; k * co];
    time("dcols = WT(contig).dA", f, || {
        mm(k, n, co, &mut dcols, n, false, &wt, (co, 1), &da, (n, 1))
    });
    // conv3 per image and batched by 50
    let (k3, n3) = (576usize, 24usize);
    let w3 = vec![0.01f32; 64 * k3];
    let c3 = vec![0.02f32; k3 * n3 * 50];
    let mut o3 = vec![0.0f32; 64 * n3 * 50];
    time("conv3 per image", 2.0 * (64 * k3 * n3) as f64, || {
        mm(64, n3, k3, &mut o3, n3, false, &w3, (k3, 1), &c3, (n3, 1))
    });
    time(
        "conv3 x50 batched",
        2.0 * (64 * k3 * n3 * 50) as f64,
        || {
            mm(
                64,
                n3 * 50,
                k3,
                &mut o3,
                n3 * 50,
                false,
                &w3,
                (k3, 1),
                &c3,
                (n3 * 50, 1),
            )
        },
    );
    let (k1, n1) = (27usize, 960usize);
    let w1 = vec![0.01f32; 32 * k1];
    let c1 = vec![0.02f32; k1 * n1];
    let mut o1 = vec![0.0f32; 32 * n1];
    time("conv1 fwd", 2.0 * (32 * k1 * n1) as f64, || {
        mm(32, n1, k1, &mut o1, n1, false, &w1, (k1, 1), &c1, (n1, 1))
    });
    let da1 = vec![0.01f32; 32 * n1];
    let mut dw1 = vec![0.0f32; 32 * k1];
    time("conv1 dW", 2.0 * (32 * k1 * n1) as f64, || {
        mm(32, k1, n1, &mut dw1, k1, true, &da1, (n1, 1), &c1, (1, n1))
    });
    // transposed output orientation: out^T [n x co] = cols^T . W^T
    let mut outt = vec![0.0f32; n * co];
    time("fwd outT = colsT.W^T", f, || {
        mm(n, co, k, &mut outt, co, false, &colst, (k, 1), &w, (1, k))
    });
}
