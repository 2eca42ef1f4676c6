//! lxrun stands in for the guest towards whoever started it.
//!
//! - Signals *sent* to lxrun by another process are passed on to the guest's first process.
//!   Signals from the terminal (Ctrl-C, Ctrl-\, hangup, SIGCONT of `fg`) already reach the
//!   guest, which shares lxrun's process group, so they are not sent again: the kernel marks
//!   those SI_KERNEL, while kill() and sigqueue() from a process carry si_code <= 0.
//! - Job control: lxrun ignores the terminal's stop signals itself, and stops (with the same
//!   signal) when the guest's first process stops, so the shell sees the job stop; `fg`
//!   continues both.

use std::sync::atomic::{AtomicI32, Ordering};

static GUEST: AtomicI32 = AtomicI32::new(0);

const FORWARDED: [i32; 7] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGCONT,
];

const TERMINAL_STOPS: [i32; 3] = [libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU];

extern "C" fn forward(sig: i32, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let code = unsafe { (*info).si_code };
    let pid = GUEST.load(Ordering::Relaxed);
    if code <= 0 && pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

fn set(sig: i32, handler: usize, flags: i32) {
    // SAFETY: installing a disposition; the handler only calls async-signal-safe functions.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler;
        sa.sa_flags = flags;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(sig, &sa, std::ptr::null_mut());
    }
}

/// From now on, forward signals sent to lxrun to `pid`, and leave stopping to the guest.
pub(crate) fn forward_to(pid: i32) {
    GUEST.store(pid, Ordering::Relaxed);
    for sig in FORWARDED {
        set(sig, forward as *const () as usize, libc::SA_SIGINFO | libc::SA_RESTART);
    }
    for sig in TERMINAL_STOPS {
        set(sig, libc::SIG_IGN, 0);
    }
}

/// The guest's first process stopped with `sig`: stop lxrun the same way, until continued.
pub(crate) fn stop_like(sig: i32) {
    let terminal = TERMINAL_STOPS.contains(&sig);
    if terminal {
        set(sig, libc::SIG_DFL, 0);
    }
    // SAFETY: raising a stop signal on ourselves; execution resumes here on SIGCONT.
    unsafe { libc::raise(if terminal { sig } else { libc::SIGSTOP }) };
    if terminal {
        set(sig, libc::SIG_IGN, 0);
    }
}
