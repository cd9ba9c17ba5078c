//! The versions and hardware a result was produced with, as recorded in every output.

use serde::{Deserialize, Serialize};

use crate::adapter::Adapter;
use crate::engine::{Backend, EngineKind};

/// Versions of cyclr and burn that produced a result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Versions {
    /// cyclr's version (this crate's package version).
    pub cyclr: String,
    /// The burn version it was built against.
    pub burn: String,
}

impl Versions {
    /// The versions of this build.
    pub fn current() -> Self {
        Self {
            cyclr: env!("CARGO_PKG_VERSION").into(),
            burn: "0.22.1".into(),
        }
    }
}

/// The machine, backend and engine a result came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hardware {
    /// CPU model name from /proc/cpuinfo, else the architecture.
    pub cpu: String,
    /// Logical CPU cores available to the process.
    pub logical_cores: usize,
    /// Threads in rayon's global pool (burn's CPU backend and the fused kernels use it).
    pub threads: usize,
    /// Operating system, e.g. `linux`.
    pub os: String,
    /// burn backend name: `flex`, `cuda` or `wgpu`.
    pub backend: String,
    /// Engine name, `fused`, `fused-bf16` or `burn`; empty in records written before it existed.
    #[serde(default)]
    pub engine: String,
    /// The GPU adapter the backend ran on, as its graphics API named it (wgpu only);
    /// absent on the CPU and in records written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<Adapter>,
}

impl Hardware {
    /// The hardware of this process, running `backend` with `engine`.
    pub fn current(backend: Backend, engine: EngineKind) -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|m| m.trim().to_string())
            })
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            cpu,
            logical_cores: cores,
            threads: rayon_threads(),
            os: std::env::consts::OS.into(),
            backend: backend.name().into(),
            engine: engine.name().into(),
            adapter: backend.adapter(),
        }
    }

    /// One line for reports: CPU, cores, threads, OS and engine.
    pub fn describe(&self) -> String {
        let engine = if self.engine == "burn" {
            match &self.adapter {
                Some(a) => format!("burn {} backend on {}", self.backend, a.describe()),
                None => format!("burn {} backend", self.backend),
            }
        } else if self.engine == "fused-bf16" {
            "cyclr's fused CPU kernels, bf16 products".to_string()
        } else {
            "cyclr's fused CPU kernels".to_string()
        };
        format!(
            "{} ({} logical cores, {} threads), {}, {engine}",
            self.cpu, self.logical_cores, self.threads, self.os
        )
    }
}

/// Threads burn's CPU backend and the fused kernels use: rayon's global pool.
pub fn rayon_threads() -> usize {
    rayon::current_num_threads()
}
