//! Building a [`ScheduleConfig`] from a policy and named parameters, as a command line or a
//! Python call gives them, through each config's own `Deserialize`: a parameter the policy
//! does not take is refused by the config's `deny_unknown_fields`, a missing one by serde's
//! own check, and both come back typed ([`ParameterError`]), so a front-end can name them
//! in its own words (a flag, a keyword) without a list of the policies' parameters.

use std::fmt;

use serde::de::value::MapDeserializer;
use serde::de::{self, IntoDeserializer, Visitor};

use crate::error::ScheduleError;
use crate::schedule::{Policy, Schedule, ScheduleConfig};

/// One parameter's value: what a flag or a keyword argument carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Parameter {
    /// A real number (a rate, a factor, a fraction).
    Float(f64),
    /// A count of steps or a factor on them.
    Int(u64),
    /// A switch (1cycle's `three_phase`).
    Bool(bool),
    /// A name (`scale_mode = "cycle"`, `anneal_strategy = "linear"`).
    Text(String),
}

/// Why named parameters do not make a valid schedule.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParameterError {
    /// The policy needs a parameter that was not given.
    #[error("{policy} needs {parameter}")]
    Missing {
        /// The policy.
        policy: Policy,
        /// The parameter, by its config name.
        parameter: &'static str,
    },
    /// A parameter was given that the policy does not take.
    #[error("{parameter} does not apply to the {policy} policy: remove it")]
    NotApplicable {
        /// The policy.
        policy: Policy,
        /// The parameter, by the name given.
        parameter: String,
    },
    /// A parameter has the wrong kind of value (a name where a number belongs, an unknown
    /// name).
    #[error("{policy}: {message}")]
    Invalid {
        /// The policy.
        policy: Policy,
        /// What serde said, in the config's names.
        message: String,
    },
    /// The parameters parse but are rejected by the policy's validation.
    #[error("{policy}: {source}")]
    Schedule {
        /// The policy.
        policy: Policy,
        /// The policy's own reason.
        #[source]
        source: ScheduleError,
    },
}

/// Serde's error while reading named parameters, keeping the missing or unknown field.
#[derive(Debug)]
enum ReadError {
    Missing(&'static str),
    Unknown(String),
    Other(String),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Missing(p) => write!(f, "missing {p}"),
            ReadError::Unknown(p) => write!(f, "unknown {p}"),
            ReadError::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ReadError {}

impl de::Error for ReadError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ReadError::Other(msg.to_string())
    }
    fn missing_field(field: &'static str) -> Self {
        ReadError::Missing(field)
    }
    fn unknown_field(field: &str, _expected: &'static [&'static str]) -> Self {
        ReadError::Unknown(field.to_string())
    }
}

/// A named [`Parameter`] as serde input; a value of the wrong kind is reported with its
/// name (`step_size_up = 2.5: expected a whole number of 0 or more`).
struct ParameterDeserializer {
    name: String,
    value: Parameter,
}

impl ParameterDeserializer {
    fn named(&self, e: ReadError) -> ReadError {
        match e {
            ReadError::Other(m) => {
                let value = match &self.value {
                    Parameter::Float(v) => crate::error::Num(*v).to_string(),
                    Parameter::Int(v) => v.to_string(),
                    Parameter::Bool(v) => v.to_string(),
                    Parameter::Text(v) => format!("{v:?}"),
                };
                // serde names Rust's types; a user knows what a whole number is.
                let m = m.replace("expected u64", "expected a whole number of 0 or more");
                ReadError::Other(format!("{} = {value}: {m}", self.name))
            }
            e => e,
        }
    }
}

impl<'de> de::Deserializer<'de> for ParameterDeserializer {
    type Error = ReadError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ReadError> {
        let read = match self.value.clone() {
            Parameter::Float(v) => visitor.visit_f64(v),
            Parameter::Int(v) => visitor.visit_u64(v),
            Parameter::Bool(v) => visitor.visit_bool(v),
            Parameter::Text(v) => visitor.visit_string(v),
        };
        read.map_err(|e| self.named(e))
    }

