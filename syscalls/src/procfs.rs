//! The parts of /proc that must answer for the guest rather than for the host: today the
//! `exe` links, which on the host name the loader stub's memfd.

use crate::context::SyscallCtx;

/// The guest program behind `/proc/self/exe`, `/proc/thread-self/exe` or `/proc/PID/exe`
/// when PID is a guest process; None for any other path.
pub(crate) fn exe_link(ctx: &SyscallCtx<'_>, path: &[u8]) -> Option<Vec<u8>> {
    let rest = path.strip_prefix(b"/proc/")?.strip_suffix(b"/exe")?;
    let process = match rest {
        b"self" | b"thread-self" => ctx.process.clone(),
        digits => {
            let pid: i32 = std::str::from_utf8(digits).ok()?.parse().ok()?;
            ctx.world.process(pid)?
        }
    };
    let exe = process.state().exe.clone();
    (!exe.is_empty()).then_some(exe)
}
