//! How lxrun catches a guest's syscalls. Each backend starts the guest, catches the calls the
//! table says to catch, hands them to `lxrun_syscalls::dispatch` and carries out the outcome;
//! the translation layer never knows which backend caught a call.

mod launch;
mod ptrace;
mod signals;
mod stub;

pub use launch::Launch;
pub use stub::StubFile;

use lxrun_syscalls::world::World;

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
    /// seccomp SECCOMP_RET_TRACE + ptrace stops.
    Ptrace,
}

/// Runs the guest described by `launch` to completion with the chosen backend.
pub fn run(kind: BackendKind, world: &World, launch: &Launch) -> Result<RunOutcome, SupervisorError> {
    match kind {
        BackendKind::Ptrace => ptrace::run(world, launch),
    }
}
