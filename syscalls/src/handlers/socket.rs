//! AF_UNIX socket addresses are paths: bind, connect and sendto get a short name through
//! lxrun's descriptors (`/proc/<lxrun>/fd/N[/name]`, whatever the host path's length), and
//! getsockname/getpeername, and the peer's address accept/accept4 return, answer with the
//! guest's path.

use crate::context::SyscallCtx;
use crate::memory::GuestPtr;
use crate::outcome::{NewArg, Outcome};
use crate::{Errno, SyscallArgs};
use lxrun_vfs::Base;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

const AF_UNIX: u16 = libc::AF_UNIX as u16;
/// sizeof(struct sockaddr_un).
const SUN_LEN: usize = 110;
const SUN_PATH: usize = SUN_LEN - 2;

/// The path in a guest sockaddr_un, or None for other families, unnamed and abstract sockets.
fn unix_path(ctx: &SyscallCtx<'_>, addr: u64, len: u64) -> Result<Option<Vec<u8>>, Errno> {
    if addr == 0 || len < 3 {
        return Ok(None);
    }
    let len = (len as usize).min(SUN_LEN);
    let mut raw = vec![0u8; len];
    ctx.mem.read_bytes(addr, &mut raw)?;
    if u16::from_ne_bytes([raw[0], raw[1]]) != AF_UNIX || raw[2] == 0 {
        return Ok(None);
    }
    let path = &raw[2..];
    let end = path.iter().position(|&c| c == 0).unwrap_or(path.len());
    Ok(Some(path[..end].to_vec()))
}

/// A sockaddr_un naming the socket `r` resolved to, through lxrun's descriptors (held until
/// the thread's next call): `/proc/<lxrun>/fd/N` of the socket itself for a call that follows
/// the name (connect, sendto), `/proc/<lxrun>/fd/D/name` of its directory for bind. Short,
/// whatever the host path's length, and never walked again from a path the guest could swap
/// (a host path would be: a symlink swapped in on its way leads the kernel out of the root).
/// lxrun performs these calls (its own descriptors are its own to reach, whatever ids its
/// thread takes on for the guest), but for the ptrace backend on kernels without user
/// notification, whose guest after a privilege drop may not reach them.
fn host_sockaddr(ctx: &SyscallCtx<'_>, r: &lxrun_vfs::Resolved, create: bool) -> Result<Vec<u8>, Errno> {
    let host = r.host.as_os_str().as_bytes();
    let guest_call = ctx.world.guest_calls.load(std::sync::atomic::Ordering::Relaxed);
    // (Known gap there: the kernel walks the host path again.)
    if !create && host.len() < SUN_PATH && guest_call && ctx.process.state().creds_changed {
        let mut sa = AF_UNIX.to_ne_bytes().to_vec();
        sa.extend_from_slice(host);
        sa.push(0);
        return Ok(sa);
    }
    let target = r.target(!create).ok_or(Errno::ENOENT)?;
    let path = super::path::held_alias(ctx, &target)?;
    if path.len() >= SUN_PATH {
        return Err(Errno::ENAMETOOLONG);
    }
    let mut sa = AF_UNIX.to_ne_bytes().to_vec();
    sa.extend_from_slice(&path);
    sa.push(0);
    Ok(sa)
}

/// Rewrites the address at argument `addr` (length at `len`); `create`: bind makes the name.
fn translate_addr(
    ctx: &SyscallCtx<'_>,
    call: &SyscallArgs,
    addr: usize,
    len: usize,
    create: bool,
) -> Result<Outcome, Errno> {
    if ctx.world.vfs.is_identity() {
        return Ok(Outcome::Continue);
    }
    let Some(path) = unix_path(ctx, call.args[addr], call.args[len])? else {
        return Ok(Outcome::Continue);
    };
    let r = if create {
        ctx.resolve_entry(Base::Cwd, &path)?
    } else {
        ctx.resolve(Base::Cwd, &path, true)?
    };
    if create && r.readonly {
        return Err(Errno::EROFS);
    }
    if !create && !r.exists {
        return Err(Errno::ENOENT);
    }
    let sa = host_sockaddr(ctx, &r, create)?;
    if create {
        ctx.world.bound_socket(sa[2..sa.len() - 1].to_vec(), path);
    }
    let n = sa.len() as u64;
    Ok(Outcome::Rewrite(vec![(addr, NewArg::Bytes(sa)), (len, NewArg::Int(n))]))
}

