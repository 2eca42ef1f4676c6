//! lxrun's own exit reproduces the guest's: the same status, or death by the same signal.

use lxrun_backends::GuestExit;

/// lxrun's status when it cannot set up the run at all (bad option, no memfd, no ptrace).
pub const SETUP_FAILURE: i32 = 125;

/// Exits like the guest did. Returns a status only if re-raising a signal did not kill us.
pub fn reproduce(exit: GuestExit) -> anyhow::Result<i32> {
    match exit {
        GuestExit::Code(c) => Ok(c),
        GuestExit::Signal { sig, .. } => {
            // As strace does: die of the same signal, without dumping a core of lxrun itself.
            // SAFETY: plain libc calls on our own process.
            unsafe {
                let none = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                libc::setrlimit(libc::RLIMIT_CORE, &none);
                libc::signal(sig, libc::SIG_DFL);
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, sig);
                libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
                libc::raise(sig);
            }
            Ok(128 + sig)
        }
    }
}
