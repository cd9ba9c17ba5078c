//! The numbers behind the verdict: per-policy mean and spread across seeds, and the
//! sentences that say what they mean.

use std::fmt::Write as _;

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
                });
                out.len() - 1
            }
        };
        let e = &mut out[i];
        if let (Some(f), Some(b)) = (r.final_test_accuracy, r.best_test_accuracy) {
            e.finals.push(f);
            e.bests.push(b);
        }
    }
    out
}

/// Signed differences in accuracy points, with their spread across seeds.
fn fmt_points(v: &[f64]) -> String {
    let (m, s) = mean_std(v);
    if v.len() > 1 {
        format!("{:+.2} ± {:.2} points", m * 100.0, s * 100.0)
    } else {
        format!("{:+.2} points", m * 100.0)
    }
}

/// Iteration counts: one value, or the mean and the range across seeds; with how many
/// seeds got there at all when some did not.
fn fmt_iters(v: &[Option<u64>]) -> String {
    let got: Vec<u64> = v.iter().flatten().copied().collect();
    if got.is_empty() {
        return "never".into();
    }
    let mean = got.iter().sum::<u64>() / got.len() as u64;
    let mut t = if got.len() == 1 {
        thousands(mean)
    } else {
        let (lo, hi) = (got.iter().min().unwrap(), got.iter().max().unwrap());
        format!(
            "{} (range {}-{})",
            thousands(mean),
            thousands(*lo),
            thousands(*hi)
        )
    };
    if got.len() < v.len() {
        let _ = write!(t, ", in {} of {} seeds", got.len(), v.len());
    }
    t
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Whether a mean paired difference stands out from the seeds' noise (2 standard errors),
/// as ` (beyond the seed noise ...)`; nothing with one seed.
fn noise(diffs: &[f64]) -> String {
    if diffs.len() < 2 {
        return String::new();
    }
    let (m, s) = mean_std(diffs);
    let two_se = 2.0 * s / (diffs.len() as f64).sqrt() * 100.0;
    let beyond = if (m * 100.0).abs() > two_se {
        "beyond"
    } else {
        "within"
    };
    format!(" ({beyond} the seed noise: 2 standard errors = {two_se:.2} points)")
}

/// A finished run with its (final, best) test accuracy.
fn accuracies(r: &RunResult) -> Option<(f64, f64)> {
    Some((r.final_test_accuracy?, r.best_test_accuracy?))
}

/// A finished run beside the finished baseline of its seed, with both runs' accuracies.
struct Pair<'a> {
    run: &'a RunResult,
    base: &'a RunResult,
    acc: (f64, f64),
    base_acc: (f64, f64),
}

