//! Path-taking calls: every guest path argument is resolved through the VFS and the call runs
//! on the host with the host path in its place (the ptrace backend writes it into the guest's
//! memory and points the argument at it). Calls that change the filesystem are refused with
//! EROFS on a read-only mount; the /proc files lxrun writes itself are handed over as memfds.
//!
//! Each syscall is described by [`PathArg`]s; one function does the work for all of them.

use crate::context::SyscallCtx;
use crate::memory::GuestPtr;
use crate::outcome::{NewArg, Outcome};
use crate::{Errno, SyscallArgs};
use lxrun_vfs::{Base, Resolved, Special, Target, PATH_MAX};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

/// How the final component of a path is looked up.
#[derive(Clone, Copy)]
pub(super) enum Follow {
    Yes,
    No,
    /// Follows unless `bit` is set in argument `arg` (AT_SYMLINK_NOFOLLOW and friends).
    Unless(usize, u64),
    /// Follows only when `bit` is set in argument `arg` (linkat's AT_SYMLINK_FOLLOW).
    If(usize, u64),
    /// open's flags in argument `arg`: O_NOFOLLOW, or O_CREAT|O_EXCL, do not follow.
    Open(usize),
}

/// Whether the call changes the filesystem.
#[derive(Clone, Copy)]
pub(super) enum Writes {
    No,
    Yes,
    /// Depends on open's flags in argument `arg`.
    Open(usize),
}

/// One path argument of a syscall.
#[derive(Clone, Copy)]
pub(super) struct PathArg {
    /// Argument holding the dirfd the path is relative to (None: the cwd).
    pub(super) dirfd: Option<usize>,
    pub(super) path: usize,
    pub(super) follow: Follow,
    pub(super) writes: Writes,
    /// Argument with AT_EMPTY_PATH, which makes an empty path mean the dirfd itself.
    pub(super) empty_path: Option<usize>,
    /// A NULL path means the dirfd itself (utimensat, fanotify_mark).
    pub(super) null_ok: bool,
    /// A following call that may create the name (creat).
    pub(super) creates: bool,
    /// The call creates, removes or renames the name itself: never followed, trailing slash
    /// and all (so is an O_CREAT open of a name with a trailing slash).
    pub(super) names: bool,
}

const fn arg(path: usize, follow: Follow, writes: Writes) -> PathArg {
    PathArg {
        dirfd: None,
        path,
        follow,
        writes,
        empty_path: None,
        null_ok: false,
        creates: false,
        names: false,
    }
}

const fn at(dirfd: usize, path: usize, follow: Follow, writes: Writes) -> PathArg {
    PathArg {
        dirfd: Some(dirfd),
        path,
        follow,
        writes,
        empty_path: None,
        null_ok: false,
        creates: false,
        names: false,
    }
}

/// A path argument whose final name the call creates, removes or renames.
const fn name(mut a: PathArg) -> PathArg {
    a.names = true;
    a
}

const fn empty(mut a: PathArg, flags: usize) -> PathArg {
    a.empty_path = Some(flags);
    a
}

const NOFOLLOW: u64 = libc::AT_SYMLINK_NOFOLLOW as u64;
const EMPTY_PATH: u64 = libc::AT_EMPTY_PATH as u64;

pub(super) fn follows(f: Follow, call: &SyscallArgs) -> bool {
    match f {
        Follow::Yes => true,
        Follow::No => false,
        Follow::Unless(a, bit) => call.args[a] & bit == 0,
        Follow::If(a, bit) => call.args[a] & bit != 0,
        Follow::Open(a) => {
            let flags = call.args[a] as i32;
            flags & libc::O_NOFOLLOW == 0 && flags & (libc::O_CREAT | libc::O_EXCL) != (libc::O_CREAT | libc::O_EXCL)
        }
    }
}

fn writes(w: Writes, call: &SyscallArgs) -> bool {
    match w {
        Writes::No => false,
        Writes::Yes => true,
        Writes::Open(a) => {
            let flags = call.args[a] as i32;
            flags & libc::O_ACCMODE != libc::O_RDONLY || flags & (libc::O_CREAT | libc::O_TRUNC) != 0
        }
    }
}

