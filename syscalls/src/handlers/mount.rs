//! mount and umount2: the guests' own mounts, made by the kernel in lxrun's private mount
//! namespace (`lxrun_vfs::kernel_mounts`) where lxrun may mount, on the objects the walker
//! resolved (their descriptors' magic links: a rename or symlink swap since cannot redirect the
//! kernel). Where lxrun may not mount, a guest gets EPERM, as an unprivileged Linux user does.
//! The mounts lxrun started with are the host's, or lxrun's own view of the guest's tree: the
//! guests mount on them and below them, but neither remount, move nor unmount them (EBUSY).

use super::ids::has_cap;
use super::path::{path_arg, read_path};
use crate::context::SyscallCtx;
use crate::memory::GuestPtr;
use crate::outcome::{NewArg, Outcome};
use crate::{Errno, SyscallArgs};
use lxrun_vfs::kernel_mounts::{mount_of, KernelMounts};
use lxrun_vfs::{Base, Opened, Resolved, Target};
use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;

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
    let km = ctx.world.vfs.kernel_mounts().ok_or_else(|| {
        tracing::info!("mount refused with EPERM: lxrun itself may not mount (it runs without CAP_SYS_ADMIN)");
        Errno::EPERM
    })?;
    if !km.shared_by(ctx.tid) {
        tracing::info!(
            "mount refused with EPERM: the caller has a mount namespace of its own, where lxrun does not walk"
        );
        return Err(Errno::EPERM);
    }
    Ok(km)
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
        refuse_proc_in_guest_tree(ctx, &from)?;
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
    refuse_proc_type_in_guest_tree(ctx, &fstype)?;
    let source = match &source {
        Some(name) => device(ctx, name)?.or(source),
        None => None,
    };
    perform(source.as_ref(), &at_path, Some(&fstype), flags, data.as_ref())
}

/// The object a bind or move takes, looked up in the guest's tree (following symlinks).
fn mount_source(ctx: &SyscallCtx<'_>, source: Option<&CString>) -> Result<Opened, Errno> {
    // do_loopback and do_move_mount_old refuse a missing or empty name before any lookup.
    let name = source.filter(|n| !n.as_bytes().is_empty()).ok_or(Errno::EINVAL)?;
    object(&existing(ctx.resolve(Base::Cwd, name.as_bytes(), true)?)?)
}

