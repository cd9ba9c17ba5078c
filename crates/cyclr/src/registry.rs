//! The policy registry: one table (in [`crate::policy`]) from which [`Policy`], the names,
//! the unknown-policy message, [`ScheduleConfig`], [`Schedule`], their conversions and the
//! dispatch are all generated. Adding a policy is one file in `policy/` (a config with
//! `init`, a schedule implementing [`LrSchedule`] and [`PolicySchedule`]) plus one row of
//! that table.
//!
//! [`Policy`]: crate::Policy
//! [`ScheduleConfig`]: crate::ScheduleConfig
//! [`Schedule`]: crate::Schedule
//! [`LrSchedule`]: crate::LrSchedule

use serde::de::{self, Deserialize, Deserializer, Visitor};

use crate::schedule::LrSchedule;

/// How far a schedule reaches: where it ends, if it does, and how many steps show its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Horizon {
    /// The step at which the schedule is over, for those that end (1cycle's `total_steps`, a
    /// sequence whose last schedule ends); `None` for schedules that go on.
    pub end: Option<u64>,
    /// Steps that show the whole shape (three cycles of a cyclical policy, a 1cycle run, a
    /// ramp and a little of what follows): what a plot or a printout shows by default.
    pub span: u64,
}

impl Horizon {
    /// A schedule that goes on; `span` steps show its shape.
    pub fn open(span: u64) -> Self {
        Self { end: None, span }
    }

    /// A schedule that is over at step `end`, which is also what shows it.
    pub fn ends_at(end: u64) -> Self {
        Self {
            end: Some(end),
            span: end,
        }
    }
}

/// What each policy's schedule tells the registry: the config it was built from and its
/// [`Horizon`]. Implemented in each policy's own file.
pub trait PolicySchedule: LrSchedule {
    /// The plain, serializable parameters (`...Config`) it was built from.
    type Config;
    /// The parameters it was built from.
    fn config(&self) -> &Self::Config;
    /// Where it ends and how many steps show its shape.
    fn horizon(&self) -> Horizon;
    /// The lowest and highest learning rate it can give, at any step.
    fn lr_range(&self) -> (f64, f64);
}

