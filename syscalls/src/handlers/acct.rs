//! acct(2): process accounting to a file named in the guest's tree, switched on (or off, for
//! NULL) by lxrun for a guest holding CAP_SYS_PACCT, where lxrun holds it too; EPERM
//! otherwise, as Linux refuses a caller without it (before looking at the name). Accounting
//! is the kernel's for the whole pid namespace, which the guests share with the host: the
//! file gets every process's records, as a root guest's call would natively.

use super::ids::has_cap;
use super::path::read_path;
use crate::context::SyscallCtx;
use crate::outcome::Outcome;
use crate::{Errno, SyscallArgs};
use lxrun_vfs::{Base, Target};
use std::ffi::CString;
use std::os::unix::fs::FileTypeExt;

const CAP_SYS_PACCT: u32 = 20;

pub(crate) fn acct(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    if !has_cap(ctx, CAP_SYS_PACCT) {
        return Err(Errno::EPERM);
    }
    if !crate::creds::Status::of(std::process::id() as i32).is_some_and(|s| s.has_cap(CAP_SYS_PACCT)) {
        tracing::info!("acct refused with EPERM: lxrun itself runs without CAP_SYS_PACCT");
        return Err(Errno::EPERM);
    }
    let name = call.args[0];
    if name == 0 {
        return perform(None);
    }
    let path = read_path(ctx, name)?;
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    // As the kernel opens it: O_WRONLY | O_APPEND, following a final symlink, no creation.
    let r = ctx.resolve(Base::Cwd, &path, true)?;
    if !r.exists {
        return Err(Errno::ENOENT);
    }
    let o = r.opened.clone().ok_or(Errno::ENOENT)?;
    let kind = o.metadata().map_err(|e| Errno::from_io(&e))?.file_type();
    if kind.is_fifo() {
        // The kernel's open would wait for a reader, then find no regular file: lxrun's
        // worker does not wait.
        return Err(Errno::EACCES);
    }
    if r.readonly {
        // Where the kernel takes its write access: a directory is EISDIR before it, a device
        // gets none and is acct's own EACCES after, a regular file is EROFS.
        return Err(if kind.is_dir() {
            Errno::EISDIR
        } else if kind.is_file() {
            Errno::EROFS
        } else {
            Errno::EACCES
        });
    }
    // The kernel opens the object the walker found, through its magic link, with the guest's
    // filesystem ids once the guest changed them.
    let _as_guest = ctx.as_guest()?;
    let target = Target::Object(o);
    let mut magic = target.proc_path();
    magic.pop();
    let result = perform(Some(&CString::new(magic).map_err(|_| Errno::EINVAL)?));
    drop(target);
    result
}

fn perform(name: Option<&CString>) -> Result<Outcome, Errno> {
    let ptr = name.map_or(std::ptr::null(), |n| n.as_ptr());
    // SAFETY: a valid C string or NULL.
    if unsafe { libc::acct(ptr) } != 0 {
        return Err(Errno::last());
    }
    Ok(Outcome::Return(0))
}
