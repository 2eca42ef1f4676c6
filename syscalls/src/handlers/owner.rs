//! A fake root's files: stat shows the owner, group, mode and device the guest gave a file
//! (`lxrun_vfs::meta`), chown and chmod record them by the kernel's permission rules for the
//! caller's fake identity, mknod of a device records one on a plain file, and the record's
//! extended attribute is hidden from the guest's xattr calls. Without a fake root each call
//! goes to its ordinary handler.

use super::path::{self, spec, PathArg};
use crate::context::SyscallCtx;
use crate::identity::{self, Identity, KEEP};
use crate::memory::GuestPtr;
use crate::outcome::Outcome;
use crate::world::FakeRoot;
use crate::{Errno, SyscallArgs};
use lxrun_vfs::meta::{self, Meta};
use lxrun_vfs::{Base, Opened, Resolved};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::OpenOptionsExt;

type Handler = fn(&mut SyscallCtx<'_>, &SyscallArgs) -> Result<Outcome, Errno>;

/// The fake root and the caller's identity, or None (the ordinary handler's turn).
fn fake<'w>(ctx: &SyscallCtx<'w>) -> Option<(&'w FakeRoot, Identity)> {
    Some((ctx.world.fake.as_ref()?, ctx.identity()?))
}

/// A fake root's *at call refuses unknown flags (EINVAL) before any lookup, as the kernel does
/// (without one, the kernel itself checks them when the call runs).
fn fake_flags(ctx: &SyscallCtx<'_>, flags: u64, known: i32) -> Result<(), Errno> {
    if ctx.world.fake.is_some() && flags & !(known as u64) != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// The guest's descriptor `fd` (AT_FDCWD: its cwd) as lxrun's, with its mount's flags.
fn fd_resolved(ctx: &SyscallCtx<'_>, fd: i32) -> Result<Resolved, Errno> {
    if fd == libc::AT_FDCWD {
        ctx.resolve(Base::Cwd, b".", true)
    } else {
        ctx.resolve_fd(fd)
    }
}

/// The object path argument `a` names, as the call looks it up (a final symlink not followed
/// is the link), or the descriptor the call names with AT_EMPTY_PATH; EROFS for a call that
/// writes on a read-only mount.
fn object(ctx: &SyscallCtx<'_>, call: &SyscallArgs, a: &PathArg) -> Result<Opened, Errno> {
    let r = match path::resolve_arg(ctx, call, a)? {
        Some(r) if !r.exists => return Err(Errno::ENOENT),
        Some(r) => r,
        None => {
            let r = fd_resolved(ctx, a.dirfd.map_or(libc::AT_FDCWD, |i| call.args[i] as i32))?;
            if r.readonly && matches!(a.writes, path::Writes::Yes) {
                return Err(Errno::EROFS);
            }
            r
        }
    };
    r.opened.ok_or(Errno::ENOENT)
}

/// What the guest sees of `o`: host stat, and the record (a symlink's from this run's table).
pub(crate) fn seen(fake: &FakeRoot, o: &Opened) -> Result<(libc::stat, Meta), Errno> {
    let (st, mut m) = meta::of(o, fake.host)?;
    if !matches!(st.st_mode & libc::S_IFMT, libc::S_IFREG | libc::S_IFDIR) {
        let owners = fake.link_owners.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&(uid, gid)) = owners.get(&(st.st_dev, st.st_ino)) {
            (m.uid, m.gid) = (uid, gid);
        }
    }
    Ok((st, m))
}

/// Keeps what the guest set on `o`: on the file, or for a symlink, socket or FIFO (user xattrs
/// are for regular files and directories only) its owners in this run's table.
fn record(fake: &FakeRoot, o: &Opened, st: &libc::stat, m: &Meta) -> Result<(), Errno> {
    if !matches!(st.st_mode & libc::S_IFMT, libc::S_IFREG | libc::S_IFDIR) {
        let mut owners = fake.link_owners.lock().unwrap_or_else(|p| p.into_inner());
        owners.insert((st.st_dev, st.st_ino), (m.uid, m.gid));
        return Ok(());
    }
    meta::write(o, st, m)
}

fn as_bytes<T>(v: &T) -> &[u8] {
    // SAFETY: the kernel's stat structs: plain integers with explicit padding fields.
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), size_of::<T>()) }
}

/// stat's answer for `o` into the guest's buffer at `buf`.
fn stat_into(ctx: &SyscallCtx<'_>, fake: &FakeRoot, o: &Opened, buf: u64) -> Result<Outcome, Errno> {
    let (mut st, m) = seen(fake, o)?;
    m.apply(&mut st);
    ctx.mem.write_bytes(buf, as_bytes(&st))?;
    Ok(Outcome::Return(0))
}

