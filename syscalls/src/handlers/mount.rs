//! mount and umount2: the guests' own mounts, made by the kernel in lxrun's private mount
//! namespace (`lxrun_vfs::kernel_mounts`) where lxrun may mount, on the objects the walker
//! resolved (their descriptors' magic links: a rename or symlink swap since cannot redirect the
//! kernel). Where lxrun may not mount, a guest gets EPERM, as an unprivileged Linux user does.
//! The mounts lxrun started with are the host's, or lxrun's own view of the guest's tree: the
//! guests mount on them and below them, but neither remount, move nor unmount them (EBUSY).

use super::ids::has_cap;
use super::path::read_path;
use crate::context::SyscallCtx;
use crate::memory::GuestPtr;
use crate::outcome::Outcome;
use crate::{Errno, SyscallArgs};
use lxrun_vfs::kernel_mounts::{mount_of, KernelMounts};
use lxrun_vfs::{Base, Opened, Resolved, Target};
use std::ffi::CString;
use std::os::fd::AsRawFd;

const CAP_SYS_ADMIN: u32 = 21;
const MS_MGC_VAL: u64 = 0xc0ed_0000;
const MS_MGC_MSK: u64 = 0xffff_0000;
const MS_NOUSER: u64 = 1 << 31;
const PROPAGATION: u64 = libc::MS_SHARED | libc::MS_PRIVATE | libc::MS_SLAVE | libc::MS_UNBINDABLE;
const PROC_SUPER_MAGIC: i64 = 0x9fa0;
/// What copy_mount_options copies of `data`: one page.
const DATA_MAX: usize = 4096;

/// A string argument as the kernel copies it (strndup_user with PATH_MAX): EFAULT, or EINVAL
/// when no NUL comes within a page.
fn mount_string(ctx: &SyscallCtx<'_>, ptr: u64) -> Result<Option<CString>, Errno> {
    if ptr == 0 {
        return Ok(None);
    }
    let s = ctx
        .mem
        .read_cstring(GuestPtr::new(ptr), lxrun_vfs::PATH_MAX - 1, Errno::EINVAL)?;
    Ok(Some(CString::new(s).map_err(|_| Errno::EINVAL)?))
}

/// `data` as copy_mount_options takes it: up to a page, as far as it is readable.
fn mount_data(ctx: &SyscallCtx<'_>, ptr: u64) -> Result<Option<CString>, Errno> {
    if ptr == 0 {
        return Ok(None);
    }
    let (bytes, _) = ctx.mem.read_cstring_prefix(GuestPtr::new(ptr), DATA_MAX - 1)?;
    Ok(Some(CString::new(bytes).map_err(|_| Errno::EINVAL)?))
}

/// The namespace lxrun performs the guests' mounts in, for a caller allowed to mount.
fn may_mount<'w>(ctx: &SyscallCtx<'w>) -> Result<&'w KernelMounts, Errno> {
    if !has_cap(ctx, CAP_SYS_ADMIN) {
        return Err(Errno::EPERM);
    }
    ctx.world.vfs.kernel_mounts().ok_or_else(|| {
        tracing::info!("mount refused with EPERM: lxrun itself may not mount (it runs without CAP_SYS_ADMIN)");
        Errno::EPERM
    })
}

fn existing(r: Resolved) -> Result<Resolved, Errno> {
    if r.exists {
        Ok(r)
    } else {
        Err(Errno::ENOENT)
    }
}

fn object(r: &Resolved) -> Result<Opened, Errno> {
    r.opened.clone().ok_or(Errno::ENOENT)
}

/// Refuses what a guest must not change: a mount lxrun started with (EBUSY). EINVAL where the
/// object is no mount's root, as Linux says.
fn guests_mount_root(km: &KernelMounts, o: &Opened) -> Result<(), Errno> {
    let (id, root) = mount_of(o.fd())?;
    if !root {
        return Err(Errno::EINVAL);
    }
    if km.is_inherited(id) {
        tracing::info!("mount: refused with EBUSY: the mount is one lxrun started with");
        return Err(Errno::EBUSY);
    }
    Ok(())
}

/// lxrun's own /proc, which it reads its guests' descriptors through: nothing may cover it.
fn is_lxruns_proc(o: &Opened) -> bool {
    use std::os::unix::fs::MetadataExt;
    let (Ok(here), Ok(proc)) = (o.metadata(), std::fs::metadata("/proc")) else {
        return false;
    };
    here.dev() == proc.dev() && here.ino() == proc.ino()
}

/// Whether `o` lies on a procfs: in a guest tree (not the host's), a procfs the walker does not
/// know as /proc would hand out the host's processes and their root links.
fn on_procfs(o: &Opened) -> bool {
    // SAFETY: fstatfs fills the zeroed struct for a descriptor we hold.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    unsafe { libc::fstatfs(o.fd().as_raw_fd(), &mut st) == 0 && st.f_type == PROC_SUPER_MAGIC }
}

fn perform(
    source: Option<&CString>,
    target: &CString,
    fstype: Option<&CString>,
    flags: u64,
    data: Option<&CString>,
) -> Result<Outcome, Errno> {
    let ptr = |s: Option<&CString>| s.map_or(std::ptr::null(), |s| s.as_ptr());
    // SAFETY: valid C strings or NULL, as mount(2) takes them.
    let rc = unsafe {
        libc::mount(
            ptr(source),
            target.as_ptr(),
            ptr(fstype),
            flags as libc::c_ulong,
            ptr(data).cast(),
        )
    };
    if rc != 0 {
        return Err(Errno::last());
    }
    Ok(Outcome::Return(0))
}