/// Plain sentences: where the baseline peaked and what overfitting cost it; then for each
/// policy, final against final *and* best against best, iterations to the baseline's final
/// and best accuracy, and whether the advantage is mostly the baseline overtraining.
/// With several seeds every difference is paired by seed and carries its spread.
pub(super) fn conclusion(runs: &[RunResult]) -> Vec<String> {
    let baselines: Vec<(&RunResult, (f64, f64))> = runs
        .iter()
        .filter(|r| r.baseline)
        .filter_map(|r| Some((r, accuracies(r)?)))
        .collect();
    if baselines.is_empty() {
        return vec!["no finished baseline run to compare with".into()];
    }
    let b_final: Vec<f64> = baselines.iter().map(|(_, a)| a.0).collect();
    let b_best: Vec<f64> = baselines.iter().map(|(_, a)| a.1).collect();
    let lost: Vec<f64> = b_best.iter().zip(&b_final).map(|(b, f)| b - f).collect();
    let (lost_mean, _) = mean_std(&lost);
    let b_iterations = baselines
        .iter()
        .map(|(b, _)| b.iterations)
        .max()
        .unwrap_or(0);
    let peaks: Vec<Option<u64>> = baselines.iter().map(|(b, _)| b.best_at_iteration).collect();
    let firsts: Vec<Option<u64>> = baselines
        .iter()
        .map(|(b, _)| b.iterations_to_baseline)
        .collect();
    let mut lines = vec![if lost_mean * 100.0 >= 0.5 {
        format!(
            "The fixed-LR baseline peaked at {} at iteration {} of its {} and ended at {}: it \
             lost {} by overfitting after its peak. It had first reached its final accuracy at \
             iteration {}.",
            fmt_acc(&b_best),
            fmt_iters(&peaks),
            thousands(b_iterations),
            fmt_acc(&b_final),
            fmt_points(&lost).trim_start_matches('+'),
            fmt_iters(&firsts),
        )
    } else {
        format!(
            "The fixed-LR baseline ended at {} after {} iterations, within half a point of its \
             best ({} at iteration {}): it did not overtrain.",
            fmt_acc(&b_final),
            thousands(b_iterations),
            fmt_acc(&b_best),
            fmt_iters(&peaks),
        )
    }];

    let mut policies: Vec<&str> = Vec::new();
    for r in runs.iter().filter(|r| !r.baseline) {
        if !policies.contains(&r.policy.as_str()) {
            policies.push(&r.policy);
        }
    }
    for policy in policies {
        // Each run with the baseline of its own seed.
        let pairs: Vec<Pair> = runs
            .iter()
            .filter(|r| r.policy == policy)
            .filter_map(|run| {
                let acc = accuracies(run)?;
                let &(base, base_acc) = baselines.iter().find(|(b, _)| b.seed == run.seed)?;
                Some(Pair {
                    run,
                    base,
                    acc,
                    base_acc,
                })
            })
            .collect();
        if pairs.is_empty() {
            lines.push(format!("{policy} did not finish (see its run folder)."));
            continue;
        }
        let finals: Vec<f64> = pairs.iter().map(|p| p.acc.0).collect();
        let bests: Vec<f64> = pairs.iter().map(|p| p.acc.1).collect();
        let d_final: Vec<f64> = pairs.iter().map(|p| p.acc.0 - p.base_acc.0).collect();
        let d_best: Vec<f64> = pairs.iter().map(|p| p.acc.1 - p.base_acc.1).collect();
        let iterations = pairs.iter().map(|p| p.run.iterations).max().unwrap_or(0);
        let to_final: Vec<Option<u64>> =
            pairs.iter().map(|p| p.run.iterations_to_baseline).collect();
        let to_best: Vec<Option<u64>> = pairs
            .iter()
            .map(|p| p.run.iterations_to_baseline_best)
            .collect();
        let b_peaks: Vec<Option<u64>> = pairs.iter().map(|p| p.base.best_at_iteration).collect();
        let b_firsts: Vec<Option<u64>> = pairs
            .iter()
            .map(|p| p.base.iterations_to_baseline)
            .collect();
        let reach = |what: &str, v: &[Option<u64>], baseline: String| {
            if v.iter().all(Option::is_none) {
                format!("never reached the baseline's {what} ({baseline})")
            } else {
                format!(
                    "reached the baseline's {what} at iteration {} ({baseline})",
                    fmt_iters(v)
                )
            }
        };
        let mut line = format!(
            "{policy} ({} iterations, {:.0}% of the baseline's): final {} against the \
             baseline's final, {}{}; best {} against the baseline's best, {}{}. It {}; it {}.",
            thousands(iterations),
            100.0 * iterations as f64 / b_iterations.max(1) as f64,
            fmt_acc(&finals),
            fmt_points(&d_final),
            noise(&d_final),
            fmt_acc(&bests),
            fmt_points(&d_best),
            noise(&d_best),
            reach(
                "final accuracy",
                &to_final,
                format!("the baseline itself first did at {}", fmt_iters(&b_firsts))
            ),
            reach(
                "best",
                &to_best,
                format!("the baseline peaked at {}", fmt_iters(&b_peaks))
            ),
        );
        let (gf, _) = mean_std(&d_final);
        let (gb, _) = mean_std(&d_best);
        if gf > 0.0 && gb <= 0.0 {
            let _ = write!(
                line,
                " Its final advantage comes entirely from the baseline overtraining: best \
                 against best it is {:.2} points behind.",
                -gb * 100.0
            );
        } else if gf > 0.0 && gb < gf / 2.0 {
            let _ = write!(
                line,
                " Most of its final advantage comes from the baseline overtraining: best \
                 against best the gap is {:.2} of those {:.2} points.",
                gb * 100.0,
                gf * 100.0
            );
        } else if gf > 0.0 && gb < 0.9 * gf {
            let _ = write!(
                line,
                " Part of its final advantage comes from the baseline overtraining: best \
                 against best the gap narrows to {:.2} of those {:.2} points.",
                gb * 100.0,
                gf * 100.0
            );
        } else if gf > 0.0 {
            let _ = write!(
                line,
                " The advantage holds best against best ({:+.2} points), so it is not just \
                 the baseline overtraining.",
                gb * 100.0
            );
        }
        lines.push(line);
    }
    if baselines.len() == 1 {
        lines.push(
            "One seed, so the seed noise is unknown: run with 3 seeds or more to measure it."
                .into(),
        );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run_record::RunStatus;
    use cyclr::{FixedConfig, ScheduleConfig};

    fn run(
        policy: &str,
        seed: u64,
        iterations: u64,
        (final_acc, best): (f64, f64),
        (best_at, to_final, to_best): (u64, Option<u64>, Option<u64>),
    ) -> RunResult {
        RunResult {
            name: format!("{policy}-seed{seed}"),
            policy: policy.into(),
            seed,
            baseline: policy.starts_with("fixed"),
            status: RunStatus::Finished,
            iterations,
            final_test_accuracy: Some(final_acc),
            best_test_accuracy: Some(best),
            wall_s: 1.0,
            best_at_iteration: Some(best_at),
            iterations_to_baseline: to_final,
            iterations_to_baseline_best: to_best,
            schedule: ScheduleConfig::Fixed(FixedConfig::new(0.001))
                .init()
                .unwrap(),
            metrics: vec![],
        }
    }

    #[test]
    fn an_overfit_baseline_is_named_and_the_advantage_attributed_to_it() {
        // The paper profile's shape: the baseline peaks early and loses 5 points; CLR
        // ends 2.2 points higher but is only 1.2 points better best against best.
        let runs = [
            run(
                "fixed (baseline)",
                0,
                75_000,
                (0.6644, 0.7166),
                (6_000, Some(2_500), Some(6_000)),
            ),
            run(
                "triangular",
                0,
                25_000,
                (0.6865, 0.7290),
                (5_000, Some(3_000), Some(5_000)),
            ),
            run(
                "triangular2",
                0,
                25_000,
                (0.6844, 0.7216),
                (5_000, Some(3_000), Some(5_000)),
            ),
        ];
        let lines = conclusion(&runs);
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(lines[3].contains("3 seeds or more"), "{}", lines[3]);
        assert!(
            lines[2].contains(
                "Most of its final advantage comes from the baseline overtraining: best against \
                 best the gap is 0.50 of those 2.00 points"
            ),
            "{}",
            lines[2]
        );
        assert!(
            lines[0].contains("peaked at 71.66% at iteration 6,000 of its 75,000"),
            "{}",
            lines[0]
        );
        assert!(
            lines[0].contains("lost 5.22 points by overfitting"),
            "{}",
            lines[0]
        );
        assert!(
            lines[0].contains("first reached its final accuracy at iteration 2,500"),
            "{}",
            lines[0]
        );
        let t = &lines[1];
        for part in [
            "triangular (25,000 iterations, 33% of the baseline's)",
            "final 68.65% against the baseline's final, +2.21 points; best",
            "best 72.90% against the baseline's best, +1.24 points",
            "reached the baseline's final accuracy at iteration 3,000 (the baseline itself first did at 2,500)",
            "reached the baseline's best at iteration 5,000 (the baseline peaked at 6,000)",
            "Part of its final advantage comes from the baseline overtraining: best against \
             best the gap narrows to 1.24 of those 2.21 points",
        ] {
            assert!(t.contains(part), "{part:?} missing from: {t}");
        }
    }

    #[test]
    fn an_advantage_that_holds_best_against_best_is_said_to_hold() {
        let runs = [
            run(
                "fixed (baseline)",
                0,
                300,
                (0.70, 0.701),
                (290, Some(290), Some(290)),
            ),
            run(
                "triangular2",
                0,
                100,
                (0.74, 0.745),
                (100, Some(40), Some(45)),
            ),
        ];
        let lines = conclusion(&runs);
        assert!(lines[0].contains("did not overtrain"), "{}", lines[0]);
        assert!(
            lines[1].contains("The advantage holds best against best (+4.40 points)"),
            "{}",
            lines[1]
        );
        assert!(
            !lines[1].contains("comes from the baseline overtraining"),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn several_seeds_pair_by_seed_and_carry_their_spread() {
        let runs = [
            run(
                "fixed (baseline)",
                0,
                300,
                (0.60, 0.70),
                (100, Some(50), Some(100)),
            ),
            run(
                "fixed (baseline)",
                1,
                300,
                (0.62, 0.70),
                (120, Some(60), Some(120)),
            ),
            run("exp_range", 0, 100, (0.66, 0.69), (100, Some(40), None)),
            run("exp_range", 1, 100, (0.66, 0.69), (100, Some(50), None)),
        ];
        let lines = conclusion(&runs);
        assert!(lines[0].contains("70.00 ± 0.00%"), "{}", lines[0]);
        assert!(
            lines[0].contains("at iteration 110 (range 100-120)"),
            "{}",
            lines[0]
        );
        let t = &lines[1];
        // Paired differences: +6 and +4 points final, -1 and -1 best.
        assert!(
            t.contains(
                "+5.00 ± 1.41 points (beyond the seed noise: 2 standard errors = 2.00 points)"
            ),
            "{t}"
        );
        // Best against best: -1 in both seeds, no spread, so beyond the noise too.
        assert!(t.contains("-1.00 ± 0.00 points (beyond"), "{t}");
        assert_eq!(
            lines.len(),
            2,
            "no one-seed caveat with two seeds: {lines:?}"
        );
        assert!(t.contains("-1.00 ± 0.00 points"), "{t}");
        assert!(
            t.contains("final accuracy at iteration 45 (range 40-50)"),
            "{t}"
        );
        assert!(
            t.contains(
                "never reached the baseline's best (the baseline peaked at 110 (range 100-120))"
            ),
            "{t}"
        );
        assert!(
            t.contains("comes entirely from the baseline overtraining"),
            "{t}"
        );
    }

    #[test]
    fn no_finished_baseline_is_said_plainly() {
        let mut b = run("fixed (baseline)", 0, 10, (0.5, 0.5), (1, None, None));
        b.final_test_accuracy = None;
        assert_eq!(
            conclusion(&[b]),
            vec!["no finished baseline run to compare with".to_string()]
        );
    }
}