/// A fake root's work on the object path argument `a` names, or the ordinary handler's call.
fn on_object(
    ctx: &mut SyscallCtx<'_>,
    call: &SyscallArgs,
    a: &PathArg,
    plain: Handler,
    work: impl FnOnce(&SyscallCtx<'_>, &FakeRoot, &Identity, &Opened) -> Result<Outcome, Errno>,
) -> Result<Outcome, Errno> {
    let Some((fake, id)) = fake(ctx) else {
        return plain(ctx, call);
    };
    let o = object(ctx, call, a)?;
    work(ctx, fake, &id, &o)
}

fn stat_via(
    ctx: &mut SyscallCtx<'_>,
    call: &SyscallArgs,
    a: &PathArg,
    buf: usize,
    plain: Handler,
) -> Result<Outcome, Errno> {
    on_object(ctx, call, a, plain, |ctx, fake, _, o| {
        stat_into(ctx, fake, o, call.args[buf])
    })
}

fn chown_via(
    ctx: &mut SyscallCtx<'_>,
    call: &SyscallArgs,
    a: &PathArg,
    ids: usize,
    plain: Handler,
) -> Result<Outcome, Errno> {
    on_object(ctx, call, a, plain, |_, fake, id, o| {
        chown_object(fake, id, o, call.args[ids] as u32, call.args[ids + 1] as u32)
    })
}

fn chmod_via(
    ctx: &mut SyscallCtx<'_>,
    call: &SyscallArgs,
    a: &PathArg,
    mode: usize,
    plain: Handler,
) -> Result<Outcome, Errno> {
    on_object(ctx, call, a, plain, |_, fake, id, o| {
        chmod_object(fake, id, o, call.args[mode] as u32)
    })
}

fn list_via(
    ctx: &mut SyscallCtx<'_>,
    call: &SyscallArgs,
    a: &PathArg,
    list: usize,
    plain: Handler,
) -> Result<Outcome, Errno> {
    on_object(ctx, call, a, plain, |ctx, _, _, o| {
        list_into(ctx, o, call.args[list], call.args[list + 1])
    })
}

pub(crate) fn stat(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    stat_via(ctx, call, &spec::stat[0], 1, path::stat)
}

pub(crate) fn lstat(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    stat_via(ctx, call, &spec::lstat[0], 1, path::lstat)
}

pub(crate) fn newfstatat(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    fake_flags(
        ctx,
        call.args[3],
        libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH | libc::AT_NO_AUTOMOUNT,
    )?;
    stat_via(ctx, call, &spec::newfstatat[0], 2, path::newfstatat)
}

/// fstat: a fake root's owners for any descriptor; without one it runs natively.
pub(crate) fn fstat(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let Some((fake, _)) = fake(ctx) else {
        return Ok(Outcome::Continue);
    };
    let o = fd_resolved(ctx, call.args[0] as i32)?.opened.ok_or(Errno::EBADF)?;
    stat_into(ctx, fake, &o, call.args[1])
}

pub(crate) fn statx(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let Some((fake, _)) = fake(ctx) else {
        return path::statx_checked(ctx, call);
    };
    let flags = call.args[2];
    path::statx_args(flags, call.args[3])?;
    let o = object(ctx, call, &spec::statx[0])?;
    let mut stx = std::mem::MaybeUninit::<libc::statx>::zeroed();
    // SAFETY: an empty C string, a descriptor we hold and a buffer of the right size.
    let r = unsafe {
        libc::statx(
            o.fd().as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | (flags & path::STATX_SYNC_TYPE) as i32,
            call.args[3] as u32,
            stx.as_mut_ptr(),
        )
    };
    if r < 0 {
        return Err(Errno::last());
    }
    // SAFETY: filled by the kernel.
    let mut stx = unsafe { stx.assume_init() };
    let (_, m) = seen(fake, &o)?;
    stx.stx_mode = m.mode_over(u32::from(stx.stx_mode)) as u16;
    stx.stx_uid = m.uid;
    stx.stx_gid = m.gid;
    if m.is_device() {
        stx.stx_rdev_major = libc::major(m.rdev);
        stx.stx_rdev_minor = libc::minor(m.rdev);
    }
    ctx.mem.write_bytes(call.args[4], as_bytes(&stx))?;
    Ok(Outcome::Return(0))
}

/// chown's rules (fs/attr.c chown_ok, chgrp_ok): the owner may give a file to a group it is
/// in, CAP_CHOWN anything. A non-directory loses its set-user-id bit, and its set-group-id bit
/// where group execution is allowed, as on Linux.
fn chown_object(fake: &FakeRoot, id: &Identity, o: &Opened, uid: u32, gid: u32) -> Result<Outcome, Errno> {
    let (st, mut m) = seen(fake, o)?;
    let cap = id.capable(identity::CAP_CHOWN);
    let owner = id.uid[3] == m.uid;
    let uid_ok = uid == KEEP || cap || (owner && uid == m.uid);
    let gid_ok = gid == KEEP || cap || (owner && (gid == m.gid || id.in_group(gid)));
    if !(uid_ok && gid_ok) {
        return Err(Errno::EPERM);
    }
    if uid != KEEP {
        m.uid = uid;
    }
    if gid != KEEP {
        m.gid = gid;
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        m.mode &= !libc::S_ISUID;
        if m.mode & (libc::S_ISGID | libc::S_IXGRP) == (libc::S_ISGID | libc::S_IXGRP) {
            m.mode &= !libc::S_ISGID;
        }
    }
    record(fake, o, &st, &m)?;
    Ok(Outcome::Return(0))
}

pub(crate) fn chown(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    chown_via(ctx, call, &spec::chown[0], 1, path::chown)
}

pub(crate) fn lchown(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    chown_via(ctx, call, &spec::lchown[0], 1, path::lchown)
}

pub(crate) fn fchownat(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    fake_flags(ctx, call.args[4], libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH)?;
    chown_via(ctx, call, &spec::fchownat[0], 2, path::fchownat)
}

/// The file behind descriptor `fd` for fchown and fchmod: EBADF for an O_PATH one, EROFS on a
/// read-only mount.
fn fd_object(ctx: &SyscallCtx<'_>, fd: i32) -> Result<Opened, Errno> {
    let r = ctx.resolve_fd(fd)?;
    if path::held_file_flags(&r) & libc::O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    if r.readonly {
        return Err(Errno::EROFS);
    }
    r.opened.ok_or(Errno::EBADF)
}

/// A fake root's work on the file behind descriptor argument 0 (fchown, fchmod), or the
/// ordinary read-only-mount check.
fn on_fd_object(
    ctx: &mut SyscallCtx<'_>,
    call: &SyscallArgs,
    work: impl FnOnce(&FakeRoot, &Identity, &Opened) -> Result<Outcome, Errno>,
) -> Result<Outcome, Errno> {
    let Some((fake, id)) = fake(ctx) else {
        return path::fd_write(ctx, call);
    };
    let o = fd_object(ctx, call.args[0] as i32)?;
    work(fake, &id, &o)
}

pub(crate) fn fchown(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    on_fd_object(ctx, call, |fake, id, o| {
        chown_object(fake, id, o, call.args[1] as u32, call.args[2] as u32)
    })
}

/// chmod's rules: the owner or CAP_FOWNER; the set-group-id bit needs the file's group (or
/// CAP_FSETID). The host file gets the permission bits, always open to the host user
/// (`meta::host_mode_bits`); the guest's whole mode is recorded.
fn chmod_object(fake: &FakeRoot, id: &Identity, o: &Opened, mode: u32) -> Result<Outcome, Errno> {
    let (st, mut m) = seen(fake, o)?;
    let kind = st.st_mode & libc::S_IFMT;
    if kind == libc::S_IFLNK {
        return Err(Errno::ENOTSUP);
    }
    if id.uid[3] != m.uid && !id.capable(identity::CAP_FOWNER) {
        return Err(Errno::EPERM);
    }
    let mut perms = mode & 0o7777;
    if !id.in_group(m.gid) && !id.capable(identity::CAP_FSETID) {
        perms &= !libc::S_ISGID;
    }
    let magic = meta::magic(o);
    // Sockets and FIFOs cannot carry a record: their mode is the host's, as the guest set it.
    if kind != libc::S_IFREG && kind != libc::S_IFDIR && !m.is_device() {
        // SAFETY: a NUL-terminated path.
        if unsafe { libc::chmod(magic.as_ptr(), perms & 0o1777) } < 0 {
            return Err(Errno::last());
        }
        return Ok(Outcome::Return(0));
    }
    m.mode = (m.mode & libc::S_IFMT) | perms;
    let host = meta::host_mode_bits(st.st_mode, perms);
    // SAFETY: a NUL-terminated path.
    if unsafe { libc::chmod(magic.as_ptr(), host) } < 0 {
        return Err(Errno::last());
    }
    let mut st = st;
    st.st_mode = (st.st_mode & libc::S_IFMT) | host;
    record(fake, o, &st, &m)?;
    Ok(Outcome::Return(0))
}

pub(crate) fn chmod(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    chmod_via(ctx, call, &spec::chmod[0], 1, path::chmod)
}

pub(crate) fn fchmodat(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    chmod_via(ctx, call, &spec::fchmodat[0], 2, path::fchmodat)
}

pub(crate) fn fchmodat2(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    fake_flags(ctx, call.args[3], libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH)?;
    chmod_via(ctx, call, &spec::fchmodat2[0], 2, path::fchmodat2)
}

pub(crate) fn fchmod(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    on_fd_object(ctx, call, |fake, id, o| chmod_object(fake, id, o, call.args[1] as u32))
}

/// mknod of a device by a fake root (CAP_MKNOD): a plain, empty host file carrying the
/// device's record, which stat shows as the device. Anything else is made as usual.
fn mknod_via(
    ctx: &mut SyscallCtx<'_>,
    call: &SyscallArgs,
    a: &PathArg,
    mode: usize,
    plain: Handler,
) -> Result<Outcome, Errno> {
    let kind = call.args[mode] as u32 & libc::S_IFMT;
    let Some((_, id)) = fake(ctx).filter(|_| kind == libc::S_IFCHR || kind == libc::S_IFBLK) else {
        return plain(ctx, call);
    };
    if !id.capable(identity::CAP_MKNOD) {
        return Err(Errno::EPERM);
    }
    let r = path::resolve_arg(ctx, call, a)?.ok_or(Errno::ENOENT)?;
    if r.exists {
        return Err(Errno::EEXIST);
    }
    let (dir, name) = r.entry().ok_or(Errno::ENOENT)?;
    let name = std::ffi::CString::new(name).map_err(|_| Errno::EINVAL)?;
    let umask = ctx.process.fs().umask;
    let perms = call.args[mode] as u32 & 0o7777 & !umask;
    // SAFETY: a directory we hold and a NUL-terminated name; the result is owned at once.
    let o = unsafe {
        let fd = libc::openat(
            dir.fd().as_raw_fd(),
            name.as_ptr(),
            libc::O_CREAT | libc::O_EXCL | libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0o600,
        );
        if fd < 0 {
            return Err(Errno::last());
        }
        Opened::new(std::os::fd::OwnedFd::from_raw_fd(fd))
    };
    let m = Meta {
        uid: id.uid[3],
        gid: id.gid[3],
        mode: kind | perms,
        rdev: call.args[mode + 1],
    };
    let st = meta::host_stat(&o)?;
    meta::write(&o, &st, &m)?;
    Ok(Outcome::Return(0))
}

pub(crate) fn mknod(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    mknod_via(ctx, call, &spec::mknod_path[0], 1, path::mknod)
}

pub(crate) fn mknodat(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    mknod_via(ctx, call, &spec::mknodat_path[0], 2, path::mknodat)
}

/// Whether xattr call's name (argument `arg`) is the record's: the guest neither reads,
/// changes nor removes it.
fn names_record(ctx: &SyscallCtx<'_>, call: &SyscallArgs, arg: usize) -> bool {
    ctx.world.fake.is_some()
        && ctx
            .mem
            .read_cstring(GuestPtr::new(call.args[arg]), 256, Errno::ERANGE)
            .is_ok_and(|n| n == meta::XATTR.as_bytes())
}

/// An xattr call naming the record: the file is looked up as usual, then the record is
/// missing (a get: ENODATA) or not the guest's to change (EPERM).
fn on_record(ctx: &SyscallCtx<'_>, call: &SyscallArgs, a: Option<&PathArg>, get: bool) -> Result<Outcome, Errno> {
    match a {
        Some(a) => drop(object(ctx, call, a)?),
        None => drop(fd_resolved(ctx, call.args[0] as i32)?),
    }
    Err(if get { Errno::ENODATA } else { Errno::EPERM })
}

macro_rules! xattr_guards {
    ($($name:ident($name_arg:expr, $spec:expr, $get:expr) => $plain:expr;)*) => {
        $(
            pub(crate) fn $name(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
                if names_record(ctx, call, $name_arg) {
                    return on_record(ctx, call, $spec, $get);
                }
                $plain(ctx, call)
            }
        )*
    };
}

fn native(_: &mut SyscallCtx<'_>, _: &SyscallArgs) -> Result<Outcome, Errno> {
    Ok(Outcome::Continue)
}

xattr_guards! {
    getxattr(1, Some(&spec::getxattr[0]), true) => path::getxattr;
    lgetxattr(1, Some(&spec::lgetxattr[0]), true) => path::lgetxattr;
    getxattrat(3, Some(&spec::getxattrat[0]), true) => path::getxattrat;
    fgetxattr(1, None, true) => native;
    setxattr(1, Some(&spec::setxattr[0]), false) => setxattr_acl;
    lsetxattr(1, Some(&spec::lsetxattr[0]), false) => lsetxattr_acl;
    setxattrat(3, Some(&spec::setxattrat[0]), false) => path::setxattrat;
    fsetxattr(1, None, false) => fsetxattr_acl;
    removexattr(1, Some(&spec::removexattr[0]), false) => path::removexattr;
    lremovexattr(1, Some(&spec::lremovexattr[0]), false) => path::lremovexattr;
    removexattrat(3, Some(&spec::removexattrat[0]), false) => path::removexattrat;
    fremovexattr(1, None, false) => path::fd_write;
}

/// The mode bits of a POSIX access ACL (`system.posix_acl_access`'s value) that has only the
/// owner, group and other entries: setting it is a chmod (how `cp -a` and `tar` set modes).
fn minimal_acl_mode(v: &[u8]) -> Option<u32> {
    const VERSION: u32 = 2;
    const USER_OBJ: u16 = 0x01;
    const GROUP_OBJ: u16 = 0x04;
    const OTHER: u16 = 0x20;
    let (version, entries) = v.split_first_chunk::<4>()?;
    if u32::from_le_bytes(*version) != VERSION || entries.len() != 24 {
        return None;
    }
    let mut mode = 0;
    for e in entries.chunks_exact(8) {
        let tag = u16::from_le_bytes([e[0], e[1]]);
        let perm = u32::from(u16::from_le_bytes([e[2], e[3]]) & 7);
        mode |= match tag {
            USER_OBJ => perm << 6,
            GROUP_OBJ => perm << 3,
            OTHER => perm,
            _ => return None,
        };
    }
    Some(mode)
}

/// setxattr of a minimal access ACL by a fake root: the chmod it amounts to, on the record
/// (the set-id and sticky bits kept, as Linux keeps them). Any other attribute: `plain`.
fn acl_as_chmod(
    ctx: &mut SyscallCtx<'_>,
    call: &SyscallArgs,
    a: Option<&PathArg>,
    plain: Handler,
) -> Result<Outcome, Errno> {
    let Some((fake, id)) = fake(ctx) else {
        return plain(ctx, call);
    };
    let name = ctx.mem.read_cstring(GuestPtr::new(call.args[1]), 256, Errno::ERANGE);
    let mut value = vec![0u8; (call.args[3] as usize).min(64)];
    if name.as_deref() != Ok(b"system.posix_acl_access") || ctx.mem.read_bytes(call.args[2], &mut value).is_err() {
        return plain(ctx, call);
    }
    let Some(bits) = minimal_acl_mode(&value) else {
        return plain(ctx, call);
    };
    let o = match a {
        Some(a) => object(ctx, call, a)?,
        None => fd_object(ctx, call.args[0] as i32)?,
    };
    let (_, m) = seen(fake, &o)?;
    chmod_object(fake, &id, &o, (m.mode & 0o7000) | bits)
}

fn setxattr_acl(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    acl_as_chmod(ctx, call, Some(&spec::setxattr[0]), path::setxattr)
}

fn lsetxattr_acl(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    acl_as_chmod(ctx, call, Some(&spec::lsetxattr[0]), path::lsetxattr)
}

fn fsetxattr_acl(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    acl_as_chmod(ctx, call, None, path::fd_write)
}

/// The names of `o`'s extended attributes, the record's left out.
fn names_of(o: &Opened) -> Result<Vec<u8>, Errno> {
    let magic = meta::magic(o);
    let mut buf = vec![0u8; 256];
    loop {
        // SAFETY: a NUL-terminated path and a buffer of the given size.
        let n = unsafe { libc::listxattr(magic.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            buf.truncate(n as usize);
            break;
        }
        match Errno::last() {
            Errno::ERANGE if buf.len() < 1 << 20 => buf.resize(buf.len() * 4, 0),
            // Files without xattrs (symlinks, /proc) list none.
            Errno::ENOTSUP | Errno::EPERM => return Ok(Vec::new()),
            e => return Err(e),
        }
    }
    let mut out = Vec::with_capacity(buf.len());
    for name in buf.split_inclusive(|&b| b == 0) {
        if name.strip_suffix(b"\0") != Some(meta::XATTR.as_bytes()) {
            out.extend_from_slice(name);
        }
    }
    Ok(out)
}

/// A list call's answer: the size asked for (0: how much room the list needs), ERANGE when the
/// guest's buffer is too small, else the list.
fn list_into(ctx: &SyscallCtx<'_>, o: &Opened, list: u64, size: u64) -> Result<Outcome, Errno> {
    let names = names_of(o)?;
    if size == 0 {
        return Ok(Outcome::Return(names.len() as i64));
    }
    if (size as usize) < names.len() {
        return Err(Errno::ERANGE);
    }
    ctx.mem.write_bytes(list, &names)?;
    Ok(Outcome::Return(names.len() as i64))
}

pub(crate) fn listxattr(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    list_via(ctx, call, &spec::listxattr[0], 1, path::listxattr)
}

pub(crate) fn llistxattr(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    list_via(ctx, call, &spec::llistxattr[0], 1, path::llistxattr)
}

pub(crate) fn listxattrat(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    list_via(ctx, call, &spec::listxattrat[0], 3, path::listxattrat)
}

pub(crate) fn flistxattr(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    if ctx.world.fake.is_none() {
        return Ok(Outcome::Continue);
    }
    let r = fd_resolved(ctx, call.args[0] as i32)?;
    if path::held_file_flags(&r) & libc::O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    let o = r.opened.ok_or(Errno::EBADF)?;
    list_into(ctx, &o, call.args[1], call.args[2])
}

/// The owner and group of a file a fake identity makes in directory `dir`: its filesystem uid,
/// and the directory's group where that has the set-group-id bit (which a new directory
/// inherits), else its filesystem gid. None for root's own files, which need no record.
fn new_owner(fake: &FakeRoot, id: &Identity, dir: &Opened) -> Option<(u32, u32, bool)> {
    let (_, parent) = seen(fake, dir).ok()?;
    let sgid = parent.mode & libc::S_ISGID != 0;
    let gid = if sgid { parent.gid } else { id.gid[3] };
    (id.uid[3] != 0 || gid != 0 || sgid).then_some((id.uid[3], gid, sgid))
}

/// Makes `name` in `dir` with `make` (given the host's permission bits), opens it without
/// following and records its owner: the kernel makes files for the host user only.
fn make_recorded(
    fake: &FakeRoot,
    dir: &Opened,
    name: &[u8],
    m: Meta,
    make: impl FnOnce(i32, &std::ffi::CStr, u32) -> i32,
) -> Result<(), Errno> {
    let cname = std::ffi::CString::new(name).map_err(|_| Errno::EINVAL)?;
    if make(dir.fd().as_raw_fd(), &cname, meta::host_mode_bits(m.mode, m.mode)) < 0 {
        return Err(Errno::last());
    }
    // SAFETY: a directory we hold and a NUL-terminated name; the result is owned at once.
    let o = unsafe {
        let fd = libc::openat(
            dir.fd().as_raw_fd(),
            cname.as_ptr(),
            libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        );
        if fd < 0 {
            return Err(Errno::last());
        }
        Opened::new(std::os::fd::OwnedFd::from_raw_fd(fd))
    };
    let st = meta::host_stat(&o)?;
    // Made by someone else in between (a racing guest thread): theirs to own.
    if st.st_mode & libc::S_IFMT != m.mode & libc::S_IFMT {
        return Ok(());
    }
    record(fake, &o, &st, &m)
}

fn mkdir_via(
    ctx: &mut SyscallCtx<'_>,
    call: &SyscallArgs,
    a: &PathArg,
    mode: usize,
    plain: Handler,
) -> Result<Outcome, Errno> {
    let Some((fake, id)) = fake(ctx) else {
        return plain(ctx, call);
    };
    let r = path::resolve_arg(ctx, call, a)?.ok_or(Errno::ENOENT)?;
    if !r.exists {
        check_entry_change(fake, &id, &r, Change::Create)?;
    }
    let Some((dir, name)) = r.entry() else {
        return plain(ctx, call);
    };
    let Some((uid, gid, sgid)) = new_owner(fake, &id, &dir) else {
        return plain(ctx, call);
    };
    if r.exists {
        return Err(Errno::EEXIST);
    }
    let umask = ctx.process.fs().umask;
    let perms = call.args[mode] as u32 & 0o1777 & !umask | if sgid { libc::S_ISGID } else { 0 };
    let m = Meta {
        uid,
        gid,
        mode: libc::S_IFDIR | perms,
        rdev: 0,
    };
    // SAFETY: a directory we hold and a NUL-terminated name.
    make_recorded(fake, &dir, &name, m, |d, n, host| unsafe {
        libc::mkdirat(d, n.as_ptr(), host)
    })?;
    Ok(Outcome::Return(0))
}

pub(crate) fn mkdir(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    mkdir_via(ctx, call, &spec::mkdir[0], 1, path::mkdir)
}

pub(crate) fn mkdirat(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    mkdir_via(ctx, call, &spec::mkdirat[0], 2, path::mkdirat)
}

/// generic_permission for a file the guest sees as `m`: `want` is a mask of 4 (read),
/// 2 (write) and 1 (execute or search), checked against the owner's, the group's or the
/// others' bits for the identity's filesystem ids; CAP_DAC_OVERRIDE allows reading and writing
/// anything and executing what has an execute bit (searching any directory), and
/// CAP_DAC_READ_SEARCH reading anything and searching directories.
pub(crate) fn permitted(id: &Identity, m: &Meta, want: u32) -> bool {
    let perms = m.mode;
    let class = if id.uid[3] == m.uid {
        perms >> 6
    } else if id.in_group(m.gid) {
        perms >> 3
    } else {
        perms
    } & 7;
    if class & want == want {
        return true;
    }
    let dir = m.mode & libc::S_IFMT == libc::S_IFDIR;
    if id.capable(identity::CAP_DAC_OVERRIDE) && (want & 1 == 0 || dir || perms & 0o111 != 0) {
        return true;
    }
    id.capable(identity::CAP_DAC_READ_SEARCH) && want & 2 == 0 && (want & 1 == 0 || dir)
}

/// The access an open with `flags` asks for (None: O_PATH, which asks for none).
fn open_wants(flags: i32) -> Option<u32> {
    if flags & libc::O_PATH != 0 {
        return None;
    }
    let mut want = match flags & libc::O_ACCMODE {
        libc::O_RDONLY => 4,
        libc::O_WRONLY => 2,
        _ => 6,
    };
    if flags & libc::O_TRUNC != 0 {
        want |= 2;
    }
    Some(want)
}

/// Checks that the caller may have `want` on `o`, by its fake ids and the recorded mode (EACCES),
/// and makes the host allow what the fake identity may: a file the host user owns gets the
/// owner's bits it lacks (its mode recorded first, so the guest sees no change).
fn check_access(fake: &FakeRoot, id: &Identity, o: &Opened, want: u32) -> Result<(), Errno> {
    let (st, m) = seen(fake, o)?;
    let kind = st.st_mode & libc::S_IFMT;
    if kind == libc::S_IFLNK || (kind != libc::S_IFREG && kind != libc::S_IFDIR && st.st_uid != fake.host.uid) {
        return Ok(());
    }
    if !permitted(id, &m, want) {
        return Err(Errno::EACCES);
    }
    let host_has = (st.st_mode >> 6) & 7;
    let host_want = want & if kind == libc::S_IFDIR { 7 } else { 6 };
    if st.st_uid == fake.host.uid && host_has & host_want != host_want {
        if meta::read(o).is_none() {
            // Unreadable to the host user (no read bit): recorded once the bits are on.
            let magic = meta::magic(o);
            // SAFETY: a NUL-terminated path.
            unsafe { libc::chmod(magic.as_ptr(), meta::host_mode_bits(st.st_mode, st.st_mode)) };
        }
        record(fake, o, &st, &m)?;
    }
    Ok(())
}

/// Opens by a fake identity: an existing file is opened only with the access the recorded
/// owner and mode allow it; a file it creates is recorded as its own (or as root's, which
/// needs no record), made by lxrun first so that the open then finds it (its O_EXCL kept by
/// that exclusive creation).
fn open_via(
    ctx: &mut SyscallCtx<'_>,
    call: &SyscallArgs,
    a: PathArg,
    flags: Option<usize>,
    mode: usize,
    plain: Handler,
) -> Result<Outcome, Errno> {
    let Some((fake, id)) = fake(ctx) else {
        return plain(ctx, call);
    };
    let f = flags.map_or(libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC, |i| call.args[i] as i32);
    let Some(r) = path::resolve_arg(ctx, call, &a)? else {
        return plain(ctx, call);
    };
    if r.exists || r.special.is_some() {
        if let (Some(want), Some(o), None) = (open_wants(f), r.opened.as_ref(), r.special) {
            check_access(fake, &id, o, want)?;
            if let Some(device) = recorded_device(fake, o)? {
                return Ok(Outcome::Rewrite(vec![(a.path, device)]));
            }
        }
        return path::open_resolved(ctx, call, &a, &r);
    }
    let creating = f & libc::O_CREAT != 0 && f & libc::O_TMPFILE != libc::O_TMPFILE && !r.trailing_slash();
    if creating {
        check_entry_change(fake, &id, &r, Change::Create)?;
    }
    let owner = match r.entry() {
        Some((dir, name)) if creating => new_owner(fake, &id, &dir).map(|o| (dir, name, o)),
        _ => None,
    };
    let Some((dir, name, (uid, gid, _))) = owner else {
        return path::open_resolved(ctx, call, &a, &r);
    };
    let umask = ctx.process.fs().umask;
    let m = Meta {
        uid,
        gid,
        mode: libc::S_IFREG | (call.args[mode] as u32 & 0o7777 & !umask),
        rdev: 0,
    };
    let made = make_recorded(fake, &dir, &name, m, |d, n, host| {
        // SAFETY: a directory we hold and a NUL-terminated name; the descriptor is closed at once.
        unsafe {
            let fd = libc::openat(
                d,
                n.as_ptr(),
                libc::O_CREAT | libc::O_EXCL | libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                host,
            );
            if fd >= 0 {
                libc::close(fd);
            }
            fd
        }
    });
    match made {
        Ok(()) => {}
        // Someone made it first: the open meets it as it would have.
        Err(Errno::EEXIST) => return plain(ctx, call),
        Err(e) => return Err(e),
    }
    let mut open = *call;
    if let Some(f) = flags {
        open.args[f] &= !(libc::O_EXCL as u64);
    }
    let out = plain(ctx, &open)?;
    // The kernel must see the flags without O_EXCL even where the handler left them alone.
    Ok(match (out, flags) {
        (Outcome::Rewrite(mut new), Some(f)) => {
            if !new.iter().any(|(i, _)| *i == f) {
                new.push((f, crate::outcome::NewArg::Int(open.args[f])));
            }
            Outcome::Rewrite(new)
        }
        (out, _) => out,
    })
}

/// The host device an open of a device the guest made reaches: the harmless character devices
/// every container has (null, zero, full, random, urandom, tty); any other has no driver here
/// (ENXIO, as Linux says for a device number without one).
fn recorded_device(fake: &FakeRoot, o: &Opened) -> Result<Option<crate::outcome::NewArg>, Errno> {
    let (st, m) = seen(fake, o)?;
    if !m.is_device() || st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Ok(None);
    }
    let name = match (m.mode & libc::S_IFMT, libc::major(m.rdev), libc::minor(m.rdev)) {
        (libc::S_IFCHR, 1, 3) => "null",
        (libc::S_IFCHR, 1, 5) => "zero",
        (libc::S_IFCHR, 1, 7) => "full",
        (libc::S_IFCHR, 1, 8) => "random",
        (libc::S_IFCHR, 1, 9) => "urandom",
        (libc::S_IFCHR, 5, 0) => "tty",
        _ => return Err(Errno::ENXIO),
    };
    let host = format!("/dev/{name}");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
        .open(&host)
        .map_err(|e| Errno::from_io(&e))?;
    Ok(Some(crate::outcome::NewArg::Path {
        host: format!("{host}\0").into_bytes(),
        target: lxrun_vfs::Target::Object(Opened::new(file.into())),
    }))
}

/// access(2) and friends for a fake identity: by its real ids (its effective ones with
/// AT_EACCESS), with root's capabilities when that uid is 0, against the recorded owner and
/// mode; a write on a read-only mount is EROFS, as the kernel says.
fn access_via(
    ctx: &mut SyscallCtx<'_>,
    call: &SyscallArgs,
    a: &PathArg,
    mode: usize,
    flags: Option<usize>,
    plain: Handler,
) -> Result<Outcome, Errno> {
    let Some((fake, mut id)) = fake(ctx) else {
        return plain(ctx, call);
    };
    let want = call.args[mode] as u32;
    let known = (libc::AT_EACCESS | libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) as u64;
    let fl = flags.map_or(0, |i| call.args[i]);
    if want & !7 != 0 || fl & !known != 0 {
        return Err(Errno::EINVAL);
    }
    if fl & libc::AT_EACCESS as u64 == 0 {
        // access() checks the real ids, with root's capabilities for a real uid 0.
        (id.uid[3], id.gid[3]) = (id.uid[0], id.gid[0]);
        id.effective = if id.uid[0] == 0 { id.permitted } else { 0 };
    }
    let r = match path::resolve_arg(ctx, call, a)? {
        Some(r) if !r.exists => return Err(Errno::ENOENT),
        Some(r) => r,
        None => fd_resolved(ctx, a.dirfd.map_or(libc::AT_FDCWD, |i| call.args[i] as i32))?,
    };
    let o = r.opened.as_ref().ok_or(Errno::ENOENT)?;
    if want == 0 {
        return Ok(Outcome::Return(0));
    }
    let (st, m) = seen(fake, o)?;
    if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
        return plain(ctx, call);
    }
    if !permitted(&id, &m, want) {
        return Err(Errno::EACCES);
    }
    if want & 2 != 0 && r.readonly {
        return Err(Errno::EROFS);
    }
    Ok(Outcome::Return(0))
}

