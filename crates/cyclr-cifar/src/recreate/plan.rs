//! Every setting of a recreation: the profile (sizes), the policies, the bounds.

use cyclr::Policy;
use serde::{Deserialize, Serialize};

use crate::engine::{Backend, EngineKind};

/// The sizes of a recreation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Name of the built-in profile it starts from (`paper`, `quick` or `smoke`).
    pub name: String,
    /// Class-balanced subsets (None: the whole split).
    pub train_limit: Option<usize>,
    /// Class-balanced test subset (None: the whole split).
    pub test_limit: Option<usize>,
    /// Epochs of the fixed-LR baseline (E); CLR runs get `clr_epochs`, E/3 by default.
    pub baseline_epochs: u64,
    /// Epochs of each cyclical run.
    pub clr_epochs: u64,
    /// Length of the range test's ramp, in epochs.
    pub range_test_epochs: f64,
    /// The CLR stepsize in epochs of iterations (the paper: 2-10).
    pub stepsize_epochs: f64,
    /// Images per batch (the paper: 100).
    pub batch_size: usize,
}

impl Profile {
    /// The built-in profile of that name (`paper`, `quick` or `smoke`), or None.
    pub fn named(name: &str) -> Option<Profile> {
        let p =
            |train_limit, test_limit, baseline_epochs: u64, range_test_epochs, stepsize_epochs| {
                Profile {
                    name: name.to_string(),
                    train_limit,
                    test_limit,
                    baseline_epochs,
                    clr_epochs: baseline_epochs / 3,
                    range_test_epochs,
                    stepsize_epochs,
                    batch_size: 100,
                }
            };
        match name {
            // The seed's setting: 150 epochs fixed vs 50 CLR on all of CIFAR-10.
            "paper" => Some(p(None, None, 150, 8.0, 5.0)),
            // Half of CIFAR-10: about 5 minutes on 2 CPU cores with the fused engine.
            "quick" => Some(p(Some(25_000), Some(5_000), 24, 4.0, 2.0)),
            // About a minute, for tests.
            "smoke" => Some(p(Some(2_000), Some(500), 6, 2.0, 0.5)),
            _ => None,
        }
    }
}

/// Which runs to make besides the baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicySet {
    /// triangular (bounds from the range test), triangular2 and exp_range, E/3 epochs each.
    Modes,
    /// The paper's Table 1 on CIFAR-10: fixed, triangular2, decay, exp, exp_range, with its
    /// iteration budgets (70k, 25k, 25k, 70k, 42k) scaled to the baseline's length.
    PaperTable,
    /// A chosen list.
    Custom(Vec<Policy>),
}

/// Every setting of a recreation; stored in `plan.json` so a restart continues the same one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecreatePlan {
    /// The sizes.
    pub profile: Profile,
    /// Which runs to make besides the baseline.
    pub policies: PolicySet,
    /// The baseline's fixed learning rate (the seed: Adam's default 0.001).
    pub baseline_lr: f64,
    /// Bounds for the cyclical runs; from the range test when absent.
    pub base_lr: Option<f64>,
    /// Upper bound for the cyclical runs; from the range test when absent.
    pub max_lr: Option<f64>,
    /// CLR stepsize in iterations; from `stepsize_epochs` when absent.
    pub stepsize: Option<u64>,
    /// exp_range's gamma; by default the amplitude decays to a tenth over the run.
    pub gamma: Option<f64>,
    /// Learning rate the range test starts from.
    pub range_min_lr: f64,
    /// Learning rate the range test ramps up to.
    pub range_max_lr: f64,
    /// Seeds; each policy runs once per seed.
    pub seeds: Vec<u64>,
    /// Evaluate every this many iterations, besides every epoch end.
    pub eval_every: Option<u64>,
    /// The burn backend (device) to train on.
    pub backend: Backend,
    /// Fused CPU kernels or burn's ops.
    #[serde(default)]
    pub engine: EngineKind,
}