pub(crate) fn bind(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    translate_addr(ctx, call, 1, 2, true)
}

pub(crate) fn connect(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    translate_addr(ctx, call, 1, 2, false)
}

pub(crate) fn sendto(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    translate_addr(ctx, call, 4, 5, false)
}

/// sendmsg: a `msghdr` whose msg_name is an AF_UNIX path gets a copy pointing at the host name
/// (placed in the guest's memory by the ptrace backend; the seccomp backend sends from its own
/// copy of the message, descriptors and all).
pub(crate) fn sendmsg(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    if ctx.world.vfs.is_identity() {
        return Ok(Outcome::Continue);
    }
    let msg: [u8; 56] = ctx.mem.read(GuestPtr::new(call.args[1]))?;
    let name = u64::from_le_bytes(msg[0..8].try_into().unwrap_or_default());
    let namelen = u32::from_le_bytes(msg[8..12].try_into().unwrap_or_default());
    let Some(path) = unix_path(ctx, name, u64::from(namelen))? else {
        return Ok(Outcome::Continue);
    };
    let r = ctx.resolve(Base::Cwd, &path, true)?;
    if !r.exists {
        return Err(Errno::ENOENT);
    }
    let sa = host_sockaddr(ctx, &r, false)?;
    let mut copy = msg.to_vec();
    copy[8..12].copy_from_slice(&(sa.len() as u32).to_le_bytes());
    Ok(Outcome::Rewrite(vec![(
        1,
        NewArg::Struct {
            bytes: copy,
            pointers: vec![(0, sa)],
        },
    )]))
}

/// getsockname/getpeername done by lxrun on the guest's socket, with the path translated back.
fn name_of(ctx: &SyscallCtx<'_>, call: &SyscallArgs, peer: bool) -> Result<Outcome, Errno> {
    if ctx.world.vfs.is_identity() {
        return Ok(Outcome::Continue);
    }
    let [fd, addr, lenp, ..] = call.args;
    let sock = crate::fds::borrow(ctx.tid, ctx.tgid, fd as i32)?;
    let Some(out) = guest_name(ctx, &sock, peer)? else {
        return Ok(Outcome::Continue);
    };
    let room: u32 = ctx.mem.read(GuestPtr::new(lenp))?;
    write_name(ctx, addr, lenp, room, &out)?;
    Ok(Outcome::Return(0))
}

/// The AF_UNIX name of `sock` (or of its peer) as the guest knows it: the name it bound, or
/// the guest path of the host's; None for other families and unnamed or abstract sockets.
fn guest_name(ctx: &SyscallCtx<'_>, sock: &OwnedFd, peer: bool) -> Result<Option<Vec<u8>>, Errno> {
    let mut sa = [0u8; SUN_LEN];
    let mut len = SUN_LEN as libc::socklen_t;
    let f = if peer { libc::getpeername } else { libc::getsockname };
    // SAFETY: `sa` and `len` describe a local buffer.
    if unsafe { f(sock.as_raw_fd(), sa.as_mut_ptr().cast(), &mut len) } != 0 {
        return Err(Errno::last());
    }
    let mut out = sa[..(len as usize).min(SUN_LEN)].to_vec();
    if u16::from_ne_bytes([sa[0], sa[1]]) != AF_UNIX || len <= 2 || sa[2] == 0 {
        return Ok(None);
    }
    let host = &out[2..];
    let host = &host[..host.iter().position(|&c| c == 0).unwrap_or(host.len())];
    if let Some(guest) = ctx
        .world
        .socket_name(host)
        .or_else(|| ctx.world.vfs.guest_of(lxrun_vfs::path(host)))
    {
        out = AF_UNIX.to_ne_bytes().to_vec();
        out.extend_from_slice(&guest);
        out.push(0);
    }
    Ok(Some(out))
}

