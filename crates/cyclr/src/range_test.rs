//! The LR range test, framework-free: the ramp, the recording with smoothing and early
//! stop, and the rules that turn a curve into learning rates.
//!
//! Smith's method (arXiv 1506.01186, section 3.3): raise the learning rate linearly over a
//! few epochs, plot accuracy against it, and take the base where accuracy starts to rise and
//! the maximum where it slows, turns ragged or falls. The loss-based rules of
//! torch-lr-finder and fastai are given beside it, each reproducing its library exactly.

use serde::{Deserialize, Serialize};

/// How the learning rate rises from `min_lr` to `max_lr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ramp {
    /// Straight line: the paper's ramp.
    Linear,
    /// Geometric: fastai's and torch-lr-finder's, spanning decades evenly.
    Exponential,
}

/// The parameters of a range test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RangeTestConfig {
    /// The learning rate of the first iteration, 0 or more (above 0 for an exponential ramp).
    pub min_lr: f64,
    /// The learning rate of the last iteration, above `min_lr`.
    pub max_lr: f64,
    /// Number of iterations of the ramp (the half cycle); the last one runs at `max_lr`.
    pub iterations: u64,
    /// How the rate rises from `min_lr` to `max_lr`.
    pub ramp: Ramp,
    /// EMA factor of the smoothing (fastai: 0.98), with bias correction.
    pub smoothing: f64,
    /// Stop when the smoothed loss exceeds this multiple of its best (fastai: 4).
    pub diverge_factor: f64,
}

impl RangeTestConfig {
    /// A ramp from `min_lr` to `max_lr` over `iterations`, with fastai's smoothing (0.98)
    /// and divergence factor (4).
    pub fn new(min_lr: f64, max_lr: f64, iterations: u64, ramp: Ramp) -> Self {
        Self {
            min_lr,
            max_lr,
            iterations,
            ramp,
            smoothing: 0.98,
            diverge_factor: 4.0,
        }
    }

    /// Checks the parameters; the message says what to change.
    pub fn validate(&self) -> Result<(), String> {
        let f = |name: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(format!(
                    "--{name} is {v}, but it must be a finite number >= 0"
                ))
            }
        };
        f("min-lr", self.min_lr)?;
        f("max-lr", self.max_lr)?;
        if self.max_lr <= self.min_lr {
            return Err(format!(
                "--max-lr ({}) must be above --min-lr ({}): the range test raises the rate from one to the other",
                self.max_lr, self.min_lr
            ));
        }
        if self.ramp == Ramp::Exponential && self.min_lr <= 0.0 {
            return Err(
                "an exponential ramp cannot start at 0: give --min-lr above 0 (e.g. 1e-7)".into(),
            );
        }
        if self.ramp == Ramp::Exponential && !(self.max_lr / self.min_lr).is_finite() {
            return Err(format!(
                "an exponential ramp from --min-lr {} to --max-lr {} spans more than a float can \
                 hold: give a larger --min-lr (e.g. 1e-7)",
                self.min_lr, self.max_lr
            ));
        }
        if self.iterations < 2 {
            return Err(format!(
                "the ramp has {} iteration(s): give at least 2 (100 or more for a curve worth reading)",
                self.iterations
            ));
        }
        if !(self.smoothing.is_finite() && (0.0..1.0).contains(&self.smoothing)) {
            return Err(format!(
                "smoothing is {}, but it must be in [0, 1)",
                self.smoothing
            ));
        }
        if !(self.diverge_factor.is_finite() && self.diverge_factor > 1.0) {
            return Err(format!(
                "diverge factor is {}, but it must be above 1",
                self.diverge_factor
            ));
        }
        Ok(())
    }

    /// The learning rate of iteration `i`: `min_lr` at 0, `max_lr` at `iterations - 1`
    /// (torch-lr-finder's ramp).
    pub fn lr(&self, i: u64) -> f64 {
        let t = if self.iterations < 2 {
            1.0
        } else {
            i.min(self.iterations - 1) as f64 / (self.iterations - 1) as f64
        };
        match self.ramp {
            Ramp::Linear => self.min_lr + (self.max_lr - self.min_lr) * t,
            Ramp::Exponential => self.min_lr * (self.max_lr / self.min_lr).powf(t),
        }
    }
}

