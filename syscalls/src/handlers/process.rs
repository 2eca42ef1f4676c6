//! Calls that reach into another process: allowed between guest processes, refused towards
//! anything else (lxrun itself above all: its memory and descriptors are the way out).

use crate::context::SyscallCtx;
use crate::outcome::Outcome;
use crate::{Errno, SyscallArgs};

/// process_vm_readv / process_vm_writev: the target pid is argument 0.
pub(crate) fn process_vm(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let pid = call.args[0] as i32;
    if ctx.world.process_of(pid).is_some() {
        Ok(Outcome::Continue)
    } else {
        Err(Errno::EPERM)
    }
}

/// umask: recorded (lxrun applies it to files it creates for the guest), then run natively.
pub(crate) fn umask(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    ctx.process.fs().umask = call.args[0] as u32 & 0o777;
    Ok(Outcome::Continue)
}

/// setuid and friends: noted (calls lxrun performs for the process must use its new
/// credentials), then run natively.
pub(crate) fn credentials(ctx: &mut SyscallCtx<'_>, _call: &SyscallArgs) -> Result<Outcome, Errno> {
    ctx.process.state().creds_changed = true;
    Ok(Outcome::Continue)
}
