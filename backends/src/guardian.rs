//! Without ptrace there is no PTRACE_O_EXITKILL: nothing in the kernel kills a guest when the
//! lxrun that supervises it is killed. So a systrap run is two processes: the one its caller
//! started (the guardian: it forwards signals, waits, and exits as the guest did) and its child,
//! the supervisor, the guests' parent and subreaper. Whichever of the two dies first, the other
//! kills every guest:
//! - the guardian killed: the supervisor reads EOF on a pipe only the guardian holds open, and
//!   kills its descendants;
//! - the supervisor killed: its guests are orphaned to the guardian (a subreaper too), which
//!   kills them.

use crate::{signals, GuestExit, RunOutcome, SupervisorError};
use std::os::fd::{FromRawFd, OwnedFd};

/// Which side of the fork this process is.
pub(crate) enum Role {
    /// The guardian, once the supervisor has ended: how to exit.
    Guardian(RunOutcome),
    /// The supervisor: run the guest.
    Supervisor,
}

/// Forks the supervisor. The guardian returns only when the supervisor and every guest are
/// gone. Must be called while lxrun has one thread (the fork copies only the caller).
pub(crate) fn split() -> Result<Role, SupervisorError> {
    let mut p = [0i32; 2];
    // SAFETY: `p` has room for two descriptors.
    if unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(SupervisorError::Start(format!(
            "pipe: {}",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: both descriptors are new and ours.
    let (alive_rd, alive_wr) = unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) };
    // SAFETY: lxrun is single-threaded here; the child continues as an ordinary copy.
    match unsafe { libc::fork() } {
        -1 => Err(SupervisorError::Start(format!(
            "fork: {}",
            std::io::Error::last_os_error()
        ))),
        0 => {
            drop(alive_wr);
            watch_guardian(alive_rd);
            Ok(Role::Supervisor)
        }
        supervisor => {
            drop(alive_rd);
            // SAFETY: a prctl on ourselves.
            unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
            signals::forward_to(supervisor);
            let outcome = guard(supervisor);
            drop(alive_wr);
            outcome.map(Role::Guardian)
        }
    }
}

/// The supervisor's side: a thread that waits for the guardian's end of the pipe to close,
/// which happens only if the guardian dies first, and then kills every guest.
fn watch_guardian(alive: OwnedFd) {
    std::thread::spawn(move || {
        let mut byte = 0u8;
        use std::os::fd::AsRawFd;
        // SAFETY: reading into a local; returns 0 (EOF) once the guardian is gone.
        while unsafe { libc::read(alive.as_raw_fd(), (&mut byte as *mut u8).cast(), 1) } < 0 {}
        // The supervisor's wait loop reaps them and then ends the run.
        kill_descendants(std::process::id() as i32);
    });
}

/// The guardian's side: waits for the supervisor, stops when it stops (job control), and
/// kills any guest the supervisor left behind by dying.
fn guard(supervisor: i32) -> Result<RunOutcome, SupervisorError> {
    let me = std::process::id() as i32;
    let mut exit = None;
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes the status into our local.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::__WALL | libc::WUNTRACED) };
        if pid < 0 {
            match nix::errno::Errno::last() {
                nix::errno::Errno::EINTR => continue,
                nix::errno::Errno::ECHILD => break,
                e => return Err(SupervisorError::Wait(e)),
            }
        }
        if pid != supervisor {
            continue; // an orphaned guest, reaped
        }
        if libc::WIFSTOPPED(status) {
            signals::stop_like(libc::WSTOPSIG(status));
            // SAFETY: continuing our own child after we were continued.
            unsafe { libc::kill(supervisor, libc::SIGCONT) };
            continue;
        }
        exit = Some(if libc::WIFEXITED(status) {
            GuestExit::Code(libc::WEXITSTATUS(status))
        } else {
            GuestExit::Signal {
                sig: libc::WTERMSIG(status),
                core: false,
            }
        });
        // The supervisor waits for every guest before it exits; any left were orphaned by its
        // death and came to us (the usual case, no child left, costs no scan of /proc).
        // SAFETY: a non-blocking wait that reaps nothing it should not.
        if unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::__WALL | libc::WNOHANG) } >= 0 {
            kill_descendants(me);
        }
    }
    Ok(RunOutcome {
        exit: exit.unwrap_or(GuestExit::Code(0)),
        launch_error: None,
    })
}

/// SIGKILLs every descendant of `root`, again until none is left (a guest may fork while the
/// tree is read). Each pass reads the process tree from /proc.
pub(crate) fn kill_descendants(root: i32) {
    for _ in 0..100 {
        let victims = descendants(root);
        if victims.is_empty() {
            return;
        }
        for pid in victims {
            // SAFETY: signalling a process we just found below us.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Every live process below `root` in the process tree.
fn descendants(root: i32) -> Vec<i32> {
    let mut parent_of = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
                continue;
            };
            if let Some(ppid) = live_parent(pid) {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        found.extend(parent_of.iter().filter(|&&(_, pp)| pp == p).map(|&(c, _)| c));
        i += 1;
    }
    found.remove(0);
    found
}

/// The parent pid in /proc/PID/stat (the field after the state, which follows the
/// parenthesized name); None for a zombie, which its parent's wait will take away.
fn live_parent(pid: i32) -> Option<i32> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.iter().rposition(|&b| b == b')')?;
    let mut fields = std::str::from_utf8(&stat[after + 1..]).ok()?.split_whitespace();
    if fields.next()? == "Z" {
        return None;
    }
    fields.next()?.parse().ok()
}