/// The ramp as a schedule: a range test can be driven by anything that takes an
/// [`LrSchedule`](crate::LrSchedule), burn's `Learner` included. The exponential ramp is
/// `min_lr * q^step` with `q > 1`, which no decaying policy can express.
impl crate::schedule::LrSchedule for RangeTestConfig {
    fn lr(&self, step: u64) -> f64 {
        RangeTestConfig::lr(self, step)
    }
}

/// An exponential moving average with bias correction (fastai's `smooth_loss`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ema {
    beta: f64,
    avg: f64,
    count: i32,
}

impl Ema {
    /// An empty average; `beta` is the weight of the past, in [0, 1) (fastai: 0.98).
    pub fn new(beta: f64) -> Self {
        Self {
            beta,
            avg: 0.0,
            count: 0,
        }
    }

    /// Adds `x` and returns the bias-corrected average so far.
    pub fn update(&mut self, x: f64) -> f64 {
        self.count = self.count.saturating_add(1);
        self.avg = self.beta * self.avg + (1.0 - self.beta) * x;
        self.avg / (1.0 - self.beta.powi(self.count))
    }
}

/// One iteration of the range test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RangePoint {
    /// The iteration, 0-based.
    pub iteration: u64,
    /// The learning rate it ran at.
    pub lr: f64,
    /// Training loss of the batch.
    pub loss: f64,
    /// Training accuracy of the batch, when the model reports one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    /// The loss smoothed by a bias-corrected moving average.
    pub smoothed_loss: f64,
    /// The training accuracy smoothed the same way, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smoothed_accuracy: Option<f64>,
    /// Held-out accuracy, on the iterations where it was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_accuracy: Option<f64>,
    /// Held-out loss, on the iterations where it was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_loss: Option<f64>,
}

/// A measurement on held-out data during a range test: accuracy, loss or both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct HeldOut {
    /// Accuracy in [0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    /// Mean loss.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
}

impl HeldOut {
    /// An accuracy only.
    pub fn accuracy(accuracy: f64) -> Self {
        Self {
            accuracy: Some(accuracy),
            loss: None,
        }
    }

    /// A loss only.
    pub fn loss(loss: f64) -> Self {
        Self {
            accuracy: None,
            loss: Some(loss),
        }
    }
}

/// Why the test ended before the end of the ramp.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum EarlyStop {
    /// The smoothed loss passed `diverge_factor` times its best.
    Diverged {
        /// The iteration at which it stopped, 0-based.
        iteration: u64,
        /// The learning rate of that iteration.
        lr: f64,
        /// The smoothed loss there.
        smoothed_loss: f64,
        /// The lowest smoothed loss before it.
        best: f64,
    },
    /// The loss was NaN or infinite.
    NotFinite {
        /// The iteration at which it stopped, 0-based.
        iteration: u64,
        /// The learning rate of that iteration.
        lr: f64,
    },
    /// Stopped by the user.
    Interrupted {
        /// The iteration at which it stopped, 0-based.
        iteration: u64,
    },
    /// The batches ran out before the end of the ramp.
    OutOfData {
        /// The iteration at which it stopped, 0-based.
        iteration: u64,
    },
}

impl EarlyStop {
    /// Why the test stopped, in a sentence for a report.
    pub fn describe(&self) -> String {
        match self {
            EarlyStop::Diverged {
                iteration,
                lr,
                smoothed_loss,
                best,
            } => format!(
                "stopped early at iteration {iteration} (lr {lr:.3e}): the smoothed loss {smoothed_loss:.3} passed {:.1}x its best {best:.3}",
                smoothed_loss / best
            ),
            EarlyStop::NotFinite { iteration, lr } => {
                format!(
                    "stopped early at iteration {iteration} (lr {lr:.3e}): the loss was not a finite number"
                )
            }
            EarlyStop::Interrupted { iteration } => format!("interrupted at iteration {iteration}"),
            EarlyStop::OutOfData { iteration } => format!(
                "the batches ran out at iteration {iteration}, before the end of the ramp: pass \
                 an iterator that cycles over epochs, or shorten the ramp"
            ),
        }
    }