/// Like the kernel: copies at most `room` bytes of sockaddr `out` to `addr` and stores its
/// full length at `lenp`.
fn write_name(ctx: &SyscallCtx<'_>, addr: u64, lenp: u64, room: u32, out: &[u8]) -> Result<(), Errno> {
    let n = out.len().min(room as usize);
    ctx.mem.write_bytes(addr, &out[..n])?;
    ctx.mem.write(GuestPtr::<u32>::new(lenp), &(out.len() as u32))
}

/// accept/accept4 run on the host as they are; when the guest asked for the peer's address of
/// an AF_UNIX connection, its exit rewrites the name the kernel reported (`accepted`).
pub(crate) fn accept(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let [fd, addr, lenp, ..] = call.args;
    if ctx.world.vfs.is_identity() || addr == 0 || lenp == 0 {
        return Ok(Outcome::Continue);
    }
    // Whatever lxrun cannot read or borrow, the kernel answers for (EFAULT, EBADF, ENOTSOCK).
    let Ok(room) = ctx.mem.read::<u32>(GuestPtr::new(lenp)) else {
        return Ok(Outcome::Continue);
    };
    let Ok(sock) = crate::fds::borrow(ctx.tid, ctx.tgid, fd as i32) else {
        return Ok(Outcome::Continue);
    };
    let mut domain: libc::c_int = 0;
    let mut size = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `domain` and `size` describe a local int.
    let got = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_DOMAIN,
            (&mut domain as *mut libc::c_int).cast(),
            &mut size,
        )
    };
    if got != 0 || domain != libc::AF_UNIX {
        return Ok(Outcome::Continue);
    }
    Ok(Outcome::ContinueThen(crate::After::PeerName { addr, lenp, room }))
}

/// At accept's exit: `ret` is the new socket (or the error); its peer's name, when the kernel
/// reported an AF_UNIX path, becomes the guest's (as getpeername answers). Nothing is changed
/// when lxrun cannot tell.
pub(crate) fn accepted(ctx: &SyscallCtx<'_>, ret: i64, addr: u64, lenp: u64, room: u32) {
    let Ok(fd) = i32::try_from(ret) else { return };
    if fd < 0 {
        return;
    }
    let Ok(sock) = crate::fds::borrow(ctx.tid, ctx.tgid, fd) else {
        return;
    };
    if let Ok(Some(out)) = guest_name(ctx, &sock, true) {
        // The guest's buffer was writable a moment ago: the kernel just wrote it.
        let _ = write_name(ctx, addr, lenp, room, &out);
    }
}

/// accept/accept4 performed by lxrun (no tracer sees the call's exit): the peer's name of the
/// accepted `sock` written as the kernel writes it, the guest's name where the peer has an
/// AF_UNIX path, else `reported` (what lxrun's accept got); at most as many bytes as `*lenp`
/// leaves room for (read now: the kernel reads it once the connection is accepted), the full
/// length stored at `lenp`.
pub(crate) fn write_accepted(
    ctx: &SyscallCtx<'_>,
    sock: &OwnedFd,
    reported: &[u8],
    addr: u64,
    lenp: u64,
) -> Result<(), Errno> {
    let room: i32 = ctx.mem.read(GuestPtr::new(lenp))?;
    if room < 0 {
        return Err(Errno::EINVAL);
    }
    let out = match guest_name(ctx, sock, true) {
        Ok(Some(out)) => out,
        _ => reported.to_vec(),
    };
    write_name(ctx, addr, lenp, room as u32, &out)
}

pub(crate) fn getsockname(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    name_of(ctx, call, false)
}

pub(crate) fn getpeername(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    name_of(ctx, call, true)
}
