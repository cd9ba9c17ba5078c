//! Why an optimizer's settings were rejected.

use cyclr::error::Num;

/// Why an optimizer's parameters were rejected. Parameters are named as in
/// [`OptimizerConfig`](super::OptimizerConfig); a front-end renders its own names with [`describe`](Self::describe).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum OptimizerConfigError {
    /// A momentum or decay rate outside [0, 1).
    NotUnit {
        /// `momentum`, `beta1` or `beta2`.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// Weight decay below 0, NaN or infinite.
    NegativeWeightDecay {
        /// The value given.
        value: f64,
    },
    /// Weight decay above 1.
    WeightDecayTooLarge {
        /// The value given.
        value: f64,
    },
    /// Adam's epsilon is not above 0.
    Epsilon {
        /// The value given.
        value: f64,
    },
}

impl OptimizerConfigError {
    /// The message, with each parameter called what `name` calls it.
    pub fn describe(&self, name: &dyn Fn(&str) -> String) -> String {
        use OptimizerConfigError as E;
        match self {
            E::NotUnit { name: n, value } => {
                format!("{} is {}, but it must be in [0, 1)", name(n), Num(*value))
            }
            E::NegativeWeightDecay { value } => format!(
                "{} is {}, but it must be a finite number >= 0",
                name("weight_decay"),
                Num(*value)
            ),
            E::WeightDecayTooLarge { value } => format!(
                "{} is {}, but it must be at most 1 (typical values: 1e-4 to 1e-2)",
                name("weight_decay"),
                Num(*value)
            ),
            E::Epsilon { value } => {
                format!(
                    "{} is {}, but it must be > 0 (e.g. 1e-7)",
                    name("epsilon"),
                    Num(*value)
                )
            }
        }
    }
}

impl std::fmt::Display for OptimizerConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe(&|n| n.to_string()))
    }
}

impl std::error::Error for OptimizerConfigError {}
