//! Performing a translated call on the guest's behalf, from its argument layout
//! (`lxrun_syscalls::proxy`): the rewritten paths are lxrun's own buffers, other inputs are
//! copied from the guest once, outputs copied back, guest fds borrowed with pidfd_getfd.

use super::sendmsg;
use lxrun_syscalls::creds::{AsGuest, Ids};
use lxrun_syscalls::memory::GuestPtr;
use lxrun_syscalls::proxy::{self, Arg, Ret, Size};
use lxrun_syscalls::{table, Errno, NewArg, SyscallArgs, SyscallCtx};
use lxrun_vfs::Target;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// What the call produced.
pub(crate) enum Done {
    Value(i64),
    /// A new fd, to be installed in the guest.
    NewFd {
        fd: OwnedFd,
        cloexec: bool,
    },
}

/// Longest input or output buffer lxrun copies for a call (xattr values are at most 64 KiB).
pub(crate) const MAX_BUF: usize = 1 << 20;

fn size(s: Size, args: &[u64; 6]) -> Result<usize, Errno> {
    let n = match s {
        Size::Const(n) => n,
        Size::Arg(i) => usize::try_from(args[i]).map_err(|_| Errno::EINVAL)?,
    };
    if n > MAX_BUF {
        return Err(Errno::E2BIG);
    }
    Ok(n)
}

pub(crate) fn perform(ctx: &SyscallCtx<'_>, call: &SyscallArgs, rewrite: &[(usize, NewArg)]) -> Result<Done, Errno> {
    let entry = table::lookup(call.nr).ok_or(Errno::ENOSYS)?;
    let creds_changed = ctx.process.state().creds_changed;
    if creds_changed {
        // access(2) checks with the real ids (unless AT_EACCESS): as faccessat2 with
        // AT_EACCESS under the guest's real ids, since lxrun's own real id is not the guest's.
        if let Some((at, rewrite)) = access_as_real(entry.name, call, rewrite) {
            let _as_guest = AsGuest::enter(ctx.tid, Ids::Real)?;
            return run(ctx, "faccessat2", &at, &rewrite, None);
        }
    }
    // The lookup ran with the guest's credentials (SyscallCtx::resolve), so the descriptor it
    // left open may stand for the path.
    if let Some((name, at, object)) = on_object(entry.name, call, rewrite) {
        let _as_guest = creds_changed.then(|| AsGuest::enter(ctx.tid, Ids::Fs)).transpose()?;
        let done = run(ctx, name, &at, &[(1, NewArg::Bytes(vec![0]))], Some(object));
        // readlinkat(fd, "") of what is no symlink says ENOENT where readlink says EINVAL
        // (the object exists: the descriptor holds it).
        return match done {
            Err(Errno::ENOENT) if name == "readlinkat" => Err(Errno::EINVAL),
            done => done,
        };
    }
    let _as_guest = creds_changed.then(|| AsGuest::enter(ctx.tid, Ids::Fs)).transpose()?;
    if let Some((open, rewrite)) = creat_as_open(entry.name, call, rewrite) {
        return run(ctx, "open", &open, &rewrite, None);
    }
    run(ctx, entry.name, call, rewrite, None)
}

/// creat of a name that does not exist yet, as the open it is, not following the entry (creat
/// itself would follow a symlink swapped in since the lookup).
fn creat_as_open(
    name: &str,
    call: &SyscallArgs,
    rewrite: &[(usize, NewArg)],
) -> Option<(SyscallArgs, Vec<(usize, NewArg)>)> {
    if name != "creat"
        || !rewrite
            .iter()
            .any(|(_, a)| matches!(a, NewArg::Path { target, .. } if target.is_entry()))
    {
        return None;
    }
    let flags = libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC | libc::O_NOFOLLOW;
    let open = SyscallArgs {
        nr: libc::SYS_open as u64,
        args: [call.args[0], flags as u64, call.args[1], 0, 0, 0],
        ..*call
    };
    Some((open, rewrite.to_vec()))
}

/// access, faccessat and faccessat2 without AT_EACCESS, as faccessat2 with it (and the path's
/// rewrite moved to argument 1).
fn access_as_real(
    name: &str,
    call: &SyscallArgs,
    rewrite: &[(usize, NewArg)],
) -> Option<(SyscallArgs, Vec<(usize, NewArg)>)> {
    let a = call.args;
    let eaccess = libc::AT_EACCESS as u64;
    let (args, path) = match name {
        "access" => ([libc::AT_FDCWD as u64, a[0], a[1], eaccess, 0, 0], 0),
        "faccessat" => ([a[0], a[1], a[2], eaccess, 0, 0], 1),
        "faccessat2" if a[3] & eaccess == 0 => ([a[0], a[1], a[2], a[3] | eaccess, 0, 0], 1),
        _ => return None,
    };
    let rewrite = rewrite
        .iter()
        .map(|(i, arg)| (if *i == path { 1 } else { *i }, arg.clone()))
        .collect();
    let at = SyscallArgs {
        nr: libc::SYS_faccessat2 as u64,
        args,
        ..*call
    };
    Some((at, rewrite))
}

