//! The numbers behind the verdict: per-policy mean and spread across seeds, and the
//! sentences that say what they mean.

use super::RunResult;

pub(super) fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

/// The runs of one policy across seeds.
pub(super) struct PolicyStats {
    pub(super) policy: String,
    pub(super) finals: Vec<f64>,
    pub(super) bests: Vec<f64>,
    pub(super) iterations: u64,
    pub(super) to_baseline: Vec<Option<u64>>,
}

pub(super) fn by_policy(runs: &[RunResult]) -> Vec<PolicyStats> {
    let mut out: Vec<PolicyStats> = Vec::new();
    for r in runs {
        let i = match out.iter().position(|e| e.policy == r.policy) {
            Some(i) => i,
            None => {
                out.push(PolicyStats {
                    policy: r.policy.clone(),
                    finals: vec![],
                    bests: vec![],
                    iterations: r.iterations,
                    to_baseline: vec![],
                });
                out.len() - 1
            }
        };
        let e = &mut out[i];
        if let (Some(f), Some(b)) = (r.final_test_accuracy, r.best_test_accuracy) {
            e.finals.push(f);
            e.bests.push(b);
        }
        e.iterations = e.iterations.max(r.iterations);
        e.to_baseline.push(r.iterations_to_baseline);
    }
    out
}

/// Plain sentences: was CLR faster, was it better, beyond seed noise?
pub(super) fn conclusion(runs: &[RunResult]) -> Vec<String> {
    let groups = by_policy(runs);
    let Some(base) = groups.iter().find(|g| g.policy.starts_with("fixed")) else {
        return vec!["no baseline run to compare with".into()];
    };
    let (bm, bs) = mean_std(&base.finals);
    let k = base.finals.len();
    let mut lines = Vec::new();
    for g in groups.iter().filter(|g| !g.policy.starts_with("fixed")) {
        if g.finals.is_empty() {
            lines.push(format!("{} did not finish (see its run folder)", g.policy));
            continue;
        }
        let (m, s) = mean_std(&g.finals);
        let reached: Vec<u64> = g.to_baseline.iter().flatten().copied().collect();
        let faster = if reached.len() == g.to_baseline.len() && !reached.is_empty() {
            let it = reached.iter().sum::<u64>() / reached.len() as u64;
            format!(
                "reached the baseline's final accuracy in {it} iterations, {:.0}% of the baseline's {} (faster)",
                100.0 * it as f64 / base.iterations.max(1) as f64,
                base.iterations
            )
        } else if reached.is_empty() {
            format!(
                "did not reach the baseline's final accuracy within its {} iterations",
                g.iterations
            )
        } else {
            format!(
                "reached the baseline's final accuracy in {} of {} seeds",
                reached.len(),
                g.to_baseline.len()
            )
        };
        let diff = (m - bm) * 100.0;
        let verdict = if diff > 0.0 { "better" } else { "worse" };
        let noise = if k > 1 && g.finals.len() > 1 {
            let se = (bs.powi(2) / k as f64 + s.powi(2) / g.finals.len() as f64).sqrt() * 100.0;
            if diff.abs() > 2.0 * se {
                format!(
                    "; the gap exceeds the seed noise (2 standard errors = {:.2} points)",
                    2.0 * se
                )
            } else {
                format!(
                    "; the gap is within the seed noise (2 standard errors = {:.2} points)",
                    2.0 * se
                )
            }
        } else {
            "; one seed, so seed noise is unknown (use --seeds 3 to measure it)".into()
        };
        lines.push(format!(
            "{} in {} iterations {faster}, and ended {:.2} points {verdict} than the baseline ({:.2}% vs {:.2}%){noise}.",
            g.policy, g.iterations, diff.abs(), m * 100.0, bm * 100.0
        ));
    }
    lines
}

pub(super) fn fmt_acc(v: &[f64]) -> String {
    match v.len() {
        0 => "-".into(),
        1 => format!("{:.2}%", v[0] * 100.0),
        _ => {
            let (m, s) = mean_std(v);
            format!("{:.2} ± {:.2}%", m * 100.0, s * 100.0)
        }
    }
}
