//! Signals sent to lxrun by another process are passed on to the guest's first process.
//!
//! Signals from the terminal (Ctrl-C, Ctrl-\, hangup) already reach the guest, which shares
//! lxrun's process group, so they are not forwarded again: the kernel marks those SI_KERNEL,
//! while kill() and sigqueue() from a process carry si_code <= 0.

use std::sync::atomic::{AtomicI32, Ordering};

static GUEST: AtomicI32 = AtomicI32::new(0);

const FORWARDED: [i32; 6] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

extern "C" fn forward(sig: i32, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let code = unsafe { (*info).si_code };
    let pid = GUEST.load(Ordering::Relaxed);
    if code <= 0 && pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

/// From now on, forward signals sent to lxrun to `pid`.
pub(crate) fn forward_to(pid: i32) {
    GUEST.store(pid, Ordering::Relaxed);
    for sig in FORWARDED {
        // SAFETY: installing a handler that only calls async-signal-safe functions.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = forward as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}