/// The field names a config type accepts, read from its own `Deserialize` impl (serde hands
/// them to `deserialize_struct`), so that a front-end can tell which of its options apply to
/// a policy without a list of its own.
pub(crate) fn field_names<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    struct Names;
    #[derive(Debug)]
    struct Found(&'static [&'static str]);
    impl std::fmt::Display for Found {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("field names")
        }
    }
    impl std::error::Error for Found {}
    impl de::Error for Found {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Found(&[])
        }
    }
    impl<'de> Deserializer<'de> for Names {
        type Error = Found;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Found> {
            Err(Found(&[]))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Found> {
            Err(Found(fields))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    match T::deserialize(Names) {
        Err(Found(fields)) => fields,
        Ok(_) => &[],
    }
}

/// Generates the policy types from the table in [`crate::policy`]. Each row:
///
/// ```text
/// /// doc
/// Variant = "name" (aliases) : ConfigType => ScheduleType, init: fn(Config) -> Result<Schedule>, example: Config expr;
/// ```
macro_rules! policies {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident = $name:literal ($($alias:literal),*) : $config:ty => $schedule:ty,
            init: $init:expr, example: $example:expr;
    )*) => {
        /// The names of the policies, as written on the command line and in config files.
        /// Generated from the policy table in [`crate::policy`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum Policy {
            $( $(#[doc = $doc])* #[serde(rename = $name)] $variant, )*
        }

        impl Policy {
            /// Every policy, in the order of the table.
            pub const ALL: [Policy; [$($name),*].len()] = [$(Policy::$variant),*];

            /// The name in config files and on the command line, e.g. `exp_range`.
            pub fn name(self) -> &'static str {
                match self { $(Policy::$variant => $name,)* }
            }

            /// The parameters its config accepts, by their config names (e.g. `base_lr`).
            pub fn parameters(self) -> &'static [&'static str] {
                match self {
                    $(Policy::$variant => $crate::registry::field_names::<$config>(),)*
                }
            }

            /// A valid config of this policy with typical values, for examples and for tests
            /// that must cover every policy.
            pub fn example(self) -> ScheduleConfig {
                match self { $(Policy::$variant => ScheduleConfig::$variant($example),)* }
            }
        }

        /// A schedule's parameters as plain data: what a config file holds. The `policy` key
        /// selects the variant, e.g. in TOML
        ///
        /// ```toml
        /// policy = "triangular2"
        /// base_lr = 0.001
        /// max_lr = 0.006
        /// step_size_up = 2000
        /// ```
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(tag = "policy")]
        pub enum ScheduleConfig {
            $( $(#[doc = $doc])* #[serde(rename = $name $(, alias = $alias)*)] $variant($config), )*
        }

        impl ScheduleConfig {
            /// The policy this config selects.
            pub fn policy(&self) -> Policy {
                match self { $(ScheduleConfig::$variant(_) => Policy::$variant,)* }
            }

            /// Validates and builds the schedule.
            pub fn init(self) -> Result<Schedule, $crate::ScheduleError> {
                Schedule::try_from(self)
            }

            /// The config of `policy`, read straight by its config type's `Deserialize`
            /// (no `policy` key, no buffering as the tagged enum does), so a deserializer
            /// sees each field's expected type.
            pub(crate) fn deserialize_policy<'de, D: serde::Deserializer<'de>>(
                policy: Policy,
                d: D,
            ) -> Result<ScheduleConfig, D::Error> {
                Ok(match policy {
                    $(Policy::$variant => ScheduleConfig::$variant(
                        <$config as serde::Deserialize>::deserialize(d)?,
                    ),)*
                })
            }
        }

        /// A validated schedule of any policy. It serializes as its [`ScheduleConfig`], and
        /// deserializing validates, so a `Schedule` read from a file is always usable.
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "ScheduleConfig", into = "ScheduleConfig")]
        pub enum Schedule {
            $( $(#[doc = $doc])* $variant($schedule), )*
        }

        impl TryFrom<ScheduleConfig> for Schedule {
            type Error = $crate::ScheduleError;

            fn try_from(c: ScheduleConfig) -> Result<Self, $crate::ScheduleError> {
                Ok(match c {
                    $(ScheduleConfig::$variant(c) => {
                        let init: fn($config) -> Result<$schedule, $crate::ScheduleError> = $init;
                        Schedule::$variant(init(c)?)
                    })*
                })
            }
        }

        impl From<Schedule> for ScheduleConfig {
            fn from(s: Schedule) -> Self {
                s.config()
            }
        }

        impl Schedule {
            /// The policy of this schedule.
            pub fn policy(&self) -> Policy {
                match self { $(Schedule::$variant(_) => Policy::$variant,)* }
            }

            /// The plain parameters this schedule was built from.
            pub fn config(&self) -> ScheduleConfig {
                match self {
                    $(Schedule::$variant(s) => ScheduleConfig::$variant(
                        $crate::registry::PolicySchedule::config(s).clone(),
                    ),)*
                }
            }

            /// Where the schedule ends, if it does, and how many steps show its shape.
            pub fn horizon(&self) -> $crate::registry::Horizon {
                use $crate::registry::PolicySchedule as _;
                match self { $(Schedule::$variant(s) => s.horizon(),)* }
            }

            /// The lowest and highest learning rate it can give, at any step.
            pub fn lr_range(&self) -> (f64, f64) {
                use $crate::registry::PolicySchedule as _;
                match self { $(Schedule::$variant(s) => s.lr_range(),)* }
            }

            pub(crate) fn inner(&self) -> &dyn $crate::LrSchedule {
                match self { $(Schedule::$variant(s) => s,)* }
            }
        }
    };
}

pub(crate) use policies;
