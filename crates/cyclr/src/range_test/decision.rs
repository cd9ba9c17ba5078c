//! The decision: from the rules' suggestions to the pair to train with, how much to trust
//! it, and the stepsize advice.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ramp::AccuracyCurve;
use super::recorder::{EarlyStop, RangePoint};
use super::rules::{
    AccuracyRuleError, Rule, accuracy_rule, argmin, climb_point, minimum_over_ten, steep,
    steepest_descent, valley,
};
use super::smoothing::{window_for, zero_phase};

/// One rule's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    /// The rule.
    pub rule: Rule,
    /// How it is computed, in a sentence.
    pub description: String,
    /// The suggested learning rate.
    pub lr: f64,
    /// The point it was read at (for plotting), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iteration: Option<u64>,
}

/// How far to trust a recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// The loss-based rules put their rate near the recommended max, in a narrow spread,
    /// and the curve gave no warning.
    High,
    /// Some of the rules agree, or the curve warns of something.
    Medium,
    /// The rules disagree, or too few could be read: look at the plot.
    #[default]
    Low,
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Confidence::High => "high",
            Confidence::Medium => "medium",
            Confidence::Low => "low",
        })
    }
}

/// The share of the rate at the lowest loss that the recommended max may reach (unless the
/// accuracy's climb is still under way there). A range test's ramp passes a rate in a few
/// updates; a cyclical run comes back to its max every cycle. On the suite of
/// `bench/range_test_regret.py` (BENCHMARKS.md), the paper's max above this cost up to 17
/// points (CIFAR-10, SGD), and the grid's best max lay at 0.1-1.6 times it (median 0.65)
/// over 7 tasks x 3 seeds. Chosen on that suite, not on a held-out one.
pub const SUSTAINABLE_FRACTION: f64 = 0.25;

/// How far (in decades) a loss-based rule's rate may sit from the recommended max and still
/// count as agreeing with it: a factor of about 3 either way.
pub const AGREEMENT_DECADES: f64 = 0.5;

/// The pair to train with, and how much to trust it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// The base learning rate to train with.
    pub base_lr: f64,
    /// The max learning rate to train with, above `base_lr`.
    pub max_lr: f64,
    /// Which rule the pair comes from.
    pub source: String,
    /// How well the other rules agree with it, in a sentence.
    pub agreement: String,
    /// The band's width, `log10(max_lr / base_lr)`.
    #[serde(default)]
    pub width_decades: f64,
    /// How far apart the loss-based rules' rates are, `log10(highest / lowest)`, when two or
    /// more could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread_decades: Option<f64>,
    /// How many loss-based rules fall within [`AGREEMENT_DECADES`] of `max_lr`, of how many.
    #[serde(default)]
    pub agreeing: (usize, usize),
    /// How far to trust the pair.
    #[serde(default)]
    pub confidence: Confidence,
    /// Why that confidence, in a sentence.
    #[serde(default)]
    pub confidence_reason: String,
}

/// The stepsize advice of the paper: 2 to 10 epochs of iterations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepsizeAdvice {
    /// Iterations in one epoch (at least 1).
    pub iterations_per_epoch: u64,
    /// The stepsize to use: 5 epochs of iterations.
    pub suggested: u64,
    /// The shortest stepsize advised: 2 epochs of iterations.
    pub min: u64,
    /// The longest stepsize advised: 10 epochs of iterations.
    pub max: u64,
    /// The advice in a sentence.
    pub note: String,
}

/// The paper's stepsize advice for `iterations_per_epoch` (0 is taken as 1).
pub fn stepsize_advice(iterations_per_epoch: u64) -> StepsizeAdvice {
    let e = iterations_per_epoch.max(1);
    StepsizeAdvice {
        iterations_per_epoch: e,
        suggested: 5 * e,
        min: 2 * e,
        max: 10 * e,
        note: format!(
            "the paper advises a stepsize of 2-10 epochs ({}-{} iterations at {e} per epoch); \
             5 epochs ({}) is a good middle, and longer is only slightly better",
            2 * e,
            10 * e,
            5 * e
        ),
    }
}