/// Reads a path argument; the NUL-terminated host path of the guest path it names.
pub(super) fn read_path(ctx: &SyscallCtx<'_>, ptr: u64) -> Result<Vec<u8>, Errno> {
    ctx.mem
        .read_cstring(GuestPtr::new(ptr), PATH_MAX - 1, Errno::ENAMETOOLONG)
}

fn base_of(call: &SyscallArgs, dirfd: Option<usize>) -> Base {
    match dirfd {
        Some(a) if call.args[a] as i32 != libc::AT_FDCWD => Base::Fd(call.args[a] as i32),
        _ => Base::Cwd,
    }
}

/// Resolves one path argument (None: it is to be left as it is).
pub(super) fn resolve_arg(ctx: &SyscallCtx<'_>, call: &SyscallArgs, a: &PathArg) -> Result<Option<Resolved>, Errno> {
    let ptr = call.args[a.path];
    if ptr == 0 && a.null_ok {
        return on_dirfd(ctx, call, a, true);
    }
    let path = read_path(ctx, ptr)?;
    if path.is_empty() {
        return match a.empty_path {
            Some(f) if call.args[f] & EMPTY_PATH != 0 => on_dirfd(ctx, call, a, false),
            _ => Err(Errno::ENOENT),
        };
    }
    // O_CREAT before a trailing slash is EISDIR whatever the name is: the kernel's to say.
    let creating_open =
        path.ends_with(b"/") && matches!(a.follow, Follow::Open(i) if call.args[i] as i32 & libc::O_CREAT != 0);
    let r = if a.names || creating_open {
        ctx.resolve_entry(base_of(call, a.dirfd), &path)?
    } else {
        ctx.resolve(base_of(call, a.dirfd), &path, follows(a.follow, call))?
    };
    if r.readonly && writes(a.writes, call) {
        return Err(Errno::EROFS);
    }
    Ok(Some(r))
}

/// The replacement for a path argument that names `r`, for a call that `follows` a final
/// symlink or not. The host path goes with it for the guest's own calls (the ptrace backend's
/// opens), or, where it is too long for the kernel, an alias through lxrun's descriptors.
/// A call on its dirfd itself (AT_EMPTY_PATH, or a NULL path): left as it is, but one that
/// writes is refused on a read-only mount (EROFS; a link of it elsewhere EXDEV, as between
/// two mounts).
/// (A NULL path takes the descriptor as a file: an O_PATH one is the kernel's EBADF first.)
fn on_dirfd(ctx: &SyscallCtx<'_>, call: &SyscallArgs, a: &PathArg, null: bool) -> Result<Option<Resolved>, Errno> {
    if writes(a.writes, call) {
        let fd = a.dirfd.map_or(libc::AT_FDCWD, |i| call.args[i] as i32);
        let r = if fd == libc::AT_FDCWD {
            ctx.resolve(Base::Cwd, b".", true)?
        } else {
            ctx.resolve_fd(fd)?
        };
        if r.readonly && !(null && held_file_flags(&r) & libc::O_PATH != 0) {
            let linking = matches!(crate::table::name_of(call.nr).as_str(), "linkat");
            return Err(if linking { Errno::EXDEV } else { Errno::EROFS });
        }
    }
    Ok(None)
}

pub(super) fn path_arg(ctx: &SyscallCtx<'_>, r: &Resolved, follows: bool) -> Result<NewArg, Errno> {
    let target = r.target(follows).ok_or(Errno::ENOENT)?;
    let mut host = r.host.as_os_str().as_bytes().to_vec();
    // A trailing slash the kernel must see.
    if matches!(&target, Target::Entry(_, name) if name.ends_with(b"/")) {
        host.push(b'/');
    }
    // A directory's own `.` whose host path names nothing now (the cwd, deleted) is reached
    // through the descriptor too.
    let gone = matches!(&target, Target::Entry(_, name) if name == b".") && std::fs::symlink_metadata(&r.host).is_err();
    if host.len() >= PATH_MAX || gone {
        host = held_alias(ctx, &target)?;
    }
    host.push(0);
    Ok(NewArg::Path { host, target })
}

