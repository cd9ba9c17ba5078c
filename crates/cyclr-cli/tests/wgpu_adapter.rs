//! `--device wgpu` says which adapter it runs on, refuses a software renderer unless
//! `--allow-software`, and fails clearly without any adapter. Needs the `wgpu` feature:
//! `cargo test --release --features wgpu --test wgpu_adapter` (a build of its own, ~40
//! minutes cold on 2 cores, so not part of the default test command).
#![cfg(all(feature = "wgpu", target_os = "linux"))]

mod common;

use common::{assert_usage_error, cyclr, stderr, stdout};

/// A tiny benchmark on wgpu, so the adapter is brought up and used.
const BENCH: [&str; 12] = [
    "bench",
    "--device",
    "wgpu",
    "--batch-size",
    "8",
    "--warmup",
    "1",
    "--iters",
    "1",
    "--repeats",
    "1",
    "--json",
];

#[test]
fn the_adapter_is_named_in_the_json_and_a_software_one_needs_allow_software() {
    let cache = tempfile::tempdir().unwrap();
    let allowed = cyclr(cache.path())
        .args(BENCH)
        .arg("--allow-software")
        .output()
        .unwrap();
    let err = stderr(&allowed);
    assert!(allowed.status.success(), "{err}");
    let json: serde_json::Value = serde_json::from_str(&stdout(&allowed)).unwrap();
    let adapter = &json["hardware"]["adapter"];
    let name = adapter["name"].as_str().expect("the adapter's name");
    assert!(!name.is_empty(), "{json}");
    assert!(
        ["vulkan", "gl", "metal", "dx12"].contains(&adapter["api"].as_str().unwrap()),
        "{adapter}"
    );
    let software = adapter["software"].as_bool().unwrap();
    assert_eq!(
        software,
        adapter["kind"] == "cpu" || name.to_lowercase().contains("llvmpipe"),
        "{adapter}"
    );

    // The same command without --allow-software: a GPU runs, a software renderer is
    // refused with its name and the ways out.
    let plain = cyclr(cache.path()).args(BENCH).output().unwrap();
    if software {
        assert!(err.contains("WARNING") && err.contains(name), "{err}");
        assert_usage_error(&plain, "a software renderer on the CPU");
        let text = stderr(&plain);
        assert!(
            text.contains(name) && text.contains("--allow-software"),
            "{text}"
        );
    } else {
        assert!(plain.status.success(), "{}", stderr(&plain));
        assert!(stderr(&plain).contains(&format!("device: wgpu on {name}")));
    }
}

#[test]
fn no_adapter_at_all_is_a_clear_error() {
    // Point the Vulkan loader and glvnd's EGL at driver lists that do not exist: wgpu then
    // finds no adapter on any API.
    let cache = tempfile::tempdir().unwrap();
    let out = cyclr(cache.path())
        .args(BENCH)
        .env("VK_ICD_FILENAMES", "/nonexistent/icd.json")
        .env("VK_DRIVER_FILES", "/nonexistent/icd.json")
        .env("__EGL_VENDOR_LIBRARY_FILENAMES", "/nonexistent/egl.json")
        .output()
        .unwrap();
    assert_usage_error(&out, "--device wgpu: no GPU adapter found");
    assert!(stderr(&out).contains("--device flex"), "{}", stderr(&out));
}
