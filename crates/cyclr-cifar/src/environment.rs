//! The versions and hardware a result was produced with, as recorded in every output.

use serde::{Deserialize, Serialize};

use crate::engine::{Backend, EngineKind};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Versions {
    pub cyclr: String,
    pub burn: String,
}

impl Versions {
    pub fn current() -> Self {
        Self {
            cyclr: env!("CARGO_PKG_VERSION").into(),
            burn: "0.22.1".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hardware {
    pub cpu: String,
    pub logical_cores: usize,
    pub threads: usize,
    pub os: String,
    pub backend: String,
    #[serde(default)]
    pub engine: String,
}


impl Hardware {
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
        }
    }

    pub fn describe(&self) -> String {
        let engine = if self.engine == "burn" {
            format!("burn {} backend", self.backend)
        } else {
            "cyclr's fused CPU kernels".to_string()
        };
        format!("{} ({} logical cores, {} threads), {}, {engine}", self.cpu, self.logical_cores, self.threads, self.os)
    }
}

/// Threads burn's CPU backend and the fused kernels use: rayon's global pool.
pub fn rayon_threads() -> usize {
    rayon::current_num_threads()
}