/// `/proc/<lxrun>/fd/N` (the object) or `/proc/<lxrun>/fd/N/name` (an entry), short whatever
/// the host path's length, through a copy of lxrun's descriptor held until the thread's next
/// call: for a call the guest makes itself (it reaches lxrun's descriptors while it has lxrun's
/// ids, or CAP_SYS_PTRACE).
pub(super) fn held_alias(ctx: &SyscallCtx<'_>, target: &Target) -> Result<Vec<u8>, Errno> {
    let (fd, name) = match target {
        Target::Object(o) => (o.fd(), None),
        Target::Entry(dir, name) => (dir.fd(), Some(name)),
    };
    let fd = fd.try_clone_to_owned().map_err(|e| Errno::from_io(&e))?;
    let mut path = format!("/proc/{}/fd/{}", std::process::id(), fd.as_raw_fd()).into_bytes();
    if let Some(name) = name {
        path.push(b'/');
        path.extend_from_slice(name);
    }
    ctx.world.hold(ctx.tid, fd);
    Ok(path)
}

/// The new arguments for path argument `a` resolved as `r`: the path, and when the call acts on
/// an entry, its flags changed so that the kernel does not follow it (the walker has followed
/// every symlink it had to; one swapped in since must not be). A following call that names
/// nothing fails as it would have on the kernel's walk, unless it creates the name.
fn arg_of(ctx: &SyscallCtx<'_>, call: &SyscallArgs, a: &PathArg, r: &Resolved) -> Result<Vec<(usize, NewArg)>, Errno> {
    let follows = follows(a.follow, call);
    // openat2 reaches an existing object by its entry too (with O_NOFOLLOW): no magic link,
    // which its RESOLVE_NO_MAGICLINKS would refuse; so does any open before a trailing slash
    // (O_CREAT there is EISDIR: the kernel's to say on the entry).
    let name = crate::table::lookup(call.nr).map_or("", |e| e.name);
    let openat2 = name == "openat2";
    let open_before_slash = r.trailing_slash() && matches!(a.follow, Follow::Open(_));
    // The calls a backend can perform on the object's own descriptor (AT_EMPTY_PATH) act on
    // the object the lookup opened, followed or not: no second lookup of the entry.
    let on_descriptor = matches!(
        name,
        "lstat" | "newfstatat" | "statx" | "faccessat2" | "readlink" | "readlinkat"
    );
    let new = path_arg(ctx, r, (follows || on_descriptor) && !openat2 && !open_before_slash)?;
    let NewArg::Path { target, .. } = &new else {
        return Ok(vec![(a.path, new)]);
    };
    let mut out = Vec::with_capacity(2);
    if follows && target.is_entry() {
        // (the open's entry: the walker's answer, the final symlink followed already)
        match a.follow {
            Follow::Unless(i, bit) => out.push((i, NewArg::Int(call.args[i] | bit))),
            Follow::If(i, bit) => out.push((i, NewArg::Int(call.args[i] & !bit))),
            Follow::Open(i) => out.push((i, NewArg::Int(call.args[i] | libc::O_NOFOLLOW as u64))),
            // creat is performed as an open that does not follow.
            Follow::Yes if a.creates => {}
            Follow::Yes | Follow::No => return Err(Errno::ENOENT),
        }
    }
    out.push((a.path, new));
    Ok(out)
}

/// Resolves every path argument and rewrites those that need it.
fn translate(ctx: &SyscallCtx<'_>, call: &SyscallArgs, args: &[PathArg]) -> Result<Outcome, Errno> {
    if ctx.world.vfs.is_identity() {
        return Ok(Outcome::Continue);
    }
    let mut new = Vec::with_capacity(args.len());
    let mut mounts = Vec::with_capacity(args.len());
    let mut busy = None;
    for a in args {
        match resolve_arg(ctx, call, a)? {
            Some(r) => {
                let mount_point = a.names && r.mount_root && r.exists;
                // The name of a mount point is its parent's: that mount is the one a rename
                // compares.
                let guest = if mount_point { parent_of(&r.guest) } else { &r.guest[..] };
                mounts.push(ctx.world.vfs.mount_of(guest));
                if mount_point {
                    busy = busy.or(mount_point_errno(call, &r));
                }
                new.extend(arg_of(ctx, call, a, &r)?);
            }
            // A link of the dirfd itself (AT_EMPTY_PATH) comes from its mount.
            None if a.empty_path.is_some() => {
                let fd = a.dirfd.map_or(libc::AT_FDCWD, |i| call.args[i] as i32);
                mounts.push(
                    ctx.resolve_fd(fd)
                        .map_or(usize::MAX, |r| ctx.world.vfs.mount_of(&r.guest)),
                );
            }
            None => {}
        }
    }
    // A link or a rename between two mounts is EXDEV, as between real ones: lxrun's binds
    // may share a host filesystem, which would allow it.
    if args.len() == 2 && mounts.len() == 2 && mounts[0] != mounts[1] {
        return Err(Errno::EXDEV);
    }
    if let Some(e) = busy {
        return Err(e);
    }
    Ok(if new.is_empty() {
        Outcome::Continue
    } else {
        Outcome::Rewrite(new)
    })
}

