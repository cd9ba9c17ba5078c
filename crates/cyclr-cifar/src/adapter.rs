//! The GPU adapter a run actually used, as its graphics API reported it.
//!
//! wgpu picks an adapter by itself and, on a machine without a GPU driver, settles on a
//! software renderer (Mesa's llvmpipe or lavapipe) that trains about 50 times slower than
//! the CPU engine. Every output names the adapter so nobody mistakes that for their GPU.

use serde::{Deserialize, Serialize};

/// What kind of device an adapter is, in wgpu's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdapterKind {
    /// A GPU of its own (a card, an H100).
    DiscreteGpu,
    /// A GPU on the CPU's die.
    IntegratedGpu,
    /// A GPU shared through a hypervisor.
    VirtualGpu,
    /// Not a GPU: a renderer running on the CPU.
    Cpu,
    /// The driver did not say.
    Other,
}

impl AdapterKind {
    /// The kind in words, e.g. `discrete GPU`.
    pub fn describe(self) -> &'static str {
        match self {
            AdapterKind::DiscreteGpu => "discrete GPU",
            AdapterKind::IntegratedGpu => "integrated GPU",
            AdapterKind::VirtualGpu => "virtual GPU",
            AdapterKind::Cpu => "CPU (software renderer)",
            AdapterKind::Other => "unknown device type",
        }
    }
}

/// One adapter as the graphics API described it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adapter {
    /// The adapter's name, e.g. `NVIDIA H200` or `llvmpipe (LLVM 15.0.7, 256 bits)`.
    pub name: String,
    /// The vendor's name where the ID is a known one, else the ID in hex.
    pub vendor: String,
    /// The driver's name, e.g. `NVIDIA` or `llvmpipe`.
    pub driver: String,
    /// The driver's version and details.
    pub driver_info: String,
    /// The graphics API it runs through: `vulkan`, `metal`, `dx12` or `gl`.
    pub api: String,
    /// What kind of device it is.
    pub kind: AdapterKind,
    /// True when it is no GPU at all but a renderer on the CPU.
    pub software: bool,
}

/// Names of software renderers that some drivers report as a GPU kind other than `Cpu`.
const SOFTWARE_RENDERERS: [&str; 5] = [
    "llvmpipe",
    "lavapipe",
    "softpipe",
    "swiftshader",
    "microsoft basic render",
];

impl Adapter {
    /// An adapter from its reported fields; `software` is worked out from the kind and the
    /// names of the known software renderers.
    pub fn new(
        name: impl Into<String>,
        vendor_id: u32,
        driver: impl Into<String>,
        driver_info: impl Into<String>,
        api: impl Into<String>,
        kind: AdapterKind,
    ) -> Self {
        let name = name.into();
        let driver = driver.into();
        let lower = format!("{name} {driver}").to_lowercase();
        let software =
            kind == AdapterKind::Cpu || SOFTWARE_RENDERERS.iter().any(|s| lower.contains(s));
        Self {
            name,
            vendor: vendor_name(vendor_id),
            driver,
            driver_info: driver_info.into(),
            api: api.into(),
            kind,
            software,
        }
    }

    /// One line, e.g. `NVIDIA H200 (NVIDIA, discrete GPU, vulkan, driver NVIDIA 550.54)`.
    pub fn describe(&self) -> String {
        let mut driver = self.driver.clone();
        if !self.driver_info.is_empty() {
            if !driver.is_empty() {
                driver.push(' ');
            }
            driver.push_str(&self.driver_info);
        }
        let driver = if driver.is_empty() {
            String::new()
        } else {
            format!(", driver {driver}")
        };
        format!(
            "{} ({}, {}, {}{driver})",
            self.name,
            self.vendor,
            self.kind.describe(),
            self.api
        )
    }
}

/// PCI (and Khronos) vendor IDs of the vendors people meet, by name.
fn vendor_name(id: u32) -> String {
    match id {
        0x10de => "NVIDIA".into(),
        0x1002 | 0x1022 => "AMD".into(),
        0x8086 => "Intel".into(),
        0x106b => "Apple".into(),
        0x5143 => "Qualcomm".into(),
        0x13b5 => "ARM".into(),
        0x1414 => "Microsoft".into(),
        // VK_VENDOR_ID_MESA: Mesa's software drivers.
        0x10005 => "Mesa".into(),
        0 => "unknown vendor".into(),
        other => format!("vendor {other:#06x}"),
    }
}

#[cfg(feature = "wgpu")]
impl From<&burn::tensor::wgpu::wgpu::AdapterInfo> for Adapter {
    fn from(info: &burn::tensor::wgpu::wgpu::AdapterInfo) -> Self {
        use burn::tensor::wgpu::wgpu::DeviceType;
        let kind = match info.device_type {
            DeviceType::DiscreteGpu => AdapterKind::DiscreteGpu,
            DeviceType::IntegratedGpu => AdapterKind::IntegratedGpu,
            DeviceType::VirtualGpu => AdapterKind::VirtualGpu,
            DeviceType::Cpu => AdapterKind::Cpu,
            DeviceType::Other => AdapterKind::Other,
        };
        Adapter::new(
            info.name.clone(),
            info.vendor,
            info.driver.clone(),
            info.driver_info.clone(),
            info.backend.to_str(),
            kind,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_discrete_gpu_is_hardware_and_described_with_vendor_api_and_driver() {
        let a = Adapter::new(
            "NVIDIA H200",
            0x10de,
            "NVIDIA",
            "550.54.15",
            "vulkan",
            AdapterKind::DiscreteGpu,
        );
        assert!(!a.software);
        assert_eq!(
            a.describe(),
            "NVIDIA H200 (NVIDIA, discrete GPU, vulkan, driver NVIDIA 550.54.15)"
        );
    }

    #[test]
    fn mesa_renderers_are_software_whatever_kind_they_claim() {
        let lavapipe = Adapter::new(
            "llvmpipe (LLVM 15.0.7, 256 bits)",
            0x10005,
            "llvmpipe",
            "Mesa 23.2.1",
            "vulkan",
            AdapterKind::Cpu,
        );
        assert!(lavapipe.software);
        assert_eq!(lavapipe.vendor, "Mesa");
        assert!(lavapipe.describe().contains("CPU (software renderer)"));
        // Over OpenGL, llvmpipe's kind comes back as `Other`: the name gives it away.
        let gl = Adapter::new(
            "llvmpipe (LLVM 15.0.7, 256 bits)",
            0,
            "",
            "",
            "gl",
            AdapterKind::Other,
        );
        assert!(gl.software);
        assert_eq!(
            gl.describe(),
            "llvmpipe (LLVM 15.0.7, 256 bits) (unknown vendor, unknown device type, gl)"
        );
    }

    #[test]
    fn the_report_round_trips_through_json() {
        let a = Adapter::new(
            "Apple M2",
            0x106b,
            "",
            "",
            "metal",
            AdapterKind::IntegratedGpu,
        );
        let json = serde_json::to_string(&a).unwrap();
        assert!(json.contains("\"kind\":\"integrated_gpu\""), "{json}");
        assert_eq!(serde_json::from_str::<Adapter>(&json).unwrap(), a);
        assert_eq!(vendor_name(0xabcd), "vendor 0xabcd");
    }
}
