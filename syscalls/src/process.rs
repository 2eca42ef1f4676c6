//! Per-process translation state, shared by the process's threads.
//!
//! Behind a mutex because the seccomp backend serves several threads at once; the lock is
//! never held across a guest-memory access or a host syscall that may block.

use std::sync::{Arc, Mutex, MutexGuard};

/// One guest process (thread group).
#[derive(Debug)]
pub struct Process {
    state: Mutex<ProcessState>,
    /// Shared with the processes created with CLONE_FS, as Linux shares its fs_struct.
    fs: Arc<Mutex<FsState>>,
}

/// What CLONE_FS shares: the root, the current directory and the umask.
#[derive(Debug, Default, Clone)]
pub struct FsState {
    /// The current directory, as the guest names it.
    pub cwd: Vec<u8>,
    /// The root directory (`/` unless the guest called chroot), as the guest names it.
    pub root: Vec<u8>,
    /// The file mode creation mask, for files lxrun creates on the guest's behalf.
    pub umask: u32,
}

/// What lxrun remembers about a guest process.
#[derive(Debug, Default, Clone)]
pub struct ProcessState {
    /// Guest path of the running program (what /proc/self/exe names).
    pub exe: Vec<u8>,
    /// The process changed its credentials (setuid and friends): calls performed on its behalf
    /// must take its filesystem uid, gid and groups.
    pub creds_changed: bool,
    /// A fake root's ids (None until its first call that needs them; never without one).
    pub identity: Option<crate::identity::Identity>,
    /// The load plan waiting for the stub after an execve.
    pub pending_exec: Option<PendingExec>,
    /// Why the last execve failed, in words, for lxrun's own message about its first program.
    pub exec_error: Option<String>,
    /// The guest set no_new_privs (without a fake root, whose `identity` keeps it): every guest
    /// process has it for real, lxrun's filter needs it.
    pub no_new_privs: bool,
    /// The guest asked for a seccomp filter of its own (strict mode is then EINVAL, as the
    /// kernel refuses a second mode).
    pub guest_filter: bool,
    /// The ptrace modes: the guest entered strict mode, whose forbidden calls raise a SIGSYS
    /// the tracer answers with SIGKILL.
    pub strict: bool,
    /// The ptrace modes: a guest tracer traces the thread that execs, so the plan asks the
    /// stub to announce its jump to the program (`abi::SYS_LXRUN_ENTRY`). Taken by the plan.
    pub announce_entry: bool,
}

/// An execve handed to the loader stub, not yet picked up by it.
#[derive(Debug, Clone)]
pub struct PendingExec {
    /// The plan, encoded when the stub asks for it.
    pub plan: lxrun_loader::plan::LoadPlan,
    /// The files of the plan's objects, in order, opened when they were checked.
    pub files: Vec<Arc<std::fs::File>>,
    /// The new program's guest path: it becomes `exe` once the stub runs, that is once the
    /// kernel's execve of the stub has succeeded.
    pub exe: Vec<u8>,
    /// A fake root's set-id program: the uid and gid it runs as.
    pub setid: (Option<u32>, Option<u32>),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock means a handler panicked mid-update; the state is still plain data.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Process {
    pub fn new(state: ProcessState, fs: FsState) -> Process {
        Process {
            state: Mutex::new(state),
            fs: Arc::new(Mutex::new(fs)),
        }
    }

    /// The state, for a short critical section.
    pub fn state(&self) -> MutexGuard<'_, ProcessState> {
        lock(&self.state)
    }

    /// The root, cwd and umask, for a short critical section.
    pub fn fs(&self) -> MutexGuard<'_, FsState> {
        lock(&self.fs)
    }

    /// A child process (fork, vfork, clone without CLONE_THREAD) starts with its parent's
    /// program and credentials note, nothing pending, and the parent's root, cwd and umask:
    /// the very same ones with CLONE_FS, a copy without.
    pub fn fork(&self, share_fs: bool) -> Process {
        let s = self.state();
        let fs = if share_fs {
            self.fs.clone()
        } else {
            Arc::new(Mutex::new(self.fs().clone()))
        };
        Process {
            state: Mutex::new(ProcessState {
                exe: s.exe.clone(),
                creds_changed: s.creds_changed,
                identity: s.identity.clone(),
                no_new_privs: s.no_new_privs,
                guest_filter: s.guest_filter,
                ..Default::default()
            }),
            fs,
        }
    }
}
