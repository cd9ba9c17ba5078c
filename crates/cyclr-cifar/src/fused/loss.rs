//! Softmax cross-entropy over the logits, with its gradient.

use super::layout::OUT;

/// Mean cross-entropy of `logits [b x 10]`, correct predictions, and (when asked) the
/// gradient of the mean loss with respect to the logits.
pub(super) fn softmax_xent(
    logits: &[f32],
    labels: &[i64],
    mut dlogits: Option<&mut [f32]>,
) -> (f64, usize) {
    let b = labels.len();
    let (mut loss, mut correct) = (0.0f64, 0usize);
    for (i, row) in logits.chunks_exact(OUT).enumerate() {
        let y = labels[i] as usize;
        let (mut best, mut max) = (0usize, f32::NEG_INFINITY);
        for (k, &v) in row.iter().enumerate() {
            if v > max {
                max = v;
                best = k;
            }
        }
        correct += usize::from(best == y);
        let sum: f32 = row.iter().map(|&v| (v - max).exp()).sum();
        let lse = max + sum.ln();
        loss += (lse - row[y]) as f64;
        if let Some(d) = dlogits.as_deref_mut() {
            for (k, &v) in row.iter().enumerate() {
                let prob = (v - lse).exp();
                d[i * OUT + k] = (prob - f32::from(k == y)) / b as f32;
            }
        }
    }
    (loss / b as f64, correct)
}