impl RecreatePlan {
    /// Defaults for `profile`: the CLR modes, bounds from a range test over 0-0.02, seed 0.
    pub fn new(profile: Profile) -> Self {
        Self {
            profile,
            policies: PolicySet::Modes,
            baseline_lr: 0.001,
            base_lr: None,
            max_lr: None,
            stepsize: None,
            gamma: None,
            range_min_lr: 0.0,
            range_max_lr: 0.02,
            seeds: vec![0],
            eval_every: None,
            backend: Backend::Flex,
            engine: EngineKind::Fused,
        }
    }

    /// Checks the settings; the error names the flag at fault.
    pub fn validate(&self) -> Result<(), String> {
        let p = &self.profile;
        if p.baseline_epochs == 0 || p.clr_epochs == 0 {
            return Err("--baseline-epochs and --clr-epochs must be at least 1".into());
        }
        if p.batch_size == 0 {
            return Err("--batch-size is 0: give at least 1".into());
        }
        if self.seeds.is_empty() {
            return Err("--seeds is 0: give at least 1".into());
        }
        if let Some(g) = self.gamma
            && !(g.is_finite() && g > 0.0 && g <= 1.0)
        {
            return Err(format!("--gamma is {g}, but it must be in (0, 1]"));
        }
        if self.stepsize == Some(0) {
            return Err("--stepsize is 0: give at least 1 iteration".into());
        }
        if self.eval_every == Some(0) {
            return Err("--eval-every is 0: give a number of iterations, or leave it out".into());
        }
        if !(p.stepsize_epochs.is_finite() && p.stepsize_epochs > 0.0) && self.stepsize.is_none() {
            return Err("the stepsize must be positive".into());
        }
        if self.base_lr.is_some() != self.max_lr.is_some() {
            return Err(
                "give both --base-lr and --max-lr, or neither (the range test finds them)".into(),
            );
        }
        if let (Some(b), Some(m)) = (self.base_lr, self.max_lr)
            && !(b.is_finite() && m.is_finite() && b >= 0.0 && m > b)
        {
            return Err(format!(
                "--base-lr {b} and --max-lr {m}: need 0 <= base < max"
            ));
        }
        let plans_exp = match &self.policies {
            PolicySet::PaperTable => true,
            PolicySet::Custom(list) => list.contains(&Policy::Exp),
            PolicySet::Modes => false,
        };
        if plans_exp && self.base_lr == Some(0.0) {
            return Err("--base-lr is 0, but the exp policy decays towards it by a constant factor: give --base-lr above 0".into());
        }
        if !(self.baseline_lr.is_finite() && self.baseline_lr > 0.0) {
            return Err(format!(
                "--baseline-lr is {}: give a positive rate",
                self.baseline_lr
            ));
        }
        if self.needs_range_test() {
            let (lo, hi) = (self.range_min_lr, self.range_max_lr);
            // Checked here, not by RangeTestConfig, so the message names this command's flags.
            if !(lo.is_finite() && hi.is_finite() && lo >= 0.0 && hi > lo) {
                return Err(format!(
                    "--range-min-lr {lo} and --range-max-lr {hi}: need 0 <= min < max"
                ));
            }
            let e = p.range_test_epochs;
            if !(e.is_finite() && e > 0.0) {
                return Err(format!(
                    "--range-epochs is {e}: give a positive number of epochs"
                ));
            }
        }
        self.engine.check(self.backend)?;
        if let PolicySet::Custom(list) = &self.policies {
            if list.is_empty() {
                return Err("--policies is empty".into());
            }
            for (i, p) in list.iter().enumerate() {
                if list[..i].contains(p) {
                    return Err(format!(
                        "--policies names {p} twice: each policy runs once per seed"
                    ));
                }
                if !matches!(
                    p,
                    Policy::Fixed
                        | Policy::Triangular
                        | Policy::Triangular2
                        | Policy::ExpRange
                        | Policy::Decay
                        | Policy::Exp
                ) {
                    return Err(format!(
                        "--policies: {p} is not part of the recreation; choose from fixed, triangular, triangular2, exp_range, decay, exp"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Whether the bounds come from a range test (none were given).
    pub(crate) fn needs_range_test(&self) -> bool {
        self.base_lr.is_none()
    }
}