pub(crate) fn access(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    access_via(ctx, call, &spec::access_path[0], 1, None, path::access)
}

pub(crate) fn faccessat(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    access_via(ctx, call, &spec::faccessat_path[0], 2, None, path::faccessat)
}

pub(crate) fn faccessat2(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    access_via(ctx, call, &spec::faccessat2_path[0], 2, Some(3), path::faccessat2)
}

pub(crate) fn open(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    open_via(ctx, call, path::OPEN, Some(1), 2, path::open)
}

pub(crate) fn creat(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    open_via(ctx, call, path::CREAT, None, 1, path::creat)
}

pub(crate) fn openat(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    open_via(ctx, call, path::OPENAT, Some(2), 3, path::openat)
}

/// What a call does to the directory entry a path argument names.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Change {
    /// Adds it (mkdir, mknod, symlink, link's new name; a rename's target when free).
    Create,
    /// Removes it (unlink, rmdir, a rename's source, and its target when taken).
    Remove,
}

/// may_create and may_delete (fs/namei.c) for a fake identity, against the recorded owners
/// and modes: write and search permission on the directory, and in a sticky directory only the
/// owner of the entry or of the directory (or CAP_FOWNER) removes it. The host user owns every
/// file, so the host kernel checks none of this. Nothing to check for a fake root with its
/// capabilities.
fn check_entry_change(fake: &FakeRoot, id: &Identity, r: &Resolved, change: Change) -> Result<(), Errno> {
    if id.capable(identity::CAP_DAC_OVERRIDE) && id.capable(identity::CAP_FOWNER) {
        return Ok(());
    }
    let Some((dir, _)) = r.entry() else {
        return Ok(());
    };
    let (_, dm) = seen(fake, &dir)?;
    if !permitted(id, &dm, 3) {
        return Err(Errno::EACCES);
    }
    let removes = change == Change::Remove || r.exists;
    if removes && r.exists && dm.mode & libc::S_ISVTX != 0 && !id.capable(identity::CAP_FOWNER) {
        let o = r.opened.as_ref().ok_or(Errno::ENOENT)?;
        let (_, fm) = seen(fake, o)?;
        if id.uid[3] != fm.uid && id.uid[3] != dm.uid {
            return Err(Errno::EPERM);
        }
    }
    Ok(())
}

