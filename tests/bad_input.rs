//! lxrun's behaviour on programs it cannot run: exit status 127 when the
//! program is not found, 126 when it exists but cannot be executed (like
//! coreutils `env`), and exactly one line on stderr starting with "lxrun: ".
//!
//! The expected status is derived from what the kernel says about a raw
//! execve(2) of the same file (ENOENT -> 127, anything else -> 126); where
//! coreutils `env` is a faithful oracle (no glibc execvp fallback to
//! /bin/sh, which `env` does for ENOEXEC files) its status is checked too.

mod common;

use common::*;
use std::path::{Path, PathBuf};

/// Checks lxrun's status and one-line "lxrun: " message for `program`.
fn check_rejected(
    failures: &mut Vec<String>,
    label: &str,
    program: &Path,
    want_status: i32,
    message_must_contain: &[&str],
) {
    for backend in backends() {
        let cmd = Cmd::new(program);
        let lx = run_lxrun(backend, &cmd);
        let stderr = lx.stderr_str();
        let lines: Vec<&str> = stderr.lines().collect();
        let mut problems = Vec::new();
        if lx.code != Some(want_status) {
            problems.push(format!("want exit {want_status}, got {}", lx.status()));
        }
        if lines.len() != 1 || !lines[0].starts_with("lxrun: ") {
            problems.push("stderr must be exactly one line starting with \"lxrun: \"".to_string());
        }
        for needle in message_must_contain {
            if !stderr.to_lowercase().contains(&needle.to_lowercase()) {
                problems.push(format!("message must mention {needle:?}"));
            }
        }
        if !problems.is_empty() {
            failures.push(format!(
                "=== {label} [backend {backend}]: {}: {}\n{lx}\n",
                cmd.describe(),
                problems.join("; ")
            ));
        }
    }
}

/// The status coreutils `env` gives for `program`.
fn env_status(program: &Path) -> Outcome {
    run_native(&Cmd::new("/usr/bin/env").arg(program))
}

/// Expected launcher status according to the kernel's answer to execve.
fn kernel_status(program: &Path) -> (i32, i32) {
    match kernel_exec_errno(program) {
        Ok(()) => panic!("{}: execve unexpectedly succeeded natively", program.display()),
        Err(errno) => (errno, launcher_status_for_errno(errno)),
    }
}

/// A file the kernel refuses with ENOEXEC: lxrun must say 126.
fn check_enoexec(failures: &mut Vec<String>, label: &str, path: &Path, must_contain: &[&str]) {
    let (errno, status) = kernel_status(path);
    if errno != libc::ENOEXEC {
        failures.push(format!(
            "=== {label}: native execve gave errno {errno}, expected ENOEXEC (test assumption broken)"
        ));
    }
    check_rejected(failures, label, path, status, must_contain);
}

#[test]
fn missing_program_by_path() {
    let mut failures = Vec::new();
    let path = PathBuf::from("/nonexistent/x");
    let (_, want) = kernel_status(&path);
    let env = env_status(&path);
    assert_eq!(env.code, Some(want), "env oracle disagrees:\n{env}");
    assert_eq!(want, 127);
    check_rejected(&mut failures, "nonexistent path", &path, want, &["/nonexistent/x"]);
    assert_no_failures(&failures);
}

#[test]
fn missing_program_in_path() {
    let mut failures = Vec::new();
    let name = Path::new("no-such-command-xyz");
    let env = env_status(name);
    assert_eq!(env.code, Some(127), "env oracle:\n{env}");
    check_rejected(
        &mut failures,
        "command not in PATH",
        name,
        127,
        &["no-such-command-xyz"],
    );
    assert_no_failures(&failures);
}

#[test]
fn directory() {
    let mut failures = Vec::new();
    let dir = TempDir::new("baddir");
    let (_, want) = kernel_status(dir.path());
    let env = env_status(dir.path());
    assert_eq!(env.code, Some(want), "env oracle disagrees:\n{env}");
    assert_eq!(want, 126);
    check_rejected(&mut failures, "directory", dir.path(), want, &[]);
    assert_no_failures(&failures);
}

#[test]
fn not_executable() {
    let mut failures = Vec::new();
    let dir = TempDir::new("noexec");
    let path = dir.write("script", b"#!/bin/sh\necho should not run\n", 0o644);
    let (_, want) = kernel_status(&path);
    let env = env_status(&path);
    assert_eq!(env.code, Some(want), "env oracle disagrees:\n{env}");
    assert_eq!(want, 126);
    check_rejected(&mut failures, "file without execute bit", &path, want, &[]);
    assert_no_failures(&failures);
}

