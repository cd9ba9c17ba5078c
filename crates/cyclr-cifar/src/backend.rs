//! Which burn backend runs a model, and its device.

use crate::error::{AppError, AppResult};
#[cfg(feature = "wgpu")]
use crate::error::{Message, message};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::adapter::Adapter;

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

    /// The autodiff device, or why this build or this machine cannot provide it.
    ///
    /// wgpu is brought up once per process, on the adapter its default selection picks;
    /// [`Backend::adapter`] then names that adapter.
    pub fn device(self) -> AppResult<Device> {
        match self {
            Backend::Flex => Ok(Device::flex().autodiff()),
            #[cfg(feature = "cuda")]
            Backend::Cuda => Ok(Device::cuda(0).autodiff()),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => wgpu_runtime()
                .as_ref()
                .map(|(device, _)| device.clone().autodiff())
                .map_err(|m| AppError::Input(m.clone())),
            #[allow(unreachable_patterns)]
            other => Err(AppError::NoBackend(other.name())),
        }
    }
}

impl Backend {
    /// The GPU adapter this process's device runs on, once [`Backend::device`] has
    /// brought it up; `None` for the CPU backend and for backends that do not report one.
    pub fn adapter(self) -> Option<Adapter> {
        match self {
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => wgpu_runtime().as_ref().ok().map(|(_, a)| a.clone()),
            _ => None,
        }
    }
}

/// wgpu's device and the adapter under it, set up once: burn refuses a second
/// initialization, and the adapter is only known from the setup that chose it.
#[cfg(feature = "wgpu")]
fn wgpu_runtime() -> &'static Result<(Device, Adapter), Message> {
    static RUNTIME: std::sync::OnceLock<Result<(Device, Adapter), Message>> =
        std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        use burn::tensor::wgpu::WgpuInitError;
        match Device::wgpu_options().init_with_setup() {
            Ok((device, setup)) => Ok((device, Adapter::from(&setup.adapter.get_info()))),
            Err(WgpuInitError::AdapterUnavailable { message, .. }) => Err(message!(
                "{device} wgpu: no GPU adapter found ({}). wgpu looks for Vulkan, Metal, DX12 \
                 or OpenGL drivers: install your GPU's Vulkan driver (on Linux, `vulkaninfo` \
                 should list the GPU), or run on the CPU with {device} flex",
                message
            )),
            Err(e) => Err(message!(
                "{device} wgpu: the GPU could not be set up ({}); check the GPU's driver, or \
                 run on the CPU with {device} flex",
                e
            )),
        }
    })
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
