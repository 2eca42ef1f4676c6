//! How lxrun catches a guest's syscalls. Each backend starts the guest, catches the calls the
//! table says to catch, hands them to `lxrun_syscalls::dispatch` and carries out the outcome;
//! the translation layer never knows which backend caught a call.

mod guardian;
mod launch;
mod ptrace;
mod seccomp;
mod signals;
mod stub;

pub use launch::Launch;
pub use stub::StubFile;

use lxrun_syscalls::world::World;
use std::sync::Arc;

/// How the guest ended: what lxrun's own exit must reproduce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestExit {
    /// exit(code).
    Code(i32),
    /// Killed by a signal.
    Signal { sig: i32, core: bool },
}

/// The result of a run.
#[derive(Debug)]
pub struct RunOutcome {
    pub exit: GuestExit,
    /// Set when the first program never started: why its execve failed.
    pub launch_error: Option<String>,
}

/// A failure of lxrun itself (never shown to the guest as an errno).
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error("cannot start the guest: {0}")]
    Start(String),
    #[error("ptrace: {what}: {err}")]
    Ptrace { what: &'static str, err: nix::errno::Errno },
    #[error("waiting for the guest: {0}")]
    Wait(nix::errno::Errno),
}

/// The interception mechanisms lxrun has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// seccomp SECCOMP_RET_TRACE + ptrace stops for every translated call.
    Ptrace,
    /// seccomp user notification, answered by lxrun's worker threads on the guest's behalf;
    /// where the kernel allows it (mseal, 6.10) the stub's in-process fast path and no ptrace
    /// at all (`seccomp::systrap`), else as `SeccompPtrace`.
    Seccomp,
    /// seccomp user notification, with ptrace for execve and task tracking.
    SeccompPtrace,
}

/// Whether this kernel has what the seccomp backend needs (SECCOMP_ADDFD_FLAG_SEND, 5.14),
/// and if not, why.
pub fn seccomp_support() -> Result<(), String> {
    let version = kernel_version();
    if version >= (5, 14) {
        Ok(())
    } else {
        Err(format!(
            "kernel {}.{} lacks SECCOMP_ADDFD_FLAG_SEND (5.14)",
            version.0, version.1
        ))
    }
}

/// The running kernel's (major, minor) version, read once; (0, 0) if uname fails.
pub(crate) fn kernel_version() -> (u32, u32) {
    static VERSION: std::sync::OnceLock<(u32, u32)> = std::sync::OnceLock::new();
    *VERSION.get_or_init(|| {
        // uname: one call, where reading /proc/sys/kernel/osrelease takes five.
        // SAFETY: uname fills the zeroed struct.
        let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
        if unsafe { libc::uname(&mut uts) } != 0 {
            tracing::warn!("uname: {}", std::io::Error::last_os_error());
            return (0, 0);
        }
        // SAFETY: uname NUL-terminates `release`.
        let release = unsafe { std::ffi::CStr::from_ptr(uts.release.as_ptr()) }.to_string_lossy();
        let mut parts = release
            .trim()
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|p| p.parse::<u32>().ok());
        (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
    })
}

/// Runs the guest described by `launch` to completion with the chosen backend.
pub fn run(kind: BackendKind, world: &Arc<World>, launch: &Launch) -> Result<RunOutcome, SupervisorError> {
    // The seccomp backend runs without ptrace where the kernel allows the stub's in-process
    // fast path; an observed run (--trace, --stats) needs ptrace's view of every call.
    if kind == BackendKind::Seccomp && !world.observer.enabled() {
        if let Some(gate) = seccomp::fast_path::prepare(world) {
            return seccomp::systrap::run(world, launch, gate);
        }
    }
    ptrace::run(world, launch, kind != BackendKind::Ptrace)
}