/// A call that only looks at the object its path names, as its *at form acting on the
/// descriptor the lookup left open (`AT_EMPTY_PATH`) instead of walking the host path again:
/// the form's name, its arguments (the path is argument 1, to be replaced by "") and the
/// descriptor, which takes the place of the dirfd. Flags the kernel would refuse keep the
/// path (with an empty path it skips some of its checks).
fn on_object(name: &str, call: &SyscallArgs, rewrite: &[(usize, NewArg)]) -> Option<(&'static str, SyscallArgs, i32)> {
    use libc::{AT_EACCESS, AT_EMPTY_PATH, AT_FDCWD, AT_NO_AUTOMOUNT, AT_SYMLINK_NOFOLLOW};
    const STATX_SYNC: i32 = libc::AT_STATX_FORCE_SYNC | libc::AT_STATX_DONT_SYNC;
    let a = call.args;
    let flags_in = |arg: usize, allowed: i32| (a[arg] as i32 & !allowed == 0).then_some(a[arg] | AT_EMPTY_PATH as u64);
    let stat_flags = AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH;
    let access_flags = AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH;
    let (empty, cwd) = (AT_EMPTY_PATH as u64, AT_FDCWD as u64);
    let nofollow = AT_SYMLINK_NOFOLLOW as u64;
    use libc::{SYS_faccessat2 as ACCESS, SYS_newfstatat as STAT, SYS_readlinkat as READLINK};
    // (the *at form, its number, its arguments, where the guest's path was)
    let (at, nr, args, path) = match name {
        "stat" => ("newfstatat", STAT, [cwd, a[0], a[1], empty, 0, 0], 0),
        "lstat" => ("newfstatat", STAT, [cwd, a[0], a[1], empty | nofollow, 0, 0], 0),
        "newfstatat" => (
            "newfstatat",
            STAT,
            [a[0], a[1], a[2], flags_in(3, stat_flags)?, 0, 0],
            1,
        ),
        "statx" if a[2] as i32 & STATX_SYNC != STATX_SYNC && a[3] as i32 & libc::STATX__RESERVED == 0 => {
            let flags = flags_in(2, stat_flags | STATX_SYNC)?;
            ("statx", libc::SYS_statx, [a[0], a[1], flags, a[3], a[4], 0], 1)
        }
        "access" => ("faccessat2", ACCESS, [cwd, a[0], a[1], empty, 0, 0], 0),
        "faccessat" => ("faccessat2", ACCESS, [a[0], a[1], a[2], empty, 0, 0], 1),
        "faccessat2" => (
            "faccessat2",
            ACCESS,
            [a[0], a[1], a[2], flags_in(3, access_flags)?, 0, 0],
            1,
        ),
        "readlink" => ("readlinkat", READLINK, [cwd, a[0], a[1], a[2], 0, 0], 0),
        "readlinkat" => ("readlinkat", READLINK, a, 1),
        _ => return None,
    };
    let object = rewrite.iter().find_map(|(i, arg)| match arg {
        NewArg::Path {
            target: Target::Object(object),
            ..
        } if *i == path => Some(object.fd().as_raw_fd()),
        _ => None,
    })?;
    let at_call = SyscallArgs {
        nr: nr as u64,
        args,
        ..*call
    };
    Some((at, at_call, object))
}