/// The guest path of `guest`'s directory (`/` for `/` and its children).
fn parent_of(guest: &[u8]) -> &[u8] {
    match guest.iter().rposition(|&c| c == b'/') {
        Some(0) | None => b"/",
        Some(i) => &guest[..i],
    }
}

/// What the kernel answers a call that removes, renames or makes the name of a mount point:
/// EBUSY (it is in use by the system), EISDIR for unlink of a directory, EEXIST for a call
/// that would make it. lxrun's mounts are no mounts to the host, which would otherwise remove
/// or rename what lies under them (and mv, told EXDEV, would copy all of /proc).
fn mount_point_errno(call: &SyscallArgs, r: &Resolved) -> Option<Errno> {
    let is_dir = r
        .opened
        .as_ref()
        .and_then(|o| o.metadata().ok())
        .is_some_and(|m| m.is_dir());
    let name = crate::table::lookup(call.nr).map_or("", |e| e.name);
    match name {
        "rmdir" | "rename" | "renameat" | "renameat2" => Some(Errno::EBUSY),
        "unlinkat" if call.args[2] & libc::AT_REMOVEDIR as u64 != 0 => Some(Errno::EBUSY),
        "unlink" | "unlinkat" if is_dir => Some(Errno::EISDIR),
        "unlink" | "unlinkat" => Some(Errno::EBUSY),
        "mkdir" | "mkdirat" | "mknod" | "mknodat" | "symlink" | "symlinkat" | "link" | "linkat" => Some(Errno::EEXIST),
        _ => None,
    }
}

/// Opens: like `translate`, and the /proc files lxrun writes itself become memfds.
fn translate_open(ctx: &SyscallCtx<'_>, call: &SyscallArgs, a: PathArg) -> Result<Outcome, Errno> {
    if ctx.world.vfs.is_identity() {
        return Ok(Outcome::Continue);
    }
    let Some(r) = resolve_arg(ctx, call, &a)? else {
        return Ok(Outcome::Continue);
    };
    Ok(Outcome::Rewrite(open_args(ctx, call, &a, &r)?))
}

/// An open whose path argument `a` the caller has resolved already, as `r`.
pub(super) fn open_resolved(
    ctx: &SyscallCtx<'_>,
    call: &SyscallArgs,
    a: &PathArg,
    r: &Resolved,
) -> Result<Outcome, Errno> {
    Ok(Outcome::Rewrite(open_args(ctx, call, a, r)?))
}

/// The new arguments of an open of `r`: a memfd for the /proc files lxrun writes, else as
/// for any path call.
fn open_args(
    ctx: &SyscallCtx<'_>,
    call: &SyscallArgs,
    a: &PathArg,
    r: &Resolved,
) -> Result<Vec<(usize, NewArg)>, Errno> {
    // /proc/PID/status is lxrun's only for a fake root; the host's file shows the host's ids.
    let written = match r.special {
        Some(Special::Status(_)) => ctx.world.fake.is_some(),
        other => other.is_some(),
    };
    if written {
        return Ok(vec![(a.path, open_arg(ctx, r)?)]);
    }
    arg_of(ctx, call, a, r)
}

