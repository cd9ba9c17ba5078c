//! One file per policy. Each has a `...Config` (plain, serializable parameters with
//! PyTorch's names) whose `init()` validates and builds the schedule.

pub mod cyclic;
pub mod decay;
pub mod exp;
pub mod fixed;
pub mod join;
pub mod linear;
pub mod one_cycle;
pub mod sequence;
pub mod sgdr;
pub mod step_decay;

/// `value` if finite, else the bound it overflowed past. The policies keep PyTorch's
/// float operations, so values agree to the last digit; with rates near `f64::MAX` those
/// operations can round one ulp past the top, which is infinity.
pub(crate) fn finite_within(value: f64, a: f64, b: f64) -> f64 {
    if value.is_finite() {
        value
    } else {
        value.clamp(a.min(b), a.max(b))
    }
}