/// A new mount's source, when it is a block device named in the guest's tree: its host path,
/// which the kernel keeps as the mount's source for /proc/self/mounts (a magic link would show
/// there), checked to name the device the walker found. Any other source (`none`, `tmpfs`, a
/// server) is no path, and is passed as it is.
fn device(ctx: &SyscallCtx<'_>, name: &CString) -> Result<Option<CString>, Errno> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    if name.as_bytes().first() != Some(&b'/') {
        return Ok(None);
    }
    let Some(r) = ctx.resolve(Base::Cwd, name.as_bytes(), true).ok().filter(|r| r.exists) else {
        return Ok(None);
    };
    let Some(found) = r.opened.as_ref().and_then(|o| o.metadata().ok()) else {
        return Ok(None);
    };
    if !found.file_type().is_block_device() {
        return Ok(None);
    }
    let by_name = std::fs::metadata(&r.host).ok();
    if by_name.is_some_and(|m| m.rdev() == found.rdev() && m.ino() == found.ino()) {
        return Ok(Some(
            CString::new(r.host.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?,
        ));
    }
    // Its name leads elsewhere by now (renamed): the kernel looks the name up itself.
    Ok(None)
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

// The new mount API (fsopen, fsconfig, fsmount, move_mount, open_tree, fspick, mount_setattr):
// the calls that take a path, or make a filesystem context or a mount, are lxrun's, performed on
// the walker's objects and answered with a descriptor of lxrun's copied to the guest; the rest
// (fsconfig's keys and values, fsmount) act on those descriptors and run as the guest's own.

const FSOPEN_CLOEXEC: u64 = 1;
const FSPICK_CLOEXEC: u64 = 1;
const FSPICK_SYMLINK_NOFOLLOW: u64 = 2;
const FSPICK_NO_AUTOMOUNT: u64 = 4;
const FSPICK_EMPTY_PATH: u64 = 8;
const OPEN_TREE_CLONE: u64 = 1;
const OPEN_TREE_CLOEXEC: u64 = libc::O_CLOEXEC as u64;
const AT_RECURSIVE: u64 = 0x8000;
const MOVE_MOUNT_F_SYMLINKS: u64 = 0x1;
const MOVE_MOUNT_F_AUTOMOUNTS: u64 = 0x2;
const MOVE_MOUNT_F_EMPTY_PATH: u64 = 0x4;
const MOVE_MOUNT_T_SYMLINKS: u64 = 0x10;
const MOVE_MOUNT_T_AUTOMOUNTS: u64 = 0x20;
const MOVE_MOUNT_T_EMPTY_PATH: u64 = 0x40;
const MOVE_MOUNT_SET_GROUP: u64 = 0x100;
const MOVE_MOUNT_BENEATH: u64 = 0x200;
const FSCONFIG_SET_PATH: u64 = 3;
const FSCONFIG_SET_PATH_EMPTY: u64 = 4;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
const MOUNT_ATTR_SIZE_VER0: u64 = 32;
const AT_EMPTY_PATH: u64 = libc::AT_EMPTY_PATH as u64;
const AT_SYMLINK_NOFOLLOW: u64 = libc::AT_SYMLINK_NOFOLLOW as u64;
const AT_NO_AUTOMOUNT: u64 = libc::AT_NO_AUTOMOUNT as u64;

/// What `dfd` + `path` name: `path` empty names `dfd` itself where `empty` allows it (else
/// ENOENT, as for any lookup of "").
pub(super) fn resolved_at(
    ctx: &SyscallCtx<'_>,
    dfd: u64,
    path: u64,
    follow: bool,
    empty: bool,
) -> Result<Resolved, Errno> {
    let name = read_path(ctx, path)?;
    let dfd = dfd as i32;
    let base = if dfd == libc::AT_FDCWD {
        Base::Cwd
    } else {
        Base::Fd(dfd)
    };
    if name.is_empty() {
        if !empty {
            return Err(Errno::ENOENT);
        }
        return match base {
            Base::Cwd => ctx.resolve(Base::Cwd, b".", true),
            Base::Fd(fd) => ctx.resolve_fd(fd),
        };
    }
    existing(ctx.resolve(base, &name, follow)?)
}

fn object_at(ctx: &SyscallCtx<'_>, dfd: u64, path: u64, follow: bool, empty: bool) -> Result<Opened, Errno> {
    object(&resolved_at(ctx, dfd, path, follow, empty)?)
}

/// A descriptor lxrun's call returned, for the guest.
fn new_fd(rc: libc::c_long, cloexec: bool) -> Result<Outcome, Errno> {
    if rc < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the call returned a new descriptor, ours alone.
    let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(rc as i32) };
    Ok(Outcome::NewFd { fd, cloexec })
}

/// In a guest tree, no procfs the walker does not know as /proc (EPERM): it would hand out
/// the host's processes and their root links. A bind or clone of one (`o` lies on a procfs)...
fn refuse_proc_in_guest_tree(ctx: &SyscallCtx<'_>, o: &Opened) -> Result<(), Errno> {
    refuse_procfs(ctx, on_procfs(o))
}

/// ... or a new one (`fstype`, of mount or fsopen).
fn refuse_proc_type_in_guest_tree(ctx: &SyscallCtx<'_>, fstype: &CString) -> Result<(), Errno> {
    refuse_procfs(ctx, fstype.as_bytes() == b"proc")
}

fn refuse_procfs(ctx: &SyscallCtx<'_>, procfs: bool) -> Result<(), Errno> {
    if procfs && !ctx.world.vfs.is_identity() {
        tracing::info!("mount: refused with EPERM: a procfs in the guest's tree would show the host's processes");
        return Err(Errno::EPERM);
    }
    Ok(())
}