    /// The learning rate at which training broke down, if it did.
    pub fn divergence_lr(&self) -> Option<f64> {
        match *self {
            EarlyStop::Diverged { lr, .. } | EarlyStop::NotFinite { lr, .. } => Some(lr),
            EarlyStop::Interrupted { .. } | EarlyStop::OutOfData { .. } => None,
        }
    }
}

/// Records the points of a range test as they come, smoothing and watching for divergence.
#[derive(Debug, Clone)]
pub struct Recorder {
    /// The range test's parameters.
    pub config: RangeTestConfig,
    /// The points recorded so far, one per iteration.
    pub points: Vec<RangePoint>,
    loss_ema: Ema,
    acc_ema: Ema,
    best: f64,
    /// Why the test stopped early, once it has.
    pub stop: Option<EarlyStop>,
}

impl Recorder {
    /// An empty recording of a range test with `config`.
    pub fn new(config: RangeTestConfig) -> Self {
        Self {
            loss_ema: Ema::new(config.smoothing),
            acc_ema: Ema::new(config.smoothing),
            config,
            points: Vec::new(),
            best: f64::INFINITY,
            stop: None,
        }
    }

    /// Adds the result of iteration `points.len()` (its training accuracy when the model
    /// reports one); returns false when the test must stop.
    pub fn record(&mut self, lr: f64, loss: f64, accuracy: Option<f64>) -> bool {
        let iteration = self.points.len() as u64;
        if !loss.is_finite() {
            self.stop = Some(EarlyStop::NotFinite { iteration, lr });
            return false;
        }
        let smoothed_loss = self.loss_ema.update(loss);
        let smoothed_accuracy = accuracy.map(|a| self.acc_ema.update(a));
        self.points.push(RangePoint {
            iteration,
            lr,
            loss,
            accuracy,
            smoothed_loss,
            smoothed_accuracy,
            test_accuracy: None,
            test_loss: None,
        });
        self.best = self.best.min(smoothed_loss);
        if smoothed_loss > self.config.diverge_factor * self.best {
            self.stop = Some(EarlyStop::Diverged {
                iteration,
                lr,
                smoothed_loss,
                best: self.best,
            });
            return false;
        }
        true
    }

    /// Attaches a held-out accuracy to the latest point.
    pub fn record_test_accuracy(&mut self, accuracy: f64) {
        self.record_held_out(HeldOut::accuracy(accuracy));
    }

    /// Attaches a held-out measurement to the latest point.
    pub fn record_held_out(&mut self, held_out: HeldOut) {
        if let Some(p) = self.points.last_mut() {
            p.test_accuracy = held_out.accuracy.or(p.test_accuracy);
            p.test_loss = held_out.loss.or(p.test_loss);
        }
    }

    /// Whether the test is over: stopped early, or every iteration of the ramp recorded.
    pub fn is_done(&self) -> bool {
        self.stop.is_some() || self.points.len() as u64 >= self.config.iterations
    }
}

// ---- the rules ---------------------------------------------------------------------------

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

fn argmin(v: &[f64]) -> Option<usize> {
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
pub fn accuracy_rule(accuracy: &[f64]) -> Result<(usize, usize), String> {
    let n = accuracy.len();
    if n < 10 {
        return Err(format!("only {n} accuracy points"));
    }
    let peak = (0..n)
        .filter(|&i| accuracy[i].is_finite())
        .max_by(|&a, &b| accuracy[a].total_cmp(&accuracy[b]))
        .ok_or("no finite accuracy")?;
    // The climb starts at the lowest point before the peak: early noise of a short average
    // can sit above it.
    let trough = (0..=peak)
        .min_by(|&a, &b| accuracy[a].total_cmp(&accuracy[b]))
        .unwrap_or(0);
    let rise = accuracy[peak] - accuracy[trough];
    if rise < 0.02 {
        return Err(format!(
            "accuracy rose by only {:.1} points over the whole ramp",
            rise * 100.0
        ));
    }
    let level = |f: f64| accuracy[trough] + f * rise;
    let base = (trough..=peak)
        .find(|&i| accuracy[i] >= level(0.1))
        .unwrap_or(trough);
    let max = (base..=peak)
        .find(|&i| accuracy[i] >= level(0.9))
        .unwrap_or(peak);
    Ok((base, max))
}

/// One rule's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    /// Short name: `accuracy_base`, `accuracy_max`, `steepest_descent`, `valley`,
    /// `minimum_over_10`, `steep`, `slide`.
    pub rule: String,
    /// How it is computed, in a sentence.
    pub description: String,
    /// The suggested learning rate.
    pub lr: f64,
    /// The point it was read at (for plotting), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iteration: Option<u64>,
}