#[test]
fn text_file_without_shebang() {
    let mut failures = Vec::new();
    let dir = TempDir::new("text");
    let path = dir.write("text", b"echo this is not a binary\n", 0o755);
    // Natively the kernel says ENOEXEC (a shell, or glibc's execvp as used by
    // `env`, would then run it with /bin/sh); lxrun reports it like execve.
    check_enoexec(&mut failures, "text file without #!", &path, &[]);
    assert_no_failures(&failures);
}

#[test]
fn empty_file() {
    let mut failures = Vec::new();
    let dir = TempDir::new("empty");
    let path = dir.write("empty", b"", 0o755);
    check_enoexec(&mut failures, "empty file", &path, &[]);
    assert_no_failures(&failures);
}

/// A minimal, otherwise valid ELF64 header for AArch64 (e_machine 183).
fn aarch64_elf_header() -> Vec<u8> {
    let mut h = vec![0u8; 64];
    h[0..4].copy_from_slice(b"\x7fELF");
    h[4] = 2; // ELFCLASS64
    h[5] = 1; // ELFDATA2LSB
    h[6] = 1; // EV_CURRENT
    let mut put16 = |off: usize, v: u16| h[off..off + 2].copy_from_slice(&v.to_le_bytes());
    put16(16, 2); // e_type = ET_EXEC
    put16(18, 183); // e_machine = EM_AARCH64
    put16(52, 64); // e_ehsize
    put16(54, 56); // e_phentsize
    put16(56, 0); // e_phnum
    h[20..24].copy_from_slice(&1u32.to_le_bytes()); // e_version
    h[24..32].copy_from_slice(&0x40_0000u64.to_le_bytes()); // e_entry
    h
}

#[test]
fn foreign_architecture_elf() {
    let mut failures = Vec::new();
    let dir = TempDir::new("aarch64");
    let path = dir.write("aarch64", &aarch64_elf_header(), 0o755);
    check_enoexec(&mut failures, "aarch64 ELF", &path, &["aarch64"]);
    assert_no_failures(&failures);
}

#[test]
fn truncated_elf() {
    let mut failures = Vec::new();
    let dir = TempDir::new("trunc");
    let real = std::fs::read("/bin/true").expect("reading /bin/true");
    let path = dir.write("truncated", &real[..20], 0o755);
    check_enoexec(&mut failures, "ELF truncated to 20 bytes", &path, &[]);
    assert_no_failures(&failures);
}

#[test]
fn program_headers_past_end_of_file() {
    let mut failures = Vec::new();
    let dir = TempDir::new("phoff");
    let real = std::fs::read("/bin/true").expect("reading /bin/true");
    let mut elf = real[..128].to_vec();
    // e_phoff far beyond the end of the 128-byte file.
    elf[32..40].copy_from_slice(&0x10_0000u64.to_le_bytes());
    let path = dir.write("farphdr", &elf, 0o755);
    let (_, want) = kernel_status(&path);
    check_rejected(&mut failures, "program headers past EOF", &path, want, &[]);
    assert_no_failures(&failures);
}

#[test]
fn no_program_is_a_usage_error() {
    let lx = run_lxrun_raw::<[&str; 0], &str>([]);
    assert_eq!(lx.code, Some(2), "lxrun without a program must exit 2 (usage):\n{lx}");
    assert!(!lx.stderr.is_empty(), "a usage message is expected on stderr:\n{lx}");
    for backend in backends() {
        let lx = run_lxrun_raw(["--backend", backend]);
        assert_eq!(lx.code, Some(2), "lxrun --backend {backend} without a program:\n{lx}");
    }
}

#[test]
fn unknown_backend_is_rejected() {
    let lx = run_lxrun_raw(["--backend", "no-such-backend", "--", "/bin/echo", "ran"]);
    assert!(
        !lx.success() && lx.stdout.is_empty(),
        "an unknown backend must be rejected without running the program:\n{lx}"
    );
    assert!(
        lx.stderr_str().contains("no-such-backend"),
        "the error should name the rejected backend:\n{lx}"
    );
}

/// The seccomp backend either works (then it must behave like native) or
/// says clearly that it is not implemented: never a silent fallback.
#[test]
fn seccomp_backend_works_or_says_not_implemented() {
    let cmd = Cmd::new("/bin/sh").args(["-c", "echo seccomp; exit 3"]);
    let native = run_native(&cmd);
    let lx = run_lxrun("seccomp", &cmd);
    if lx.stderr_str().to_lowercase().contains("not implemented") {
        assert_ne!(lx.code, Some(0), "\"not implemented\" but exit status 0:\n{lx}");
        assert!(lx.stdout.is_empty(), "\"not implemented\" but the program ran:\n{lx}");
    } else {
        assert_same(&native, &lx);
    }
}