pub(crate) fn fsopen(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let [name, flags, ..] = call.args;
    may_mount(ctx)?;
    if flags & !FSOPEN_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    let name = mount_string(ctx, name)?.ok_or(Errno::EFAULT)?;
    refuse_proc_type_in_guest_tree(ctx, &name)?;
    // SAFETY: a valid C string.
    let rc = unsafe { libc::syscall(libc::SYS_fsopen, name.as_ptr(), FSOPEN_CLOEXEC) };
    new_fd(rc, flags & FSOPEN_CLOEXEC != 0)
}

/// fsconfig: only the keys that name a path need lxrun (they are given the walker's object);
/// every other command runs as the guest's own call on its context.
pub(crate) fn fsconfig(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let [fs_fd, cmd, key, value, aux, _] = call.args;
    if cmd != FSCONFIG_SET_PATH && cmd != FSCONFIG_SET_PATH_EMPTY {
        return Ok(Outcome::Continue);
    }
    let key = mount_string(ctx, key)?.ok_or(Errno::EINVAL)?;
    let at = object_at(ctx, aux, value, true, cmd == FSCONFIG_SET_PATH_EMPTY)?;
    let context = object(&ctx.resolve_fd(fs_fd as i32)?)?;
    let path = magic(&at)?;
    // SAFETY: valid C strings and descriptors we hold.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            context.fd().as_raw_fd(),
            FSCONFIG_SET_PATH,
            key.as_ptr(),
            path.as_ptr(),
            libc::AT_FDCWD,
        )
    };
    if rc < 0 {
        return Err(Errno::last());
    }
    Ok(Outcome::Return(0))
}

/// open_tree's descriptor is an O_PATH file, which only SCM_RIGHTS or the guest's own call can
/// carry (SECCOMP_IOCTL_NOTIF_ADDFD refuses it): the call is rewritten to name the walker's
/// object, for the ptrace backends to let the guest make it and for systrap mode's
/// SYS_LXRUN_OPEN_PATH to perform it on the object and pass the result.
pub(crate) fn open_tree(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let [dfd, path, flags, ..] = call.args;
    let known =
        OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_RECURSIVE;
    if flags & !known != 0 || (flags & AT_RECURSIVE != 0 && flags & OPEN_TREE_CLONE == 0) {
        return Err(Errno::EINVAL);
    }
    let clone = flags & OPEN_TREE_CLONE != 0;
    if clone {
        may_mount(ctx)?;
    }
    let follow = flags & AT_SYMLINK_NOFOLLOW == 0;
    let r = resolved_at(ctx, dfd, path, follow, flags & AT_EMPTY_PATH != 0)?;
    if clone {
        refuse_proc_in_guest_tree(ctx, &object(&r)?)?;
    }
    // The object when following, else its entry, not followed (the flag stays).
    let new_path = path_arg(ctx, &r, follow)?;
    Ok(Outcome::Rewrite(vec![
        (0, NewArg::Int(libc::AT_FDCWD as u64)),
        (1, new_path),
        (2, NewArg::Int(flags & !AT_EMPTY_PATH)),
    ]))
}

pub(crate) fn fspick(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let [dfd, path, flags, ..] = call.args;
    let km = may_mount(ctx)?;
    let known = FSPICK_CLOEXEC | FSPICK_SYMLINK_NOFOLLOW | FSPICK_NO_AUTOMOUNT | FSPICK_EMPTY_PATH;
    if flags & !known != 0 {
        return Err(Errno::EINVAL);
    }
    let at = object_at(
        ctx,
        dfd,
        path,
        flags & FSPICK_SYMLINK_NOFOLLOW == 0,
        flags & FSPICK_EMPTY_PATH != 0,
    )?;
    // A superblock lxrun started with is the host's: reconfiguring it would change the host.
    guests_mount_root(km, &at)?;
    let mine = FSPICK_CLOEXEC | FSPICK_EMPTY_PATH | flags & FSPICK_NO_AUTOMOUNT;
    // SAFETY: an empty C string and a descriptor we hold.
    let rc = unsafe { libc::syscall(libc::SYS_fspick, at.fd().as_raw_fd(), c"".as_ptr(), mine) };
    new_fd(rc, flags & FSPICK_CLOEXEC != 0)
}