/// Checks each path argument's entry change for a fake identity, then does the call.
fn entry_changes(
    ctx: &mut SyscallCtx<'_>,
    call: &SyscallArgs,
    args: &[(&PathArg, Change)],
    plain: Handler,
) -> Result<Outcome, Errno> {
    if let Some((fake, id)) = fake(ctx) {
        if !(id.capable(identity::CAP_DAC_OVERRIDE) && id.capable(identity::CAP_FOWNER)) {
            for (a, change) in args {
                if let Some(r) = path::resolve_arg(ctx, call, a)? {
                    check_entry_change(fake, &id, &r, *change)?;
                }
            }
        }
    }
    plain(ctx, call)
}

pub(crate) fn unlink(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    entry_changes(ctx, call, &[(&spec::unlink[0], Change::Remove)], path::unlink)
}

pub(crate) fn unlinkat(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    entry_changes(ctx, call, &[(&spec::unlinkat[0], Change::Remove)], path::unlinkat)
}

pub(crate) fn rmdir(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    entry_changes(ctx, call, &[(&spec::rmdir[0], Change::Remove)], path::rmdir)
}

pub(crate) fn rename(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let [from, to] = spec::rename else { unreachable!() };
    entry_changes(ctx, call, &[(from, Change::Remove), (to, Change::Create)], path::rename)
}

