//! Per-process translation state, shared by the process's threads.
//!
//! Behind a mutex because the seccomp backend serves several threads at once; the lock is
//! never held across a guest-memory access or a host syscall that may block.

use std::sync::{Mutex, MutexGuard};

/// One guest process (thread group).
#[derive(Debug)]
pub struct Process {
    state: Mutex<ProcessState>,
}

/// What lxrun remembers about a guest process.
#[derive(Debug, Default, Clone)]
pub struct ProcessState {
    /// Guest path of the running program (what /proc/self/exe names).
    pub exe: Vec<u8>,
    /// The current directory, as the guest names it.
    pub cwd: Vec<u8>,
    /// The root directory (`/` unless the guest called chroot), as the guest names it.
    pub root: Vec<u8>,
    /// The file mode creation mask, for files lxrun creates on the guest's behalf.
    pub umask: u32,
    /// The process changed its credentials (setuid and friends): calls performed on its behalf
    /// must take its filesystem uid, gid and groups.
    pub creds_changed: bool,
    /// The load plan waiting for the stub after an execve.
    pub pending_exec: Option<PendingExec>,
    /// Why the last execve failed, in words, for lxrun's own message about its first program.
    pub exec_error: Option<String>,
}

/// An execve handed to the loader stub, not yet picked up by it.
#[derive(Debug, Clone)]
pub struct PendingExec {
    /// The encoded plan.
    pub plan: Vec<u8>,
    /// The new program's guest path: it becomes `exe` once the stub runs, that is once the
    /// kernel's execve of the stub has succeeded.
    pub exe: Vec<u8>,
}

impl Process {
    pub fn new(state: ProcessState) -> Process {
        Process {
            state: Mutex::new(state),
        }
    }

    /// The state, for a short critical section.
    pub fn state(&self) -> MutexGuard<'_, ProcessState> {
        // A poisoned lock means a handler panicked mid-update; the state is still plain data.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A forked child starts with its parent's program and directories, and nothing pending.
    pub fn fork(&self) -> Process {
        let s = self.state();
        Process::new(ProcessState {
            exe: s.exe.clone(),
            cwd: s.cwd.clone(),
            root: s.root.clone(),
            umask: s.umask,
            creds_changed: s.creds_changed,
            ..Default::default()
        })
    }
}