pub(crate) fn move_mount(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let [from_dfd, from_path, to_dfd, to_path, flags, _] = call.args;
    let known = MOVE_MOUNT_F_SYMLINKS
        | MOVE_MOUNT_F_AUTOMOUNTS
        | MOVE_MOUNT_F_EMPTY_PATH
        | MOVE_MOUNT_T_SYMLINKS
        | MOVE_MOUNT_T_AUTOMOUNTS
        | MOVE_MOUNT_T_EMPTY_PATH
        | MOVE_MOUNT_SET_GROUP
        | MOVE_MOUNT_BENEATH;
    let km = may_mount(ctx)?;
    if flags & !known != 0 {
        return Err(Errno::EINVAL);
    }
    let from = object_at(
        ctx,
        from_dfd,
        from_path,
        flags & MOVE_MOUNT_F_SYMLINKS != 0,
        flags & MOVE_MOUNT_F_EMPTY_PATH != 0,
    )?;
    let to = object_at(
        ctx,
        to_dfd,
        to_path,
        flags & MOVE_MOUNT_T_SYMLINKS != 0,
        flags & MOVE_MOUNT_T_EMPTY_PATH != 0,
    )?;
    // A detached mount (fsmount, open_tree's clone) is the guests'; an attached one must be.
    if let Ok((id, true)) = mount_of(from.fd()) {
        if km.is_inherited(id) {
            tracing::info!("move_mount: refused with EBUSY: the mount is one lxrun started with");
            return Err(Errno::EBUSY);
        }
    }
    if is_lxruns_proc(&to) {
        return Err(Errno::EBUSY);
    }
    refuse_proc_in_guest_tree(ctx, &from)?;
    let mine = flags & (MOVE_MOUNT_SET_GROUP | MOVE_MOUNT_BENEATH) | MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH;
    // SAFETY: empty C strings and descriptors we hold.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.fd().as_raw_fd(),
            c"".as_ptr(),
            to.fd().as_raw_fd(),
            c"".as_ptr(),
            mine,
        )
    };
    if rc < 0 {
        return Err(Errno::last());
    }
    Ok(Outcome::Return(0))
}

pub(crate) fn mount_setattr(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let [dfd, path, flags, uattr, size, _] = call.args;
    let known = AT_EMPTY_PATH | AT_RECURSIVE | AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT;
    if flags & !known != 0 {
        return Err(Errno::EINVAL);
    }
    if size < MOUNT_ATTR_SIZE_VER0 {
        return Err(Errno::EINVAL);
    }
    if size > DATA_MAX as u64 {
        return Err(Errno::E2BIG);
    }
    // Read once: the kernel is given lxrun's copy.
    let mut attr = vec![0u8; size as usize];
    ctx.mem.read_bytes(uattr, &mut attr)?;
    let word = |i: usize| u64::from_ne_bytes(attr[i * 8..i * 8 + 8].try_into().unwrap_or_default());
    if word(0) & MOUNT_ATTR_IDMAP != 0 {
        // Its user namespace is a descriptor of the guest's, which lxrun does not carry over.
        tracing::info!("mount_setattr: MOUNT_ATTR_IDMAP refused with EPERM: not supported yet");
        return Err(Errno::EPERM);
    }
    let km = may_mount(ctx)?;
    let at = object_at(
        ctx,
        dfd,
        path,
        flags & AT_SYMLINK_NOFOLLOW == 0,
        flags & AT_EMPTY_PATH != 0,
    )?;
    guests_mount_root(km, &at)?;
    let mine = flags & (AT_RECURSIVE | AT_NO_AUTOMOUNT) | AT_EMPTY_PATH;
    // SAFETY: an empty C string, a descriptor we hold, and our copy of the attributes.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            at.fd().as_raw_fd(),
            c"".as_ptr(),
            mine,
            attr.as_ptr(),
            attr.len(),
        )
    };
    if rc < 0 {
        return Err(Errno::last());
    }
    Ok(Outcome::Return(0))
}