/// The pair to train with, and how much to trust it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// The base learning rate to train with.
    pub base_lr: f64,
    /// The max learning rate to train with, above `base_lr`.
    pub max_lr: f64,
    /// Which rule the pair comes from.
    pub source: String,
    /// How well the other rules agree with it.
    pub agreement: String,
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
    /// What could not be read from the curve, or should be checked, in sentences.
    pub warnings: Vec<String>,
}

/// The curve the paper's rule reads, as (index into `points`, value) pairs, and its name.
fn paper_curve(points: &[RangePoint]) -> (Option<Vec<(usize, f64)>>, &'static str) {
    if !points.is_empty() && points.iter().all(|p| p.smoothed_accuracy.is_some()) {
        let c = points
            .iter()
            .enumerate()
            .filter_map(|(i, p)| Some((i, p.smoothed_accuracy?)))
            .collect();
        return (Some(c), "smoothed accuracy");
    }
    let held: Vec<(usize, f64)> = points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| Some((i, p.test_accuracy.filter(|a| a.is_finite())?)))
        .collect();
    if !held.is_empty() {
        return (Some(held), "held-out accuracy");
    }
    let loss: Vec<(usize, f64)> = points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| Some((i, -p.test_loss.filter(|l| l.is_finite())?)))
        .collect();
    if !loss.is_empty() {
        return (Some(loss), "held-out loss (negated)");
    }
    (None, "accuracy")
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
/// // The base learning rate sits where accuracy starts to rise.
/// assert!(r.base_lr > 0.002 && r.base_lr < 0.004);
/// ```
pub fn analyze(points: &[RangePoint], stop: Option<&EarlyStop>) -> Analysis {
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
        warnings.push(format!(
            "{} points with a non-finite or negative value were left out",
            points.len() - finite.len()
        ));
    }
    let points = &finite[..];
    let mut suggestions = Vec::new();
    let n = points.len();
    let lrs: Vec<f64> = points.iter().map(|p| p.lr).collect();
    let losses: Vec<f64> = points.iter().map(|p| p.smoothed_loss).collect();
    let iteration = |i: usize| Some(points[i].iteration);
    let push =
        |s: &mut Vec<Suggestion>, rule: &str, description: &str, lr: f64, it: Option<u64>| {
            s.push(Suggestion {
                rule: rule.into(),
                description: description.into(),
                lr,
                iteration: it,
            });
        };

    if n < 20 {
        warnings.push(format!(
            "the curve has only {n} points: too short to judge. Run the range test for more \
             iterations (100 or more), or lower --max-lr if it diverged at once"
        ));
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
        warnings.push(
            "the smoothed loss hardly changes over the ramp: too flat to judge. Widen the \
             range (--min-lr / --max-lr) or run more iterations"
                .into(),
        );
    }
    if too_noisy {
        warnings.push(format!(
            "the loss is too noisy to judge: it falls by {drop:.3} while batches scatter by \
             {residual:.3}. Use more iterations or a larger batch"
        ));
    }

    let skip_start = (n / 10).min(10);
    if let Some(i) = steepest_descent(&losses, skip_start, 5.min(n / 10)) {
        push(
            &mut suggestions,
            "steepest_descent",
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
                "valley",
                "fastai valley: half-way down the longest descent of the loss",
                l[i],
                iteration(lo + i),
            );
        }
        if let Some((i, lr)) = minimum_over_ten(l, s) {
            push(
                &mut suggestions,
                "minimum_over_10",
                "fastai minimum: a tenth of the rate at the lowest loss",
                lr,
                iteration(lo + i),
            );
        }
        if let Some(i) = steep(l, s) {
            push(
                &mut suggestions,
                "steep",
                "fastai steep: where the loss falls fastest against log(lr)",
                l[i],
                iteration(lo + i),
            );
        }
    }

    // The paper's rule reads accuracy: the training accuracy when every batch reported one,
    // else the held-out accuracy, else the held-out loss (its fall read as a climb).
    let (curve, what) = paper_curve(points);
    let acc_rule = match &curve {
        Some(c) => accuracy_rule(&c.iter().map(|&(_, v)| v).collect::<Vec<_>>())
            .map(|(b, m)| (c[b].0, c[m].0)),
        None => Err("no accuracy was recorded (and no held-out accuracy or loss)".to_string()),
    };
    match &acc_rule {
        Ok((b, m)) => {
            push(
                &mut suggestions,
                "accuracy_base",
                &format!("paper: where the {what} starts to rise (10% of its climb)"),
                lrs[*b],
                iteration(*b),
            );
            push(
                &mut suggestions,
                "accuracy_max",
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
                warnings.push(
                    "accuracy was still rising at the end of the ramp: the true maximum may be \
                     higher; rerun with a larger --max-lr"
                        .into(),
                );
            }
        }
        Err(why) => warnings.push(format!(
            "the paper's accuracy rule cannot be applied: {why}"
        )),
    }

    if too_flat || too_noisy {
        return Analysis {
            suggestions,
            recommendation: None,
            warnings,
        };
    }

    // The learning rate at which the loss bottomed out: never recommend past it.
    let min_loss_idx = argmin(&losses).unwrap_or(n - 1);
    let min_loss_lr = lrs[min_loss_idx];
    let diverged_at = stop.and_then(|s| s.divergence_lr());
    let (mut base, mut max, source) = match acc_rule {
        Ok((b, m)) => (lrs[b], lrs[m], "the paper's accuracy rule"),
        Err(_) => {
            let max = min_loss_lr / 2.0;
            (
                max / 4.0,
                max,
                "the loss (half the rate at the lowest loss, base a quarter of it)",
            )
        }
    };
    let mut notes = Vec::new();
    let limit = diverged_at.map_or(min_loss_lr, |d| d.min(min_loss_lr.max(base)));
    if max > limit && limit > base {
        notes.push(format!(
            "max lowered to {limit:.3e}, where the loss stopped improving"
        ));
        max = limit;
    }
    if base <= 0.0 || base >= max {
        base = max / 4.0;
        notes.push("base set to a quarter of max (Smith: a third to a quarter)".into());
    }
    let loss_rules: Vec<&Suggestion> = suggestions
        .iter()
        .filter(|s| matches!(s.rule.as_str(), "steepest_descent" | "valley" | "steep"))
        .collect();
    let inside = loss_rules
        .iter()
        .filter(|s| s.lr >= base * 0.999 && s.lr <= max * 1.001)
        .count();
    let agreement = if loss_rules.is_empty() {
        "no loss-based rule could be applied to compare".to_string()
    } else {
        let verdict = match (inside, loss_rules.len()) {
            (i, t) if i == t => "the rules agree",
            (0, _) => "the rules disagree: look at the plot before trusting the pair",
            _ => "the rules partly agree",
        };
        let list: Vec<String> = loss_rules
            .iter()
            .map(|s| format!("{} {:.2e}", s.rule, s.lr))
            .collect();
        format!(
            "{inside} of {} loss-based suggestions ({}) fall inside [{base:.2e}, {max:.2e}]: {verdict}",
            loss_rules.len(),
            list.join(", ")
        )
    };
    let agreement = if notes.is_empty() {
        agreement
    } else {
        format!("{agreement}; {}", notes.join("; "))
    };
    if !(base.is_finite() && max.is_finite() && base > 0.0 && max > base) {
        warnings.push(format!(
            "the curve gives no usable pair (base {base:.3e}, max {max:.3e}): look at the plot, \
             or rerun over a wider range"
        ));
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
        }),
        warnings,
    }
}