/// The path an open of `r` hands the kernel: its host path, or a memfd lxrun fills.
fn open_arg(ctx: &SyscallCtx<'_>, r: &Resolved) -> Result<NewArg, Errno> {
    let fake_status = |task: i32| {
        let fake = ctx.world.fake.as_ref()?;
        let identity = ctx.world.process_of(task)?.state().identity.clone();
        let identity = identity.unwrap_or_else(|| fake.start.clone());
        let host = std::fs::read_to_string(format!("/proc/{task}/status")).ok()?;
        Some(identity.status(&host).into_bytes())
    };
    Ok(match r.special {
        Some(special) => {
            let content = match special {
                Special::Maps(pid) => ctx.world.vfs.proc_maps(pid).map_err(|e| Errno::from_io(&e))?,
                Special::Mounts => ctx.world.vfs.proc_mounts(),
                Special::Mountinfo => ctx.world.vfs.proc_mountinfo(),
                Special::Status(task) => match fake_status(task) {
                    Some(content) => content,
                    None => return path_arg(ctx, r, true),
                },
            };
            let fd = memfd_with(&content)?;
            let path = format!("/proc/{}/fd/{}\0", std::process::id(), fd.as_raw_fd()).into_bytes();
            ctx.world.hold(ctx.tid, fd);
            NewArg::Bytes(path)
        }
        None => path_arg(ctx, r, true)?,
    })
}

