//! `checkpoint.bin`: the model, the optimizer, the position in the run and the metrics so
//! far, in one file replaced atomically.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::TrainConfig;
use crate::io::write_atomic;
use crate::run_record::{DataInfo, MetricsRow, RunStatus, RunSummary};

/// The checkpoint's file name in a run folder.
pub const CHECKPOINT_FILE: &str = "checkpoint.bin";

/// Checkpoints with a SHA-256 of everything before it at the end of the file.
const CHECKPOINT_MAGIC: &[u8; 8] = b"CYCLRCK2";
/// The first format, without a checksum: still read, strictly (no trailing bytes).
const CHECKPOINT_MAGIC_V1: &[u8; 8] = b"CYCLRCK1";
/// The largest checkpoint read: the model and optimizer are a few MB, the metrics a few
/// hundred bytes per evaluation.
const MAX_CHECKPOINT_BYTES: u64 = 1 << 30;
/// Length of the SHA-256 at the end of a checkpoint.
const DIGEST_LEN: usize = 32;

/// Where a run stands: what a checkpoint restores besides the weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Position {
    pub(super) config: TrainConfig,
    pub(super) data: DataInfo,
    /// Iterations done.
    pub(super) step: u64,
    /// Sums over the batches since the last evaluation.
    pub(super) window: Window,
    pub(super) elapsed_s: f64,
    pub(super) metrics: Vec<MetricsRow>,
    pub(super) status: RunStatus,
    /// Changes made when resuming (a longer run), oldest first.
    #[serde(default)]
    pub(super) changes: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub(super) struct Window {
    pub(super) loss_sum: f64,
    pub(super) correct: u64,
    pub(super) images: u64,
    pub(super) batches: u64,
    pub(super) compute_s: f64,
}

pub(super) struct Checkpoint {
    pub(super) position: Position,
    pub(super) model: Vec<u8>,
    pub(super) optim: Vec<u8>,
}

pub(super) fn write_checkpoint(path: &Path, c: &Checkpoint) -> anyhow::Result<()> {
    let header = serde_json::to_vec(&c.position)?;
    let mut bytes = Vec::with_capacity(32 + header.len() + c.model.len() + c.optim.len());
    bytes.extend_from_slice(CHECKPOINT_MAGIC);
    for part in [&header, &c.model, &c.optim] {
        bytes.extend_from_slice(&(part.len() as u64).to_le_bytes());
        bytes.extend_from_slice(part);
    }
    // A checksum over the whole file: a flipped byte (weights, step or settings) or a
    // doubled file is refused on load instead of resuming with wrong numbers.
    let digest = Sha256::digest(&bytes);
    bytes.extend_from_slice(&digest);
    write_atomic(path, &bytes)
}

pub(super) fn read_checkpoint(path: &Path) -> anyhow::Result<Checkpoint> {
    let damaged = |what: &str| {
        anyhow::anyhow!(
            "checkpoint {} is damaged ({what}); delete the run folder to start over",
            path.display()
        )
    };
    // Bounded by what a checkpoint of this network can hold: a sparse 50 GB file is
    // refused, not read into memory (and not taken for a lack of memory).
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|f| f.take(MAX_CHECKPOINT_BYTES + 1).read_to_end(&mut bytes))
        .with_context(|| format!("reading checkpoint {}", path.display()))?;
    if bytes.len() as u64 > MAX_CHECKPOINT_BYTES {
        return Err(damaged(
            "larger than 1 GiB, which no checkpoint of this network is",
        ));
    }
    let body = match bytes.get(..8) {
        Some(m) if m == CHECKPOINT_MAGIC => {
            if bytes.len() < 8 + DIGEST_LEN {
                return Err(damaged("truncated"));
            }
            let (body, digest) = bytes.split_at(bytes.len() - DIGEST_LEN);
            if Sha256::digest(body).as_slice() != digest {
                return Err(damaged(
                    "its checksum does not match: a byte changed, or the file was \
                     cut or doubled",
                ));
            }
            body
        }
        // Written before checkpoints carried a checksum: it cannot be checked, so it is not
        // trusted.
        Some(m) if m == CHECKPOINT_MAGIC_V1 => {
            return Err(damaged(
                "written by an older cyclr, without a checksum, so it cannot be checked",
            ));
        }
        _ => return Err(damaged("not a cyclr checkpoint")),
    };
    let mut rest = &body[8..];
    let mut parts = Vec::new();
    for _ in 0..3 {
        if rest.len() < 8 {
            return Err(damaged("truncated"));
        }
        let len = u64::from_le_bytes(rest[..8].try_into().unwrap()) as usize;
        rest = &rest[8..];
        if rest.len() < len {
            return Err(damaged("truncated"));
        }
        parts.push(rest[..len].to_vec());
        rest = &rest[len..];
    }
    if !rest.is_empty() {
        return Err(damaged(&format!("{} bytes after its end", rest.len())));
    }
    let position: Position =
        serde_json::from_slice(&parts[0]).map_err(|e| damaged(&format!("bad header: {e}")))?;
    let optim = parts.pop().unwrap();
    let model = parts.pop().unwrap();
    Ok(Checkpoint {
        position,
        model,
        optim,
    })
}

/// Whether `dir` holds a run that can be resumed.
pub fn has_checkpoint(dir: &Path) -> bool {
    dir.join(CHECKPOINT_FILE).is_file()
}

/// The summary stored in a run folder's checkpoint, if any.
pub fn load_summary(dir: &Path) -> anyhow::Result<Option<RunSummary>> {
    if !has_checkpoint(dir) {
        return Ok(None);
    }
    let c = read_checkpoint(&dir.join(CHECKPOINT_FILE))?;
    Ok(Some(summary_of(&c.position, None)))
}

/// A finished (or diverged) run's summary, as a recreation reuses it: from its
/// checksummed checkpoint when it has one (a `run.json` edited by hand is not believed),
/// else from `run.json` with its accuracies read again from `metrics.csv`. `None` for a
/// run that has not ended.
pub fn finished_summary(dir: &Path) -> anyhow::Result<Option<RunSummary>> {
    if has_checkpoint(dir) {
        let c = read_checkpoint(&dir.join(CHECKPOINT_FILE))?;
        let ended = matches!(c.position.status, RunStatus::Finished | RunStatus::Diverged);
        return Ok(ended.then(|| summary_of(&c.position, None)));
    }
    Ok(crate::run_record::load_outcome(dir)?.map(|mut s| {
        s.final_test_accuracy = s.metrics.last().map(|m| m.test_accuracy);
        s.best_test_accuracy = s.metrics.iter().map(|m| m.test_accuracy).reduce(f64::max);
        s.final_test_loss = s.metrics.last().map(|m| m.test_loss);
        s
    }))
}

/// The config and the data description stored in a run folder's checkpoint: what
/// a resumed run continues with.
pub fn load_run(dir: &Path) -> anyhow::Result<(TrainConfig, DataInfo)> {
    let p = read_checkpoint(&dir.join(CHECKPOINT_FILE))?.position;
    Ok((p.config, p.data))
}

pub(super) fn summary_of(p: &Position, note: Option<String>) -> RunSummary {
    RunSummary {
        status: p.status,
        steps: p.step,
        final_test_accuracy: p.metrics.last().map(|m| m.test_accuracy),
        best_test_accuracy: p.metrics.iter().map(|m| m.test_accuracy).reduce(f64::max),
        final_test_loss: p.metrics.last().map(|m| m.test_loss),
        wall_s: p.elapsed_s,
        note,
        metrics: p.metrics.clone(),
    }
}