    /// A count given as a float that is a whole number (`2000.0`, as Python computes
    /// `4 * len(x) / batch`) is that count; any other float is refused with its name.
    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ReadError> {
        match self.value {
            Parameter::Float(v) if v >= 0.0 && v.fract() == 0.0 && v < u64::MAX as f64 => {
                visitor.visit_u64(v as u64).map_err(|e| self.named(e))
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ReadError> {
        visitor.visit_some(self)
    }

    /// A name for a unit variant (`anneal_strategy = "linear"`).
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ReadError> {
        match &self.value {
            Parameter::Text(v) => {
                let text: de::value::StringDeserializer<ReadError> = v.clone().into_deserializer();
                visitor.visit_enum(text).map_err(|e| self.named(e))
            }
            _ => self.deserialize_any(visitor),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u128 f32 f64 char str string bytes
        byte_buf unit unit_struct newtype_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

impl<'de> IntoDeserializer<'de, ReadError> for ParameterDeserializer {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl ScheduleConfig {
    /// The config of `policy` from named parameters (config names, e.g. `base_lr`), checked
    /// by the config's own rules: a missing or unknown parameter is a typed error.
    ///
    /// ```
    /// use cyclr::{Parameter, ParameterError, Policy, ScheduleConfig};
    ///
    /// let c = ScheduleConfig::from_parameters(
    ///     Policy::Triangular,
    ///     [("base_lr", Parameter::Float(0.001)), ("max_lr", Parameter::Float(0.006)),
    ///      ("step_size_up", Parameter::Int(100))],
    /// )
    /// .unwrap();
    /// assert_eq!(c.policy(), Policy::Triangular);
    /// let e = ScheduleConfig::from_parameters(Policy::Fixed, [("max_lr", Parameter::Float(0.1))])
    ///     .unwrap_err();
    /// assert!(matches!(e, ParameterError::NotApplicable { .. }));
    /// ```
    pub fn from_parameters<'a>(
        policy: Policy,
        parameters: impl IntoIterator<Item = (&'a str, Parameter)>,
    ) -> Result<ScheduleConfig, ParameterError> {
        let entries = parameters.into_iter().map(|(name, value)| {
            let name_ = name.to_string();
            (name, ParameterDeserializer { name: name_, value })
        });
        let map = MapDeserializer::<_, ReadError>::new(entries);
        ScheduleConfig::deserialize_policy(policy, map).map_err(|e| match e {
            ReadError::Missing(parameter) => ParameterError::Missing { policy, parameter },
            ReadError::Unknown(parameter) => ParameterError::NotApplicable { policy, parameter },
            ReadError::Other(message) => ParameterError::Invalid { policy, message },
        })
    }
}

impl Schedule {
    /// A validated schedule of `policy` from named parameters: [`ScheduleConfig::from_parameters`]
    /// then the policy's validation.
    pub fn from_parameters<'a>(
        policy: Policy,
        parameters: impl IntoIterator<Item = (&'a str, Parameter)>,
    ) -> Result<Schedule, ParameterError> {
        ScheduleConfig::from_parameters(policy, parameters)?
            .init()
            .map_err(|source| ParameterError::Schedule { policy, source })
    }
}

/// The named parameters of a struct of options (a front-end's flags): each field that
/// serializes to a number, switch or name, by its serde name; `None` and skipped fields are
/// left out. Floats keep every value, infinities and NaN included, so the policy's own
/// validation sees what was given.
pub fn parameters_of<T: serde::Serialize>(options: &T) -> Vec<(String, Parameter)> {
    match options.serialize(collect::Collect) {
        Ok(collect::Collected::Fields(fields)) => fields,
        // Only a struct of plain fields has parameters.
        _ => Vec::new(),
    }
}

mod collect {
    //! A serializer that reads a struct's fields as [`Parameter`]s.

    use serde::ser::{self, Impossible, Serialize, SerializeStruct, Serializer};

    use super::Parameter;

    #[derive(Debug)]
    pub struct Unsupported;
    impl std::fmt::Display for Unsupported {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("not a plain parameter")
        }
    }
    impl std::error::Error for Unsupported {}
    impl ser::Error for Unsupported {
        fn custom<T: std::fmt::Display>(_: T) -> Self {
            Unsupported
        }
    }

    /// What a value serialized to: nothing (an absent option), one parameter, or a struct's.
    pub enum Collected {
        Nothing,
        One(Parameter),
        Fields(Vec<(String, Parameter)>),
    }

    /// The serializer of [`parameters_of`](super::parameters_of).
    pub struct Collect;

    /// The fields of a struct, as they come.
    pub struct Fields(Vec<(String, Parameter)>);

    macro_rules! unsupported {
        ($($f:ident($($t:ty),*)),* $(,)?) => {$(
            fn $f(self, $(_: $t),*) -> Result<Collected, Unsupported> { Err(Unsupported) }
        )*};
    }

    type No = Impossible<Collected, Unsupported>;

    impl Serializer for Collect {
        type Ok = Collected;
        type Error = Unsupported;
        type SerializeSeq = No;
        type SerializeTuple = No;
        type SerializeTupleStruct = No;
        type SerializeTupleVariant = No;
        type SerializeMap = No;
        type SerializeStruct = Fields;
        type SerializeStructVariant = No;

        fn serialize_bool(self, v: bool) -> Result<Collected, Unsupported> {
            Ok(Collected::One(Parameter::Bool(v)))
        }
        fn serialize_u64(self, v: u64) -> Result<Collected, Unsupported> {
            Ok(Collected::One(Parameter::Int(v)))
        }
        fn serialize_u32(self, v: u32) -> Result<Collected, Unsupported> {
            self.serialize_u64(v.into())
        }
        fn serialize_f64(self, v: f64) -> Result<Collected, Unsupported> {
            Ok(Collected::One(Parameter::Float(v)))
        }
        fn serialize_f32(self, v: f32) -> Result<Collected, Unsupported> {
            self.serialize_f64(v.into())
        }
        fn serialize_str(self, v: &str) -> Result<Collected, Unsupported> {
            Ok(Collected::One(Parameter::Text(v.to_string())))
        }
        fn serialize_unit_variant(
            self,
            _: &'static str,
            _: u32,
            variant: &'static str,
        ) -> Result<Collected, Unsupported> {
            self.serialize_str(variant)
        }
        fn serialize_none(self) -> Result<Collected, Unsupported> {
            Ok(Collected::Nothing)
        }
        fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<Collected, Unsupported> {
            v.serialize(self)
        }
        fn serialize_newtype_struct<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            v: &T,
        ) -> Result<Collected, Unsupported> {
            v.serialize(self)
        }
        fn serialize_struct(self, _: &'static str, _: usize) -> Result<Fields, Unsupported> {
            Ok(Fields(Vec::new()))
        }
        unsupported!(
            serialize_i8(i8),
            serialize_i16(i16),
            serialize_i32(i32),
            serialize_i64(i64),
            serialize_u8(u8),
            serialize_u16(u16),
            serialize_char(char),
            serialize_bytes(&[u8]),
            serialize_unit(),
            serialize_unit_struct(&'static str),
        );
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &T,
        ) -> Result<Collected, Unsupported> {
            Err(Unsupported)
        }
        fn serialize_seq(self, _: Option<usize>) -> Result<No, Unsupported> {
            Err(Unsupported)
        }
        fn serialize_tuple(self, _: usize) -> Result<No, Unsupported> {
            Err(Unsupported)
        }
        fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<No, Unsupported> {
            Err(Unsupported)
        }
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<No, Unsupported> {
            Err(Unsupported)
        }
        fn serialize_map(self, _: Option<usize>) -> Result<No, Unsupported> {
            Err(Unsupported)
        }
        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<No, Unsupported> {
            Err(Unsupported)
        }
    }

    impl SerializeStruct for Fields {
        type Ok = Collected;
        type Error = Unsupported;
        fn serialize_field<T: Serialize + ?Sized>(
            &mut self,
            key: &'static str,
            value: &T,
        ) -> Result<(), Unsupported> {
            match value.serialize(Collect)? {
                Collected::One(p) => self.0.push((key.to_string(), p)),
                Collected::Nothing => {}
                Collected::Fields(_) => return Err(Unsupported),
            }
            Ok(())
        }
        fn end(self) -> Result<Collected, Unsupported> {
            Ok(Collected::Fields(self.0))
        }
    }
}
