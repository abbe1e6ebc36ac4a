//! Builds the engine component (`guest/`, target wasm32-wasip2) so that the
//! host binary can embed it: `cargo build -p h2wasm` works from a fresh
//! clone once the target is installed. Set `H2WASM_ENGINE_WASM=path` to embed
//! a prebuilt component instead.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let dest = out.join("h2wasm_engine.wasm");
    build_engine(&dest);
    // What the CLI keys its compiled copy by, computed here so that the
    // serving process need not read the embedded bytes to know it.
    let wasm = std::fs::read(&dest).unwrap_or_else(|e| panic!("reading {}: {e}", dest.display()));
    let hash = wasm.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    std::fs::write(out.join("h2wasm_engine_hash.rs"), format!("{hash:#018x}"))
        .unwrap_or_else(|e| panic!("writing the engine hash: {e}"));
}

/// Writes the engine component to `dest`: a prebuilt one, or built from
/// `guest/`.
fn build_engine(dest: &Path) {
    println!("cargo:rerun-if-env-changed=H2WASM_ENGINE_WASM");
    if let Some(prebuilt) = env::var_os("H2WASM_ENGINE_WASM") {
        println!("cargo:rerun-if-changed={}", Path::new(&prebuilt).display());
        std::fs::copy(&prebuilt, dest).unwrap_or_else(|e| {
            panic!("H2WASM_ENGINE_WASM={}: {e}", Path::new(&prebuilt).display())
        });
        return;
    }
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = manifest_dir
        .parent()
        .expect("host/ sits inside the workspace")
        .to_path_buf();
    for watched in ["guest/src", "guest/Cargo.toml", "wit", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    // A separate target dir: the outer cargo holds the lock on its own.
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("engine");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "-p",
        "h2wasm-engine",
        "--release",
        "--target",
        "wasm32-wasip2",
    ])
    .arg("--manifest-path")
    .arg(root.join("Cargo.toml"))
    .arg("--target-dir")
    .arg(&target_dir)
    // Every wasm function entry and loop header carries an epoch check
    // (the per-call time budget): fewer, larger functions run faster. One
    // codegen unit, fat LTO and a high inline threshold took `bench/cpu`
    // from 2.52 to 2.38 µs per small request; a threshold of 4000 bought
    // nothing more and made the module 30% larger.
    .env("CARGO_PROFILE_RELEASE_LTO", "fat")
    .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1");
    // Flags meant for the host build (coverage, sanitizers, target-cpu)
    // must not leak into the wasm build.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_TARGET",
    ] {
        cmd.env_remove(var);
    }
    // (Set after the removal above: this one is the engine's own.)
    cmd.env(
        "CARGO_ENCODED_RUSTFLAGS",
        "-Cllvm-args=-inline-threshold=1000",
    );
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("could not run cargo: {e}"));
    if !status.success() {
        panic!(
            "building the engine component failed (see above). If the target is \
             missing, run: rustup target add wasm32-wasip2"
        );
    }
    let built = target_dir.join("wasm32-wasip2/release/h2wasm_engine.wasm");
    std::fs::copy(&built, dest).unwrap_or_else(|e| panic!("copying {}: {e}", built.display()));
}
