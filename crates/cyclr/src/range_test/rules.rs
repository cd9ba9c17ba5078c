//! The rules that read a recorded curve: the paper's accuracy rule and the loss rules of
//! torch-lr-finder and fastai, each reproducing its library.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A rule that suggests a learning rate. Serialized by its short name (`valley`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The paper: where accuracy starts to rise (10% of its climb).
    AccuracyBase,
    /// The paper: where the accuracy's rise slows (90% of its climb).
    AccuracyMax,
    /// torch-lr-finder: where the smoothed loss falls fastest per iteration.
    SteepestDescent,
    /// fastai valley: half-way down the longest descent of the loss.
    Valley,
    /// fastai minimum: a tenth of the rate at the lowest loss.
    #[serde(rename = "minimum_over_10")]
    MinimumOver10,
    /// fastai steep: where the loss falls fastest against log(lr).
    Steep,
    /// fastai slide: the interval slide rule.
    Slide,
}

impl Rule {
    /// The short name, as in `range_test.json` and the CSV.
    pub fn name(self) -> &'static str {
        match self {
            Rule::AccuracyBase => "accuracy_base",
            Rule::AccuracyMax => "accuracy_max",
            Rule::SteepestDescent => "steepest_descent",
            Rule::Valley => "valley",
            Rule::MinimumOver10 => "minimum_over_10",
            Rule::Steep => "steep",
            Rule::Slide => "slide",
        }
    }

    /// Whether the rule reads the loss (the others read accuracy).
    pub fn reads_loss(self) -> bool {
        !matches!(self, Rule::AccuracyBase | Rule::AccuracyMax)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl PartialEq<&str> for Rule {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

/// Why the paper's accuracy rule cannot read a curve.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum AccuracyRuleError {
    /// Too few points to read.
    #[error("only {points} accuracy points")]
    TooFewPoints {
        /// The points there were.
        points: usize,
    },
    /// Every accuracy was NaN or infinite.
    #[error("no finite accuracy")]
    NoFiniteAccuracy,
    /// Accuracy hardly rose.
    #[error("accuracy rose by only {:.1} points over the whole ramp", .rise * 100.0)]
    TooLittleRise {
        /// The rise, as a fraction.
        rise: f64,
    },
    /// Neither training nor held-out accuracy (nor held-out loss) was recorded.
    #[error("no accuracy was recorded (and no held-out accuracy or loss)")]
    NothingRecorded,
}

/// `numpy.gradient` with unit spacing: central differences inside, one-sided at the ends.
pub fn np_gradient(y: &[f64]) -> Vec<f64> {
    let n = y.len();
    match n {
        0 => vec![],
        1 => vec![0.0],
        _ => (0..n)
            .map(|i| {
                if i == 0 {
                    y[1] - y[0]
                } else if i == n - 1 {
                    y[n - 1] - y[n - 2]
                } else {
                    (y[i + 1] - y[i - 1]) / 2.0
                }
            })
            .collect(),
    }
}

pub(crate) fn argmin(v: &[f64]) -> Option<usize> {
    // First minimum, as numpy's and torch's argmin; NaN never wins.
    v.iter()
        .enumerate()
        .filter(|(_, x)| !x.is_nan())
        .fold(None, |best: Option<(usize, f64)>, (i, &x)| match best {
            Some((_, b)) if b <= x => best,
            _ => Some((i, x)),
        })
        .map(|(i, _)| i)
}

/// torch-lr-finder's suggestion: the point where the smoothed loss falls fastest (its
/// gradient against the point index is lowest), ignoring `skip_start` points at the start
/// and `skip_end` at the end. Returns an index into the full arrays.
pub fn steepest_descent(losses: &[f64], skip_start: usize, skip_end: usize) -> Option<usize> {
    if losses.len() < skip_start + skip_end + 2 {
        return None;
    }
    let window = &losses[skip_start..losses.len() - skip_end];
    argmin(&np_gradient(window)).map(|i| i + skip_start)
}

/// fastai's `valley`: the longest decreasing subsequence of the loss, and a point about
/// half-way down it (`start + (end-start)//3 + (end-start)//6`). Index into the arrays.
pub fn valley(losses: &[f64]) -> Option<usize> {
    let n = losses.len();
    if n < 2 {
        return None;
    }
    // Signed like the Python original, where `max_end - lds[max_end]` can be -1.
    let (mut max_start, mut max_end) = (0isize, 0usize);
    let mut lds = vec![1usize; n];
    for i in 1..n {
        for j in 0..i {
            if losses[i] < losses[j] && lds[i] < lds[j] + 1 {
                lds[i] = lds[j] + 1;
            }
            if lds[max_end] < lds[i] {
                max_end = i;
                max_start = max_end as isize - lds[max_end] as isize;
            }
        }
    }
    let sections = (max_end as isize - max_start) as f64 / 3.0;
    let idx = max_start + sections as isize + (sections / 2.0) as isize;
    // A negative index counts from the end, as in Python.
    Some(if idx < 0 {
        (n as isize + idx).max(0) as usize
    } else {
        (idx as usize).min(n - 1)
    })
}

/// fastai's `slide` (interval slide rule): walk left from the end until the loss gradient at
/// two points `lr_diff` apart differs by at most `thresh`; returns that learning rate.
pub fn slide(lrs: &[f64], losses: &[f64], lr_diff: usize, thresh: f64) -> Option<f64> {
    let n = losses.len();
    if n <= lr_diff || lrs.len() != n {
        return None;
    }
    let grad = np_gradient(losses);
    // Negative indices as in the Python original: -1 is the last point.
    let at = |k: isize| (n as isize + k) as usize;
    let mut r = -1isize;
    let mut l = r - lr_diff as isize;
    let mut local_min_lr = lrs[at(l)];
    while l >= -(n as isize) && (grad[at(r)] - grad[at(l)]).abs() > thresh {
        local_min_lr = lrs[at(l)];
        r -= 1;
        l -= 1;
    }
    Some(local_min_lr)
}

/// fastai's `minimum`: one tenth of the learning rate at the lowest loss. Returns (index of
/// the lowest loss, suggested rate).
pub fn minimum_over_ten(lrs: &[f64], losses: &[f64]) -> Option<(usize, f64)> {
    let i = argmin(losses)?;
    Some((i, lrs[i] / 10.0))
}

/// fastai's `steep`: where the loss falls fastest against ln(lr), the left point of the
/// segment. Index into the arrays.
pub fn steep(lrs: &[f64], losses: &[f64]) -> Option<usize> {
    if lrs.len() < 2 || lrs.iter().any(|&l| l <= 0.0) {
        return None;
    }
    let grads: Vec<f64> = (0..lrs.len() - 1)
        .map(|i| (losses[i + 1] - losses[i]) / (lrs[i + 1].ln() - lrs[i].ln()))
        .collect();
    argmin(&grads)
}

/// The paper's accuracy rule on the smoothed accuracy: from the low point before the peak,
/// base where accuracy has done 10% of its climb, max where it has done 90% (beyond that it
/// slows), never past its peak. Returns indices, or why the curve cannot be read.
pub fn accuracy_rule(accuracy: &[f64]) -> Result<(usize, usize), AccuracyRuleError> {
    let base = climb_point(accuracy, 0.1)?;
    let max = climb_point(accuracy, 0.9)?.max(base);
    Ok((base, max))
}

/// The first point where the accuracy has done `fraction` of its climb from the low point
/// before its peak to the peak (never past the peak).
pub fn climb_point(accuracy: &[f64], fraction: f64) -> Result<usize, AccuracyRuleError> {
    let n = accuracy.len();
    if n < 10 {
        return Err(AccuracyRuleError::TooFewPoints { points: n });
    }
    let peak = (0..n)
        .filter(|&i| accuracy[i].is_finite())
        .max_by(|&a, &b| accuracy[a].total_cmp(&accuracy[b]))
        .ok_or(AccuracyRuleError::NoFiniteAccuracy)?;
    // The climb starts at the lowest point before the peak: early noise of a short average
    // can sit above it.
    let trough = (0..=peak)
        .min_by(|&a, &b| accuracy[a].total_cmp(&accuracy[b]))
        .unwrap_or(0);
    let rise = accuracy[peak] - accuracy[trough];
    if rise < 0.02 {
        return Err(AccuracyRuleError::TooLittleRise { rise });
    }
    let level = accuracy[trough] + fraction * rise;
    Ok((trough..=peak)
        .find(|&i| accuracy[i] >= level)
        .unwrap_or(peak))
}