/// Runs call `name` with `rewrite` applied; `object`, when given, is a host descriptor for the
/// call's dirfd (argument 0).
fn run(
    ctx: &SyscallCtx<'_>,
    name: &str,
    call: &SyscallArgs,
    rewrite: &[(usize, NewArg)],
    object: Option<i32>,
) -> Result<Done, Errno> {
    let spec = proxy::spec(name).ok_or(Errno::ENOSYS)?;
    // The arguments as the call will see them: rewritten integers replace the guest's.
    let mut raw = call.args;
    for (i, a) in rewrite {
        if let NewArg::Int(v) = a {
            raw[*i] = *v;
        }
    }
    let replaced = |i: usize| rewrite.iter().find(|(j, _)| *j == i).map(|(_, a)| a);
    let umask = ctx.process.fs().umask;

    let mut lent = Lent::default();
    let mut args = [0u64; 6];
    for (i, kind) in spec.args.iter().enumerate() {
        args[i] = match (kind, replaced(i)) {
            // The socket is argument 0, already borrowed.
            (Arg::MsgHdr, rewrite) => sendmsg::msghdr(ctx, args[0] as i32, raw[i], rewrite, &mut lent)?,
            // An entry in a directory lxrun holds: the name beside the dirfd that is now that
            // directory, else through the descriptor's magic link.
            (_, Some(NewArg::Path { target, .. })) => match target {
                Target::Entry(_, name) if i > 0 && spec.args[i - 1] == Arg::DirFd => {
                    lent.push([name.as_slice(), b"\0"].concat())
                }
                _ => lent.push(target.proc_path()),
            },
            (_, Some(NewArg::Bytes(b))) => lent.push(b.clone()),
            (_, Some(NewArg::Fd(file))) => file.fd().as_raw_fd() as u64,
            (_, Some(NewArg::Struct { .. })) => return Err(Errno::ENOSYS),
            (Arg::Int, _) => raw[i],
            (Arg::Mode, _) => raw[i] & !u64::from(umask),
            (Arg::DirFd, _) if i == 0 && object.is_some() => object.map_or(0, |fd| fd as u64),
            (Arg::DirFd, _) => {
                let next_is_absolute = matches!(replaced(i + 1), Some(NewArg::Bytes(_) | NewArg::Path { .. }));
                if let Some(NewArg::Path {
                    target: Target::Entry(dir, _),
                    ..
                }) = replaced(i + 1)
                {
                    dir.fd().as_raw_fd() as u64
                } else if next_is_absolute || raw[i] as i32 == libc::AT_FDCWD {
                    libc::AT_FDCWD as u64
                } else {
                    lent.borrow(ctx, raw[i] as i32)? as u64
                }
            }
            (Arg::Fd, _) => lent.borrow(ctx, raw[i] as i32)? as u64,
            (Arg::Path | Arg::InStr, _) if raw[i] == 0 => 0,
            (Arg::Path | Arg::InStr, _) => {
                let mut s = ctx.mem.read_cstring(GuestPtr::new(raw[i]), 4095, Errno::ENAMETOOLONG)?;
                s.push(0);
                lent.push(s)
            }
            (Arg::In(_), _) if raw[i] == 0 => 0,
            (Arg::In(s), _) => lent.copy_in(ctx, raw[i], size(*s, &raw)?)?,
            (Arg::Out(_) | Arg::OutResult(_) | Arg::XattrArgs { .. }, _) if raw[i] == 0 => 0,
            (Arg::OutResult(s), _) => {
                // The guest's size goes to the kernel as it is (a negative readlink size is its
                // EINVAL); what these calls return (a link, an xattr value or list: at most
                // 64 KiB) fits the largest buffer lxrun lends.
                let n = match size(*s, &raw) {
                    Err(Errno::E2BIG) => MAX_BUF,
                    n => n?,
                };
                lent.out(n, raw[i], true)
            }
            (Arg::Out(s), _) => lent.out(size(*s, &raw)?, raw[i], false),
            (Arg::XattrArgs { usize, get }, _) => xattr_args(ctx, raw[i], raw[*usize], *get, &mut lent)?,
        };
    }
    // SAFETY: every pointer argument points into `lent`'s buffers, alive and unmoved (pushing
    // never reallocates the inner vectors); every fd argument is one we own.
    let ret = unsafe {
        libc::syscall(
            call.nr as libc::c_long,
            args[0],
            args[1],
            args[2],
            args[3],
            args[4],
            args[5],
        )
    };
    if ret < 0 {
        return Err(Errno::last());
    }
    // A new descriptor is owned at once: nothing that fails below may leak it.
    let fd = match spec.ret {
        Ret::Int => None,
        // SAFETY: the call returned a new descriptor, now ours.
        _ => Some(unsafe { OwnedFd::from_raw_fd(ret as i32) }),
    };
    lent.copy_out(ctx, ret as usize)?;
    let cloexec_flags = match spec.ret {
        Ret::Int => return Ok(Done::Value(ret)),
        Ret::NewFd(Some(i)) => raw[i] as i32,
        Ret::NewFd(None) => 0,
        // open_how.flags: the first u64 of lxrun's own copy of the struct (argument 2), the one
        // the kernel read; the guest's memory is not read a second time.
        Ret::NewFdHow if args[2] == 0 => 0,
        // SAFETY: argument 2 points into `lent` (alive), at an open_how of at least 24 bytes
        // (the kernel accepted it).
        Ret::NewFdHow => (unsafe { std::ptr::read_unaligned(args[2] as *const u64) }) as i32,
    };
    let Some(fd) = fd else {
        return Ok(Done::Value(ret));
    };
    Ok(Done::NewFd {
        fd,
        cloexec: cloexec_flags & libc::O_CLOEXEC != 0,
    })
}

