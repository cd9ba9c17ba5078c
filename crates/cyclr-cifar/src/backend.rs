//! Which burn backend runs a model, and its device.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

/// Which burn backend runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// burn's Flex CPU backend (the default; no GPU, no system library).
    #[default]
    Flex,
    /// NVIDIA GPUs through burn's CUDA backend (cargo feature `cuda`).
    Cuda,
    /// Any GPU through burn's wgpu backend (cargo feature `wgpu`).
    Wgpu,
}

impl Backend {
    /// The backend's name as the CLI spells it (`flex`, `cuda` or `wgpu`).
    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::Cuda => "cuda",
            Backend::Wgpu => "wgpu",
        }
    }

    /// The autodiff device, or why this build cannot provide it.
    pub fn device(self) -> Result<Device, String> {
        match self {
            Backend::Flex => Ok(Device::flex().autodiff()),
            #[cfg(feature = "cuda")]
            Backend::Cuda => Ok(Device::cuda(0).autodiff()),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => Ok(Device::wgpu(burn::tensor::DeviceKind::default()).autodiff()),
            #[allow(unreachable_patterns)]
            other => Err(format!(
                "this build of cyclr has no {} backend: rebuild with `cargo build --release --features {}`",
                other.name(),
                other.name()
            )),
        }
    }
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "flex" | "cpu" => Ok(Backend::Flex),
            "cuda" => Ok(Backend::Cuda),
            "wgpu" => Ok(Backend::Wgpu),
            _ => Err(format!("unknown device '{s}': expected flex, cuda or wgpu")),
        }
    }
}
