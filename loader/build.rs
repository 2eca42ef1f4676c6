//! Builds the no_std loader stub with rustc directly (it is one file with no dependencies) and
//! leaves it in OUT_DIR for `include_bytes!`.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    for f in [
        "stub/src/main.rs",
        "stub/src/fast.rs",
        "stub/src/altstack.rs",
        "stub/src/frame.rs",
        "src/abi.rs",
        "src/stack.rs",
    ] {
        println!("cargo:rerun-if-changed={f}");
    }
    let stub = out.join("lxrun-stub");
    let status = Command::new(rustc)
        .args(["--edition", "2021", "--crate-type", "bin", "--crate-name", "lxrun_stub"])
        .args(["--target", "x86_64-unknown-linux-gnu"])
        .args([
            "-C",
            "opt-level=s",
            "-C",
            "panic=abort",
            "-C",
            "debuginfo=0",
            "-C",
            "strip=symbols",
        ])
        .args([
            "-C",
            "relocation-model=static",
            "-C",
            "code-model=large",
            "-C",
            "target-feature=+crt-static",
        ])
        .args([
            "-C",
            "link-arg=-nostartfiles",
            "-C",
            "link-arg=-static",
            "-C",
            "link-arg=-Wl,--image-base=0x7ff000000000",
        ])
        .args([
            "-C",
            "link-arg=-Wl,--build-id=none",
            "-C",
            "link-arg=-Wl,-z,noexecstack",
            "-C",
            "link-arg=-Wl,-z,norelro",
        ])
        .arg("stub/src/main.rs")
        .arg("-o")
        .arg(&stub)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("running rustc for the loader stub");
    assert!(status.success(), "building the loader stub failed");
}