/// What a performed call points into, kept alive (and unmoved: pushing never reallocates the
/// inner vectors) until it returns: buffers, borrowed descriptors, and which buffers go back
/// to which guest addresses.
#[derive(Default)]
pub(crate) struct Lent {
    bufs: Vec<Vec<u8>>,
    borrowed: Vec<OwnedFd>,
    /// (buffer index, guest address, copy only the result's length)
    outs: Vec<(usize, u64, bool)>,
}

impl Lent {
    /// Lends `b`; its address.
    pub(crate) fn push(&mut self, b: Vec<u8>) -> u64 {
        self.bufs.push(b);
        self.bufs.last().map_or(0, |b| b.as_ptr() as u64)
    }

    /// Lends a copy of `n` bytes of the guest's at `addr`.
    pub(crate) fn copy_in(&mut self, ctx: &SyscallCtx<'_>, addr: u64, n: usize) -> Result<u64, Errno> {
        let mut b = vec![0u8; n];
        ctx.mem.read_bytes(addr, &mut b)?;
        Ok(self.push(b))
    }

    /// Lends `n` bytes for the call to fill, to be copied back to the guest's `addr` (only as
    /// many as the call's result when `partial`).
    fn out(&mut self, n: usize, addr: u64, partial: bool) -> u64 {
        self.bufs.push(vec![0u8; n]);
        self.outs.push((self.bufs.len() - 1, addr, partial));
        self.bufs.last_mut().map_or(0, |b| b.as_mut_ptr() as u64)
    }

    /// Borrows the guest's descriptor `fd`; lxrun's number for it.
    pub(crate) fn borrow(&mut self, ctx: &SyscallCtx<'_>, fd: i32) -> Result<i32, Errno> {
        let fd = lxrun_syscalls::fds::borrow(ctx.tid, ctx.tgid, fd)?;
        let raw = fd.as_raw_fd();
        self.borrowed.push(fd);
        Ok(raw)
    }

    /// Copies the filled buffers back to the guest; `ret`: what the call returned.
    fn copy_out(&self, ctx: &SyscallCtx<'_>, ret: usize) -> Result<(), Errno> {
        for &(b, addr, partial) in &self.outs {
            let n = if partial {
                ret.min(self.bufs[b].len())
            } else {
                self.bufs[b].len()
            };
            ctx.mem.write_bytes(addr, &self.bufs[b][..n])?;
        }
        Ok(())
    }
}

/// setxattrat/getxattrat's `struct xattr_args { u64 value; u32 size; u32 flags; }` at `ptr`,
/// `usize` bytes long: a copy pointing at a copy of the value (set) or at a buffer lent for it
/// and copied back (get).
fn xattr_args(ctx: &SyscallCtx<'_>, ptr: u64, usize: u64, get: bool, lent: &mut Lent) -> Result<u64, Errno> {
    const VER0: u64 = 16;
    // The kernel's checks, before it reads anything: at least the first version, at most a page.
    if usize < VER0 {
        return Err(Errno::EINVAL);
    }
    if usize > 4096 {
        return Err(Errno::E2BIG);
    }
    let mut args = vec![0u8; usize as usize];
    ctx.mem.read_bytes(ptr, &mut args)?;
    let mut value = [0u8; 8];
    value.copy_from_slice(&args[0..8]);
    let value = u64::from_le_bytes(value);
    let mut len = [0u8; 4];
    len.copy_from_slice(&args[8..12]);
    let len = u32::from_le_bytes(len) as usize;
    // A NULL value stays NULL (getxattrat's size query; EFAULT otherwise, as the kernel says).
    if value != 0 {
        let at = if get {
            // The kernel fills at most XATTR_SIZE_MAX (64 KiB), well within what lxrun lends.
            let len = len.min(MAX_BUF);
            args[8..12].copy_from_slice(&(len as u32).to_le_bytes());
            lent.out(len, value, true)
        } else {
            lent.copy_in(ctx, value, size(Size::Const(len), &[0; 6])?)?
        };
        args[0..8].copy_from_slice(&at.to_le_bytes());
    }
    Ok(lent.push(args))
}