pub(crate) fn renameat(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let [from, to] = spec::renameat else { unreachable!() };
    entry_changes(
        ctx,
        call,
        &[(from, Change::Remove), (to, Change::Create)],
        path::renameat,
    )
}

pub(crate) fn renameat2(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let [from, to] = spec::renameat2 else { unreachable!() };
    entry_changes(
        ctx,
        call,
        &[(from, Change::Remove), (to, Change::Create)],
        path::renameat2,
    )
}

pub(crate) fn link(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    entry_changes(ctx, call, &[(&spec::link[1], Change::Create)], path::link)
}

pub(crate) fn linkat(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    entry_changes(ctx, call, &[(&spec::linkat[1], Change::Create)], path::linkat)
}

pub(crate) fn symlink(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    entry_changes(ctx, call, &[(&spec::symlink[0], Change::Create)], path::symlink)
}

pub(crate) fn symlinkat(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    entry_changes(ctx, call, &[(&spec::symlinkat[0], Change::Create)], path::symlinkat)
}

#[cfg(test)]
mod tests {
    use super::minimal_acl_mode;

    fn acl(entries: &[(u16, u16)]) -> Vec<u8> {
        let mut v = 2u32.to_le_bytes().to_vec();
        for &(tag, perm) in entries {
            v.extend_from_slice(&tag.to_le_bytes());
            v.extend_from_slice(&perm.to_le_bytes());
            v.extend_from_slice(&u32::MAX.to_le_bytes());
        }
        v
    }

    #[test]
    fn a_minimal_acl_is_its_mode_and_any_other_is_not() {
        assert_eq!(minimal_acl_mode(&acl(&[(0x01, 7), (0x04, 5), (0x20, 1)])), Some(0o751));
        // A named user (and with it a mask) makes it a real ACL.
        assert_eq!(
            minimal_acl_mode(&acl(&[(0x01, 7), (0x02, 5), (0x04, 5), (0x10, 5), (0x20, 1)])),
            None
        );
        let mut bad_version = acl(&[(0x01, 7), (0x04, 5), (0x20, 1)]);
        bad_version[0] = 1;
        assert_eq!(minimal_acl_mode(&bad_version), None);
        assert_eq!(minimal_acl_mode(&[]), None);
    }
}