pub(crate) fn mount(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let [source, target, fstype, flags, data, _] = call.args;
    // As the kernel copies them: the type, the source, the data, then the target's lookup.
    let fstype = mount_string(ctx, fstype)?;
    let source = mount_string(ctx, source)?;
    let data = mount_data(ctx, data)?;
    let target = read_path(ctx, target)?;
    let mut flags = flags;
    if flags & MS_MGC_MSK == MS_MGC_VAL {
        flags &= !MS_MGC_MSK;
    }
    let at = existing(ctx.resolve(Base::Cwd, &target, true)?)?;
    if flags & MS_NOUSER != 0 {
        return Err(Errno::EINVAL);
    }
    let km = may_mount(ctx)?;
    let at_obj = object(&at)?;
    let at_path = magic(&at_obj)?;
    let foreign = !ctx.world.vfs.is_identity();
    if flags & libc::MS_REMOUNT != 0 {
        guests_mount_root(km, &at_obj)?;
        return perform(None, &at_path, None, flags, data.as_ref());
    }
    if is_lxruns_proc(&at_obj) {
        tracing::info!("mount: refused with EBUSY: lxrun reads its guests through this /proc");
        return Err(Errno::EBUSY);
    }
    if flags & libc::MS_BIND != 0 {
        let from = mount_source(ctx, source.as_ref())?;
        if foreign && on_procfs(&from) {
            tracing::info!("mount: refused with EPERM: a procfs bound into the guest's tree would show the host's");
            return Err(Errno::EPERM);
        }
        return perform(Some(&magic(&from)?), &at_path, None, flags, None);
    }
    if flags & PROPAGATION != 0 {
        return perform(None, &at_path, None, flags, None);
    }
    if flags & libc::MS_MOVE != 0 {
        let from = mount_source(ctx, source.as_ref())?;
        guests_mount_root(km, &from)?;
        return perform(Some(&magic(&from)?), &at_path, None, flags, None);
    }
    let Some(fstype) = fstype else {
        return Err(Errno::EINVAL);
    };
    if foreign && fstype.as_bytes() == b"proc" {
        tracing::info!(
            "mount: refused with EPERM: a second procfs in the guest's tree would show the host's processes"
        );
        return Err(Errno::EPERM);
    }
    let dev = source.as_ref().and_then(|s| device(ctx, s));
    let source = match &dev {
        Some(dev) => Some(magic(dev)?),
        None => source,
    };
    perform(source.as_ref(), &at_path, Some(&fstype), flags, data.as_ref())
}

/// The object a bind or move takes, looked up in the guest's tree (following symlinks).
fn mount_source(ctx: &SyscallCtx<'_>, source: Option<&CString>) -> Result<Opened, Errno> {
    // do_loopback and do_move_mount_old refuse a missing or empty name before any lookup.
    let name = source.filter(|n| !n.as_bytes().is_empty()).ok_or(Errno::EINVAL)?;
    object(&existing(ctx.resolve(Base::Cwd, name.as_bytes(), true)?)?)
}

/// A new mount's source, when it is a block device named in the guest's tree: the kernel is
/// given the object the walker found. Any other source (`none`, `tmpfs`, a server) is no path.
fn device(ctx: &SyscallCtx<'_>, name: &CString) -> Option<Opened> {
    use std::os::unix::fs::FileTypeExt;
    if name.as_bytes().first() != Some(&b'/') {
        return None;
    }
    ctx.resolve(Base::Cwd, name.as_bytes(), true)
        .ok()
        .filter(|r| r.exists)
        .and_then(|r| r.opened)
        .filter(|o| o.metadata().is_ok_and(|m| m.file_type().is_block_device()))
}

/// The magic link of `o` (the caller keeps `o` open while the kernel uses it).
fn magic(o: &Opened) -> Result<CString, Errno> {
    cstring(Target::Object(o.clone()).proc_path())
}

fn cstring(mut nul_terminated: Vec<u8>) -> Result<CString, Errno> {
    nul_terminated.pop();
    CString::new(nul_terminated).map_err(|_| Errno::EINVAL)
}

pub(crate) fn umount2(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let [target, flags, ..] = call.args;
    let known = libc::MNT_FORCE | libc::MNT_DETACH | libc::MNT_EXPIRE | libc::UMOUNT_NOFOLLOW;
    if flags & !(known as u64) != 0 {
        return Err(Errno::EINVAL);
    }
    let flags = flags as i32;
    let target = read_path(ctx, target)?;
    let follow = flags & libc::UMOUNT_NOFOLLOW == 0;
    let at = existing(ctx.resolve(Base::Cwd, &target, follow)?)?;
    let km = may_mount(ctx)?;
    guests_mount_root(km, &object(&at)?)?;
    // The kernel walks into the mount from its mount point's directory, by its name there: a
    // descriptor held inside the mount would make it busy. A mount point cannot be renamed,
    // and the name is not followed, so the walk ends where the walker's did.
    let (dir, name) = at.entry().ok_or(Errno::EINVAL)?;
    drop(at);
    let entry = Target::Entry(dir, name);
    let path = cstring(entry.proc_path())?;
    // SAFETY: a valid C string.
    if unsafe { libc::umount2(path.as_ptr(), flags | libc::UMOUNT_NOFOLLOW) } != 0 {
        return Err(Errno::last());
    }
    drop(entry);
    Ok(Outcome::Return(0))
}
