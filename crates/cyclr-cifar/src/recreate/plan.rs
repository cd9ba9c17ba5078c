//! Every setting of a recreation: the profile (sizes), the policies, the bounds.

use cyclr::Policy;
use serde::{Deserialize, Serialize};

use crate::engine::{Backend, EngineKind};
use crate::error::{AppError, AppResult, Message, message};
use crate::settings;

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

/// The policies a recreation can run: the paper's baseline, its three cyclical modes and
/// its two non-cyclical controls.
pub const RECREATED: [Policy; 6] = [
    Policy::Fixed,
    Policy::Triangular,
    Policy::Triangular2,
    Policy::ExpRange,
    Policy::Decay,
    Policy::Exp,
];

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
    /// CPU threads every run trains with (their numbers depend on it), so a continued
    /// recreation cannot mix runs made with different counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
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
            threads: None,
        }
    }

    /// Checks the settings; the error names the setting at fault.
    pub fn validate(&self) -> AppResult<()> {
        let bad = |m: Message| Err(AppError::Input(m));
        let p = &self.profile;
        if p.baseline_epochs == 0 || p.clr_epochs == 0 {
            return bad(message!(
                "{baseline_epochs} and {clr_epochs} must be at least 1"
            ));
        }
        settings::epochs("baseline_epochs", p.baseline_epochs)?;
        settings::epochs("clr_epochs", p.clr_epochs)?;
        settings::batch_size(p.batch_size)?;
        settings::count("seeds", self.seeds.len() as u64)?;
        if let Some(g) = self.gamma
            && !(g.is_finite() && g > 0.0 && g <= 1.0)
        {
            return bad(message!("{gamma} is {}, but it must be in (0, 1]", g));
        }
        if self.stepsize == Some(0) {
            return bad(message!("{stepsize} is 0: give at least 1 iteration"));
        }
        settings::eval_every(self.eval_every)?;
        if !(p.stepsize_epochs.is_finite() && p.stepsize_epochs > 0.0) && self.stepsize.is_none() {
            return bad(message!("the stepsize must be positive"));
        }
        if self.base_lr.is_some() != self.max_lr.is_some() {
            return bad(message!(
                "give both {base_lr} and {max_lr}, or neither (the range test finds them)"
            ));
        }
        if let (Some(b), Some(m)) = (self.base_lr, self.max_lr)
            && !(b.is_finite() && m.is_finite() && b >= 0.0 && m > b)
        {
            return bad(message!(
                "{base_lr} {} and {max_lr} {}: need 0 <= base < max",
                b,
                m
            ));
        }
        let plans_exp = match &self.policies {
            PolicySet::PaperTable => true,
            PolicySet::Custom(list) => list.contains(&Policy::Exp),
            PolicySet::Modes => false,
        };
        if plans_exp && self.base_lr == Some(0.0) {
            return bad(message!(
                "{base_lr} is 0, but the exp policy decays towards it by a constant factor: \
                 give {base_lr} above 0"
            ));
        }
        if !(self.baseline_lr.is_finite() && self.baseline_lr > 0.0) {
            return bad(message!(
                "{baseline_lr} is {}: give a positive rate",
                self.baseline_lr
            ));
        }
        if self.needs_range_test() {
            let (lo, hi) = (self.range_min_lr, self.range_max_lr);
            // Checked here, not by RangeTestConfig, so the message names this plan's settings.
            if !(lo.is_finite() && hi.is_finite() && lo >= 0.0 && hi > lo) {
                return bad(message!(
                    "{range_min_lr} {} and {range_max_lr} {}: need 0 <= min < max",
                    lo,
                    hi
                ));
            }
            let e = p.range_test_epochs;
            if !(e.is_finite() && e > 0.0) {
                return bad(message!(
                    "{range_test_epochs} is {}: give a positive number of epochs",
                    e
                ));
            }
        }
        self.engine.check(self.backend)?;
        if let PolicySet::Custom(list) = &self.policies {
            if list.is_empty() {
                return bad(message!("{policies} is empty"));
            }
            for (i, p) in list.iter().enumerate() {
                if list[..i].contains(p) {
                    return bad(message!(
                        "{policies} names {} twice: each policy runs once per seed",
                        p
                    ));
                }
                if !RECREATED.contains(p) {
                    return bad(message!(
                        "{policies}: {} is not part of the recreation; choose from {}",
                        p,
                        RECREATED.map(Policy::name).join(", ")
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
