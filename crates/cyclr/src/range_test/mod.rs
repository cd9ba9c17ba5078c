//! The LR range test, framework-free: the ramp, the recording with smoothing and early
//! stop, and the rules that turn a curve into learning rates.
//!
//! Smith's method (arXiv 1506.01186, section 3.3): raise the learning rate linearly over a
//! few epochs, plot accuracy against it, and take the base where accuracy starts to rise and
//! the maximum where it slows, turns ragged or falls. The loss-based rules of
//! torch-lr-finder and fastai are given beside it, each reproducing its library exactly.
//!
//! One module per concern: [`ramp`] (the settings and the rising rate), [`smoothing`],
//! [`recorder`] (points and the early stop), [`rules`] (each rule on its own),
//! [`decision`] (from the rules to the pair to train with) and [`outcome`] (what a finished
//! test hands back, and its files).

pub mod chart;
pub mod decision;
pub mod outcome;
pub mod ramp;
pub mod recorder;
pub mod rules;
pub mod smoothing;

pub use decision::{
    AGREEMENT_DECADES, Analysis, Confidence, Recommendation, SUSTAINABLE_FRACTION, StepsizeAdvice,
    Suggestion, Warning, analyze, analyze_reading, stepsize_advice,
};
pub use outcome::{CSV_COLUMNS, RangeTestOutcome};
pub use ramp::{AccuracyCurve, Ramp, RangeTestConfig, RangeTestConfigError};
pub use recorder::{EarlyStop, HeldOut, RangePoint, Recorder};
pub use rules::{
    AccuracyRuleError, Rule, accuracy_rule, minimum_over_ten, np_gradient, slide, steep,
    steepest_descent, valley,
};
pub use smoothing::{Ema, window_for, zero_phase};