/// Everything the analysis concluded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// Each rule's answer, for the rules that could be applied.
    pub suggestions: Vec<Suggestion>,
    /// The pair to train with; `None` when the curve cannot be trusted (see `warnings`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommendation: Option<Recommendation>,
    /// What could not be read from the curve, or should be checked.
    pub warnings: Vec<Warning>,
}

impl Analysis {
    /// The warnings in one line, separated by `; ` (empty when there are none).
    pub fn warnings_line(&self) -> String {
        self.warnings
            .iter()
            .map(Warning::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The points (index, value) of the series `value` picks, when every point or, for held-out
/// figures, at least `min` points have one.
fn series(
    points: &[RangePoint],
    value: impl Fn(&RangePoint) -> Option<f64>,
    min: usize,
) -> Option<Vec<(usize, f64)>> {
    let s: Vec<(usize, f64)> = points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| Some((i, value(p).filter(|v| v.is_finite())?)))
        .collect();
    (s.len() >= min.max(1)).then_some(s)
}

/// The curve the paper's rule reads, as (index into `points`, value) pairs smoothed without
/// lag ([`zero_phase`]), and its name. Held-out figures are sparse (one every few updates),
/// so 8 of them are enough; the training accuracy must be on every point.
fn paper_curve(
    points: &[RangePoint],
    choice: AccuracyCurve,
) -> (Option<Vec<(usize, f64)>>, &'static str) {
    const HELD_MIN: usize = 8;
    // Every point must have one: `series` with a minimum of all of them.
    let training = || series(points, |p| p.accuracy, points.len());
    let held = || series(points, |p| p.test_accuracy, HELD_MIN);
    let held_loss = || series(points, |p| p.test_loss.map(|l| -l), HELD_MIN);
    let (raw, what) = match choice {
        AccuracyCurve::Auto => match (held(), training(), held_loss()) {
            (Some(h), _, _) => (Some(h), "held-out accuracy"),
            (None, Some(t), _) => (Some(t), "training accuracy"),
            (None, None, Some(l)) => (Some(l), "held-out loss (negated)"),
            (None, None, None) => (None, "accuracy"),
        },
        AccuracyCurve::Training => (training(), "training accuracy"),
        AccuracyCurve::HeldOut => match held() {
            Some(h) => (Some(h), "held-out accuracy"),
            None => (held_loss(), "held-out loss (negated)"),
        },
    };
    let smoothed = raw.map(|c| {
        let values: Vec<f64> = c.iter().map(|&(_, v)| v).collect();
        let smooth = zero_phase(&values, window_for(values.len()));
        c.iter().map(|&(i, _)| i).zip(smooth).collect()
    });
    (smoothed, what)
}

/// Reads a recorded curve. Rules that cannot be applied are left out with a warning; a
/// curve too short, too flat or too noisy gets no recommendation.
///
/// ```
/// use cyclr::range_test::{Ramp, RangeTestConfig, Recorder, analyze};
///
/// // A synthetic range test: accuracy climbs from 0.1 to 0.6 around lr 0.003, and the
/// // loss falls with it.
/// let mut rec = Recorder::new(RangeTestConfig::new(0.0, 0.02, 300, Ramp::Linear));
/// for i in 0..300 {
///     let lr = rec.config.lr(i);
///     let rise = 1.0 / (1.0 + (-(lr - 0.003) / 0.0005).exp());
///     if !rec.record(lr, 2.3 - 1.2 * rise, Some(0.1 + 0.5 * rise)) {
///         break;
///     }
/// }
/// let analysis = analyze(&rec.points, rec.stop.as_ref());
/// let r = analysis.recommendation.expect("a smooth curve gives a pair");
/// assert!(0.0 < r.base_lr && r.base_lr < r.max_lr && r.max_lr <= 0.02);
/// // The base learning rate sits where accuracy starts to rise: 10% of its climb is at
/// // 0.003 - 0.0005 * ln 9 = 0.0019 (the smoothing widens the rise a little).
/// assert!(r.base_lr > 0.0014 && r.base_lr < 0.0024, "{}", r.base_lr);
/// ```
pub fn analyze(points: &[RangePoint], stop: Option<&EarlyStop>) -> Analysis {
    analyze_reading(points, stop, AccuracyCurve::Auto)
}

/// [`analyze`], with the paper's rule reading the curve `curve` picks.
pub fn analyze_reading(
    points: &[RangePoint],
    stop: Option<&EarlyStop>,
    curve: AccuracyCurve,
) -> Analysis {
    let mut warnings = Vec::new();
    let finite: Vec<RangePoint> = points
        .iter()
        .filter(|p| {
            p.lr.is_finite()
                && p.lr >= 0.0
                && p.loss.is_finite()
                && p.smoothed_loss.is_finite()
                && p.smoothed_accuracy.is_none_or(f64::is_finite)
        })
        .cloned()
        .collect();
    if finite.len() < points.len() {
        warnings.push(Warning::LeftOut {
            count: points.len() - finite.len(),
        });
    }
    let points = &finite[..];
    let mut suggestions = Vec::new();
    let n = points.len();
    let lrs: Vec<f64> = points.iter().map(|p| p.lr).collect();
    let losses: Vec<f64> = points.iter().map(|p| p.smoothed_loss).collect();
    let iteration = |i: usize| Some(points[i].iteration);
    let push =
        |s: &mut Vec<Suggestion>, rule: Rule, description: &str, lr: f64, it: Option<u64>| {
            s.push(Suggestion {
                rule,
                description: description.into(),
                lr,
                iteration: it,
            });
        };

    if n < 20 {
        warnings.push(Warning::TooShort { points: n });
        return Analysis {
            suggestions,
            recommendation: None,
            warnings,
        };
    }

    // Noise: the raw loss around its smoothed curve, against how far the smoothed curve
    // falls. Measured up to where the loss bottoms out: past it the scatter is the
    // instability the test is looking for, not noise.
    let bottom = argmin(&losses)
        .unwrap_or(n - 1)
        .max(n / 10)
        .max(9)
        .min(n - 1);
    let residual = (points[..=bottom]
        .iter()
        .map(|p| (p.loss - p.smoothed_loss).powi(2))
        .sum::<f64>()
        / (bottom + 1) as f64)
        .sqrt();
    let drop = losses[0] - losses.iter().copied().fold(f64::INFINITY, f64::min);
    let loss_span = losses.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        - losses.iter().copied().fold(f64::INFINITY, f64::min);
    let too_flat = loss_span < 0.01 * losses[0].abs().max(1e-12);
    let too_noisy = !too_flat && drop < residual;
    if too_flat {
        warnings.push(Warning::TooFlat);
    }
    if too_noisy {
        warnings.push(Warning::TooNoisy { drop, residual });
    }

    let skip_start = (n / 10).min(10);
    if let Some(i) = steepest_descent(&losses, skip_start, 5.min(n / 10)) {
        push(
            &mut suggestions,
            Rule::SteepestDescent,
            "torch-lr-finder: where the smoothed loss falls fastest per iteration",
            lrs[i],
            iteration(i),
        );
    }
    // fastai reads its rules on the points [num_it/10 : -5].
    let (lo, hi) = (n / 10, n.saturating_sub(5));
    if hi > lo + 2 {
        let (l, s) = (&lrs[lo..hi], &losses[lo..hi]);
        if let Some(i) = valley(s) {
            push(
                &mut suggestions,
                Rule::Valley,
                "fastai valley: half-way down the longest descent of the loss",
                l[i],
                iteration(lo + i),
            );
        }
        if let Some((i, lr)) = minimum_over_ten(l, s) {
            push(
                &mut suggestions,
                Rule::MinimumOver10,
                "fastai minimum: a tenth of the rate at the lowest loss",
                lr,
                iteration(lo + i),
            );
        }
        if let Some(i) = steep(l, s) {
            push(
                &mut suggestions,
                Rule::Steep,
                "fastai steep: where the loss falls fastest against log(lr)",
                l[i],
                iteration(lo + i),
            );
        }
    }

    // The paper's rule reads accuracy (see `AccuracyCurve`), smoothed without lag.
    let (curve, what) = paper_curve(points, curve);
    let acc_rule = match &curve {
        Some(c) => accuracy_rule(&c.iter().map(|&(_, v)| v).collect::<Vec<_>>())
            .map(|(b, m)| (c[b].0, c[m].0)),
        None => Err(AccuracyRuleError::NothingRecorded),
    };
    match &acc_rule {
        Ok((b, m)) => {
            push(
                &mut suggestions,
                Rule::AccuracyBase,
                &format!("paper: where the {what} starts to rise (10% of its climb)"),
                lrs[*b],
                iteration(*b),
            );
            push(
                &mut suggestions,
                Rule::AccuracyMax,
                &format!(
                    "paper: where the {what} rise slows (90% of its climb), before it peaks or falls"
                ),
                lrs[*m],
                iteration(*m),
            );
            let last = curve
                .as_ref()
                .and_then(|c| c.last())
                .map_or(n - 1, |&(i, _)| i);
            if *m >= last && stop.is_none() {
                warnings.push(Warning::StillRising);
            }
        }
        Err(why) => warnings.push(Warning::AccuracyRule(why.clone())),
    }

    if too_flat || too_noisy {
        return Analysis {
            suggestions,
            recommendation: None,
            warnings,
        };
    }

    // The learning rate at which the loss bottomed out, and what training can sustain: a
    // ramp passes through a rate in a few updates, faster than training at it goes wrong,
    // while a cyclical run keeps coming back to its max.
    let min_loss_idx = argmin(&losses).unwrap_or(n - 1);
    let min_loss_lr = lrs[min_loss_idx];
    let sustainable = min_loss_lr * SUSTAINABLE_FRACTION;
    let diverged_at = stop.and_then(|s| s.divergence_lr());
    let (mut base, mut max, source) = match acc_rule {
        Ok((b, m)) => (lrs[b], lrs[m], "the paper's accuracy rule"),
        Err(_) => (
            sustainable / 4.0,
            sustainable,
            "the loss (a quarter of the rate at the lowest loss, base a quarter of that)",
        ),
    };
    let mut notes = Vec::new();
    // Never below the middle of the accuracy's climb, though: there the rate is still
    // useful, whatever the loss says.
    let midway = curve
        .as_ref()
        .filter(|_| acc_rule.is_ok())
        .and_then(|c| {
            let values: Vec<f64> = c.iter().map(|&(_, v)| v).collect();
            climb_point(&values, 0.5).ok().map(|k| lrs[c[k].0])
        })
        .unwrap_or(0.0);
    let limit = diverged_at
        .map_or(sustainable, |d| d.min(sustainable))
        .max(midway.min(diverged_at.unwrap_or(f64::INFINITY)));
    if max > limit {
        notes.push(format!(
            "max lowered to {limit:.3e} (a quarter of the rate at the lowest loss, \
             {min_loss_lr:.3e}, or the middle of the accuracy's climb if higher): a run that \
             returns to its max every cycle is not stable where a quick ramp still was"
        ));
        max = limit;
    }
    if base <= 0.0 || base >= max {
        base = max / 4.0;
        notes.push("base set to a quarter of max (Smith: a third to a quarter)".into());
    }
    let loss_rules: Vec<&Suggestion> = suggestions
        .iter()
        .filter(|s| matches!(s.rule, Rule::SteepestDescent | Rule::Valley | Rule::Steep))
        .collect();
    // Agreement is judged at the end the loss rules speak to, the max: each must sit
    // within AGREEMENT_DECADES of it. Lying anywhere inside a wide band proves nothing.
    let near = |lr: f64| (lr / max).log10().abs() <= AGREEMENT_DECADES;
    let agreeing = loss_rules.iter().filter(|s| near(s.lr)).count();
    let total = loss_rules.len();
    let width = (max / base).log10();
    let spread = (total >= 2).then(|| {
        let hi = loss_rules.iter().map(|s| s.lr).fold(f64::MIN, f64::max);
        let lo = loss_rules.iter().map(|s| s.lr).fold(f64::MAX, f64::min);
        (hi / lo).log10()
    });
    let list: Vec<String> = loss_rules
        .iter()
        .map(|s| format!("{} {:.2e}", s.rule, s.lr))
        .collect();
    let mut agreement = if total == 0 {
        format!("the band spans {width:.2} decades; no loss-based rule could be applied to compare")
    } else {
        let verdict = match agreeing {
            a if a == total => "the rules agree",
            0 => "the rules disagree: look at the plot before trusting the pair",
            _ => "the rules partly agree",
        };
        format!(
            "{agreeing} of {total} loss-based rates ({}) lie within {AGREEMENT_DECADES} decades \
             of max {max:.2e}: {verdict}; the band spans {width:.2} decades{}",
            list.join(", "),
            spread.map_or(String::new(), |d| format!(", the rules {d:.2}"))
        )
    };
    if !notes.is_empty() {
        agreement = format!("{agreement}; {}", notes.join("; "));
    }
    let warned = warnings
        .iter()
        .any(|w| matches!(w, Warning::StillRising | Warning::LeftOut { .. }));
    let from_loss_only = acc_rule.is_err();
    let (confidence, confidence_reason) = if total < 2 {
        (
            Confidence::Low,
            format!("only {total} loss-based rule could be read to check the pair"),
        )
    } else if agreeing == 0 {
        (
            Confidence::Low,
            "no loss-based rule lies near the recommended max".to_string(),
        )
    } else if agreeing == total && spread.is_some_and(|d| d <= 1.0) && !warned && !from_loss_only {
        (
            Confidence::High,
            format!(
                "every loss-based rule lies within {AGREEMENT_DECADES} decades of the max, \
                 within {:.2} decades of each other, and the {what} gives the band",
                spread.unwrap_or(0.0)
            ),
        )
    } else {
        let why = if agreeing < total {
            format!("{agreeing} of {total} loss-based rules lie near the max")
        } else if from_loss_only {
            "the pair comes from the loss alone (no accuracy curve could be read)".to_string()
        } else if warned {
            "the curve has a warning (see warnings)".to_string()
        } else {
            format!(
                "the loss-based rules spread over {:.2} decades",
                spread.unwrap_or(0.0)
            )
        };
        (Confidence::Medium, why)
    };
    if !(base.is_finite() && max.is_finite() && base > 0.0 && max > base) {
        warnings.push(Warning::NoUsablePair { base, max });
        return Analysis {
            suggestions,
            recommendation: None,
            warnings,
        };
    }
    Analysis {
        suggestions,
        recommendation: Some(Recommendation {
            base_lr: base,
            max_lr: max,
            source: source.into(),
            agreement,
            width_decades: width,
            spread_decades: spread,
            agreeing: (agreeing, total),
            confidence,
            confidence_reason,
        }),
        warnings,
    }
}

/// What could not be read from a curve, or should be checked before trusting it.
/// Settings are named as in [`RangeTestConfig`](super::RangeTestConfig).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Warning {
    /// Points with a non-finite or negative value were left out.
    LeftOut {
        /// How many.
        count: usize,
    },
    /// Too few points to judge.
    TooShort {
        /// The points there were.
        points: usize,
    },
    /// The smoothed loss hardly changes.
    TooFlat,
    /// The batches scatter more than the loss falls.
    TooNoisy {
        /// How far the smoothed loss falls.
        drop: f64,
        /// The root-mean-square scatter of the batches around it.
        residual: f64,
    },
    /// Accuracy was still rising at the end of the ramp.
    StillRising,
    /// The paper's accuracy rule could not be applied.
    AccuracyRule(AccuracyRuleError),
    /// The rules give no usable pair.
    NoUsablePair {
        /// The base they gave.
        base: f64,
        /// The max they gave.
        max: f64,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::LeftOut { count } => write!(
                f,
                "{count} points with a non-finite or negative value were left out"
            ),
            Warning::TooShort { points } => write!(
                f,
                "the curve has only {points} points: too short to judge. Run the range test \
                 for more iterations (100 or more), or lower max_lr if it diverged at once"
            ),
            Warning::TooFlat => f.write_str(
                "the smoothed loss hardly changes over the ramp: too flat to judge. Widen the \
                 range (min_lr / max_lr) or run more iterations",
            ),
            Warning::TooNoisy { drop, residual } => write!(
                f,
                "the loss is too noisy to judge: it falls by {drop:.3} while batches scatter \
                 by {residual:.3}. Use more iterations or a larger batch"
            ),
            Warning::StillRising => f.write_str(
                "accuracy was still rising at the end of the ramp: the true maximum may be \
                 higher; rerun with a larger max_lr",
            ),
            Warning::AccuracyRule(why) => {
                write!(f, "the paper's accuracy rule cannot be applied: {why}")
            }
            Warning::NoUsablePair { base, max } => write!(
                f,
                "the curve gives no usable pair (base {base:.3e}, max {max:.3e}): look at the \
                 plot, or rerun over a wider range"
            ),
        }
    }
}