/// A memfd holding `content`, for the guest to open by path.
fn memfd_with(content: &[u8]) -> Result<OwnedFd, Errno> {
    // SAFETY: a literal C string; the fd is owned right after.
    let fd = unsafe { libc::memfd_create(c"lxrun-proc".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: memfd_create returned a fresh descriptor.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut file = std::fs::File::from(fd.try_clone().map_err(|e| Errno::from_io(&e))?);
    std::io::Write::write_all(&mut file, content).map_err(|e| Errno::from_io(&e))?;
    Ok(fd)
}

/// The kernel refuses a bad mode, and bad flags, before it looks at the path.
fn access_args(mode: u64, flags: u64) -> Result<(), Errno> {
    let known = (libc::AT_EACCESS | libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) as u32;
    if mode as u32 & !0o7 != 0 || flags as u32 & !known != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

pub(crate) fn access(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    access_args(call.args[1], 0)?;
    access_path(ctx, call)
}

pub(crate) fn faccessat(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    access_args(call.args[2], 0)?;
    faccessat_path(ctx, call)
}

/// statx's AT_STATX_SYNC_TYPE bits.
pub(super) const STATX_SYNC_TYPE: u64 = 0x6000;

/// statx's flags and mask as the kernel checks them before it looks at the path: unknown
/// flags, both sync types at once and the reserved mask bit are EINVAL.
pub(super) fn statx_args(flags: u64, mask: u64) -> Result<(), Errno> {
    const RESERVED: u64 = 0x8000_0000;
    let known = (libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH | libc::AT_NO_AUTOMOUNT) as u64 | STATX_SYNC_TYPE;
    if flags & !known != 0 || flags & STATX_SYNC_TYPE == STATX_SYNC_TYPE || mask & RESERVED != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

pub(crate) fn statx_checked(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    statx_args(call.args[2], call.args[3])?;
    statx(ctx, call)
}

pub(crate) fn faccessat2(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    access_args(call.args[2], call.args[3])?;
    faccessat2_path(ctx, call)
}

macro_rules! path_calls {
    ($($name:ident => [$($spec:expr),+ $(,)?];)*) => {
        /// Each path call's arguments, for the handlers that resolve them for work of their
        /// own (a fake root's owners).
        #[allow(non_upper_case_globals)]
        pub(super) mod spec {
            use super::*;
            $(pub(in crate::handlers) const $name: &[PathArg] = &[$($spec),+];)*
        }
        $(
            pub(crate) fn $name(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
                translate(ctx, call, spec::$name)
            }
        )*
    };
}

use Follow::{No, Unless, Yes};

path_calls! {
    stat => [arg(0, Yes, Writes::No)];
    lstat => [arg(0, No, Writes::No)];
    newfstatat => [empty(at(0, 1, Unless(3, NOFOLLOW), Writes::No), 3)];
    statx => [empty(at(0, 1, Unless(2, NOFOLLOW), Writes::No), 2)];
    access_path => [arg(0, Yes, Writes::No)];
    faccessat_path => [at(0, 1, Yes, Writes::No)];
    faccessat2_path => [empty(at(0, 1, Unless(3, NOFOLLOW), Writes::No), 3)];
    mkdir => [name(arg(0, No, Writes::Yes))];
    mkdirat => [name(at(0, 1, No, Writes::Yes))];
    rmdir => [name(arg(0, No, Writes::Yes))];
    unlink => [name(arg(0, No, Writes::Yes))];
    unlinkat => [name(at(0, 1, No, Writes::Yes))];
    rename => [name(arg(0, No, Writes::Yes)), name(arg(1, No, Writes::Yes))];
    renameat => [name(at(0, 1, No, Writes::Yes)), name(at(2, 3, No, Writes::Yes))];
    renameat2 => [name(at(0, 1, No, Writes::Yes)), name(at(2, 3, No, Writes::Yes))];
    link => [arg(0, No, Writes::Yes), name(arg(1, No, Writes::Yes))];
    linkat => [empty(at(0, 1, Follow::If(4, libc::AT_SYMLINK_FOLLOW as u64), Writes::Yes), 4), name(at(2, 3, No, Writes::Yes))];
    symlink => [name(arg(1, No, Writes::Yes))];
    symlinkat => [name(at(1, 2, No, Writes::Yes))];
    chmod => [arg(0, Yes, Writes::Yes)];
    fchmodat => [at(0, 1, Yes, Writes::Yes)];
    fchmodat2 => [empty(at(0, 1, Unless(3, NOFOLLOW), Writes::Yes), 3)];
    chown => [arg(0, Yes, Writes::Yes)];
    lchown => [arg(0, No, Writes::Yes)];
    fchownat => [empty(at(0, 1, Unless(4, NOFOLLOW), Writes::Yes), 4)];
    utime => [arg(0, Yes, Writes::Yes)];
    utimes => [arg(0, Yes, Writes::Yes)];
    futimesat => [at(0, 1, Yes, Writes::Yes)];
    utimensat => [PathArg { null_ok: true, ..empty(at(0, 1, Unless(3, NOFOLLOW), Writes::Yes), 3) }];
    truncate => [arg(0, Yes, Writes::Yes)];
    statfs => [arg(0, Yes, Writes::No)];
    setxattr => [arg(0, Yes, Writes::Yes)];
    lsetxattr => [arg(0, No, Writes::Yes)];
    getxattr => [arg(0, Yes, Writes::No)];
    lgetxattr => [arg(0, No, Writes::No)];
    listxattr => [arg(0, Yes, Writes::No)];
    llistxattr => [arg(0, No, Writes::No)];
    removexattr => [arg(0, Yes, Writes::Yes)];
    lremovexattr => [arg(0, No, Writes::Yes)];
    setxattrat => [empty(at(0, 1, Unless(2, NOFOLLOW), Writes::Yes), 2)];
    getxattrat => [empty(at(0, 1, Unless(2, NOFOLLOW), Writes::No), 2)];
    listxattrat => [empty(at(0, 1, Unless(2, NOFOLLOW), Writes::No), 2)];
    removexattrat => [empty(at(0, 1, Unless(2, NOFOLLOW), Writes::Yes), 2)];
    file_getattr => [empty(at(0, 1, Unless(4, NOFOLLOW), Writes::No), 4)];
    file_setattr => [empty(at(0, 1, Unless(4, NOFOLLOW), Writes::Yes), 4)];
    inotify_add_watch => [arg(1, Unless(2, libc::IN_DONT_FOLLOW as u64), Writes::No)];
    fanotify_mark_path => [PathArg { null_ok: true, ..at(3, 4, Unless(1, libc::FAN_MARK_DONT_FOLLOW as u64), Writes::No) }];
    mknod_path => [name(arg(0, No, Writes::Yes))];
    mknodat_path => [name(at(0, 1, No, Writes::Yes))];
}

/// Calls that change a file through a descriptor (trapped only while some mount is
/// read-only): EROFS for a file on a read-only mount, as Linux answers on a read-only bind;
/// else performed on the very file that was checked (the descriptor lxrun borrowed), so a
/// descriptor replaced by another thread in between changes nothing.
pub(crate) fn fd_write(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let name = crate::table::name_of(call.nr);
    // copy_file_range writes to its third argument.
    let fd_arg = if name == "copy_file_range" { 2 } else { 0 };
    let r = ctx.resolve_fd(call.args[fd_arg] as i32)?;
    // The kernel looks at the descriptor before the mount: an O_PATH one is EBADF, and one not
    // open for writing is EINVAL or EBADF to the calls that write its data.
    let flags = held_file_flags(&r);
    let writes_data = matches!(name.as_str(), "ftruncate" | "fallocate" | "copy_file_range");
    let kernel_refuses = flags & libc::O_PATH != 0 || (writes_data && flags & libc::O_ACCMODE == libc::O_RDONLY);
    if r.readonly && !kernel_refuses {
        return Err(Errno::EROFS);
    }
    match r.opened {
        Some(file) if crate::proxy::spec(&name).is_some() => Ok(Outcome::Rewrite(vec![(fd_arg, NewArg::Fd(file))])),
        _ => Ok(Outcome::Continue),
    }
}

/// The file status flags (F_GETFL) of the file `r` holds (0 when it holds none): not to be
/// confused with the flags an open call asks for.
pub(super) fn held_file_flags(r: &Resolved) -> i32 {
    r.opened.as_ref().map_or(0, |f| {
        // SAFETY: F_GETFL on a descriptor we hold.
        unsafe { libc::fcntl(f.fd().as_raw_fd(), libc::F_GETFL) }
    })
}

/// Device nodes a guest may make: the character devices every container has (null, zero,
/// full, random, urandom, tty); any other device, and every block device, would reach the
/// host's hardware (EPERM, as in a user namespace).
fn device_allowed(mode: u64, dev: u64) -> bool {
    let kind = mode as u32 & libc::S_IFMT;
    if kind != libc::S_IFCHR && kind != libc::S_IFBLK {
        return true;
    }
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    kind == libc::S_IFCHR && matches!((major, minor), (1, 3 | 5 | 7 | 8 | 9) | (5, 0))
}

pub(crate) fn mknod(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    if !ctx.world.vfs.is_identity() && !device_allowed(call.args[1], call.args[2]) {
        return Err(Errno::EPERM);
    }
    mknod_path(ctx, call)
}

pub(crate) fn mknodat(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    if !ctx.world.vfs.is_identity() && !device_allowed(call.args[2], call.args[3]) {
        return Err(Errno::EPERM);
    }
    mknodat_path(ctx, call)
}

/// fanotify marks on a whole mount or filesystem would watch (and, through their event
/// descriptors, open) the host's files outside the guest's tree: only inode marks.
pub(crate) fn fanotify_mark(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    const FAN_MARK_MOUNT: u64 = 0x10;
    const FAN_MARK_FILESYSTEM: u64 = 0x100;
    if !ctx.world.vfs.is_identity() && call.args[1] & (FAN_MARK_MOUNT | FAN_MARK_FILESYSTEM) != 0 {
        return Err(Errno::EPERM);
    }
    fanotify_mark_path(ctx, call)
}

/// open's, creat's and openat's path arguments.
pub(super) const OPEN: PathArg = arg(0, Follow::Open(1), Writes::Open(1));
pub(super) const CREAT: PathArg = PathArg {
    creates: true,
    ..arg(0, Yes, Writes::Yes)
};
pub(super) const OPENAT: PathArg = at(0, 1, Follow::Open(2), Writes::Open(2));

pub(crate) fn open(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    translate_open(ctx, call, OPEN)
}

pub(crate) fn creat(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    translate_open(ctx, call, CREAT)
}

pub(crate) fn openat(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    translate_open(ctx, call, OPENAT)
}

/// `struct open_how`.
#[repr(C)]
#[derive(Clone, Copy)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}
// SAFETY: three u64s, no padding.
unsafe impl crate::memory::Pod for OpenHow {}

pub(crate) fn openat2(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    if ctx.world.vfs.is_identity() {
        return Ok(Outcome::Continue);
    }
    let how = read_open_how(ctx, call.args[2], call.args[3])?;
    const RESOLVE_BENEATH: u64 = 0x08;
    const RESOLVE_IN_ROOT: u64 = 0x10;
    let mut flags_call = *call;
    flags_call.args[2] = how.flags;
    let spec = at(0, 1, Follow::Open(2), Writes::Open(2));
    let confined = how.resolve & (RESOLVE_BENEATH | RESOLVE_IN_ROOT);
    if confined == 0 {
        let Some(r) = resolve_arg(ctx, &flags_call, &spec)? else {
            return Ok(Outcome::Continue);
        };
        return open_how_args(ctx, &flags_call, &spec, &r, how);
    }
    // Linux refuses both at once before any lookup.
    if confined == RESOLVE_BENEATH | RESOLVE_IN_ROOT {
        return Err(Errno::EINVAL);
    }
    // The lookup is confined to the dirfd: lxrun walks it with the dirfd as the root (absolute
    // symlinks and `..` stay inside for RESOLVE_IN_ROOT; RESOLVE_BENEATH fails with EXDEV where
    // they would leave it), then hands the kernel the host path without the confining flags,
    // which would refuse it.
    let path = read_path(ctx, call.args[1])?;
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let beneath = confined == RESOLVE_BENEATH;
    // An absolute path never looks at the dirfd (a bad one is not EBADF).
    if beneath && path[0] == b'/' {
        return Err(Errno::EXDEV);
    }
    let dir = match base_of(call, Some(0)) {
        Base::Cwd => ctx.dirs().1,
        Base::Fd(fd) => ctx.resolve_fd(fd)?.guest,
    };
    let r = ctx.resolve_within(&dir, &path, follows(spec.follow, &flags_call), beneath)?;
    if r.readonly && writes(spec.writes, &flags_call) {
        return Err(Errno::EROFS);
    }
    let relaxed = OpenHow {
        resolve: how.resolve & !confined,
        ..how
    };
    open_how_args(ctx, &flags_call, &spec, &r, relaxed)
}

/// openat2's new arguments for `r`: the path, and lxrun's copy of `how` (the first version of
/// the struct, with its size) carrying the flags the entry needs (O_NOFOLLOW).
fn open_how_args(
    ctx: &SyscallCtx<'_>,
    flags_call: &SyscallArgs,
    spec: &PathArg,
    r: &Resolved,
    mut how: OpenHow,
) -> Result<Outcome, Errno> {
    let mut new = open_args(ctx, flags_call, spec, r)?;
    if let Some(pos) = new.iter().position(|(i, _)| *i == 2) {
        if let (_, NewArg::Int(flags)) = new.remove(pos) {
            how.flags = flags;
        }
    }
    // SAFETY: OpenHow is three u64s.
    let bytes = unsafe { std::slice::from_raw_parts((&how as *const OpenHow).cast::<u8>(), size_of::<OpenHow>()) };
    new.push((2, NewArg::Bytes(bytes.to_vec())));
    new.push((3, NewArg::Int(size_of::<OpenHow>() as u64)));
    Ok(Outcome::Rewrite(new))
}

/// openat2's `struct open_how` of `size` bytes at `addr`, checked as the kernel checks it: at
/// least its first version (EINVAL), at most a page (E2BIG), and any bytes past the fields this
/// kernel knows all zero (E2BIG).
fn read_open_how(ctx: &SyscallCtx<'_>, addr: u64, size: u64) -> Result<OpenHow, Errno> {
    let known = size_of::<OpenHow>() as u64;
    if size < known {
        return Err(Errno::EINVAL);
    }
    if size > 4096 {
        return Err(Errno::E2BIG);
    }
    let how: OpenHow = ctx.mem.read(GuestPtr::new(addr))?;
    if size > known {
        let mut rest = vec![0u8; (size - known) as usize];
        ctx.mem.read_bytes(addr.wrapping_add(known), &mut rest)?;
        if rest.iter().any(|&b| b != 0) {
            return Err(Errno::E2BIG);
        }
    }
    Ok(how)
}

/// Systrap mode's SYS_LXRUN_OPEN_PATH: the guest's open, openat or openat2 that the stub's
/// handler carries (its number and first four arguments), and what lxrun answers to it; the
/// backend performs it and passes the descriptor over a socket (ADDFD refuses O_PATH files).
/// Only O_PATH opens come this way: anything else is refused.
pub(crate) fn open_path_for_stub(
    ctx: &mut SyscallCtx<'_>,
    call: &SyscallArgs,
) -> Result<(SyscallArgs, Outcome), Errno> {
    let [nr, a0, a1, a2, a3, _] = call.args;
    let flags = match nr as i64 {
        libc::SYS_open => a1,
        libc::SYS_openat => a2,
        // open_how.flags, its first field.
        libc::SYS_openat2 => ctx.mem.read::<u64>(GuestPtr::new(a2))?,
        // Its descriptor is always an O_PATH file.
        libc::SYS_open_tree => libc::O_PATH as u64,
        _ => return Err(Errno::ENOSYS),
    };
    if flags & libc::O_PATH as u64 == 0 {
        return Err(Errno::EINVAL);
    }
    let open = SyscallArgs {
        nr,
        args: [a0, a1, a2, a3, 0, 0],
        ..*call
    };
    Ok((open, crate::dispatch(ctx, &open)))
}
