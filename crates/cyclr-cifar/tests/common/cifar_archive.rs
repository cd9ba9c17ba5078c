//! Where the tests find the real CIFAR-10 archive (shared by the tests of cyclr-cifar and
//! cyclr-cli): `CYCLR_TEST_DATA`, then `../shared/data` beside the checkout, then the
//! download cache. Without any of them the tests that need real images fail and say how
//! to get it; they never skip silently.

use std::path::PathBuf;

/// The archive's file name, as the official site and the cache name it.
const NAME: &str = "cifar-10-binary.tar.gz";

/// The real CIFAR-10 archive for tests that need real images.
pub fn cifar_archive() -> PathBuf {
    let mut tried = Vec::new();
    if let Some(p) = std::env::var_os("CYCLR_TEST_DATA").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if p.exists() {
            return p;
        }
        tried.push(format!("CYCLR_TEST_DATA={}", p.display()));
    }
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(NAME);
    if shared.is_file() {
        return shared;
    }
    tried.push(shared.display().to_string());
    // The cache `cyclr train --download` fills (the tests' own CYCLR_CACHE_DIR is a temp
    // folder, so look where the user's cache is).
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|c| c.join("cyclr").join(NAME));
    if let Some(c) = cache {
        if c.is_file() {
            return c;
        }
        tried.push(c.display().to_string());
    }
    panic!(
        "this test needs the real CIFAR-10 archive and found none (looked at: {}). Get it \
         once with `cargo run --release -- train --download --policy fixed --base-lr 0.001 \
         --max-steps 1` (it lands in ~/.cache/cyclr), or point CYCLR_TEST_DATA at a copy of {NAME}",
        tried.join(", ")
    );
}
