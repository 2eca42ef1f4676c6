//! Filesystem calls. For now: readlink of `/proc/<self|PID>/exe`, which on the host names the
//! loader stub, answered with the guest program's path.

use crate::context::SyscallCtx;
use crate::memory::GuestPtr;
use crate::outcome::Outcome;
use crate::procfs;
use crate::{Errno, SyscallArgs};
use lxrun_vfs::PATH_MAX;

pub(crate) fn readlink(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let [path, buf, size, ..] = call.args;
    readlink_common(ctx, path, buf, size)
}

pub(crate) fn readlinkat(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    // Only absolute /proc paths are answered here, so the dirfd never matters.
    let [_dirfd, path, buf, size, ..] = call.args;
    readlink_common(ctx, path, buf, size)
}

fn readlink_common(ctx: &mut SyscallCtx<'_>, path: u64, buf: u64, size: u64) -> Result<Outcome, Errno> {
    let path = ctx
        .mem
        .read_cstring(GuestPtr::new(path), PATH_MAX - 1, Errno::ENAMETOOLONG)?;
    let Some(target) = procfs::exe_link(ctx, &path) else {
        return Ok(Outcome::Continue);
    };
    if (size as i64) <= 0 {
        return Err(Errno::EINVAL);
    }
    let n = target.len().min(size as usize);
    ctx.mem.write_bytes(buf, &target[..n])?;
    Ok(Outcome::Return(n as i64))
}
