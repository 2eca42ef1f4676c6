//! name_to_handle_at and open_by_handle_at, confined to the guest's tree: the handle is made
//! for the object the walker resolved, and an object opened by handle is given to the guest only
//! when it lies in the guest's view (a handle names any inode of its filesystem, wherever it is:
//! ESTALE, as for a handle the filesystem no longer knows, where it is outside).

use super::ids::has_cap;
use super::mount::resolved_at;
use crate::context::SyscallCtx;
use crate::outcome::Outcome;
use crate::{Errno, SyscallArgs};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

/// MAX_HANDLE_SZ.
const MAX_HANDLE: u32 = 128;
const CAP_DAC_READ_SEARCH: u32 = 2;
const AT_HANDLE_FID: u64 = 0x200;
const AT_HANDLE_MNT_ID_UNIQUE: u64 = 0x001;
const AT_EMPTY_PATH: u64 = libc::AT_EMPTY_PATH as u64;
const AT_SYMLINK_FOLLOW: u64 = libc::AT_SYMLINK_FOLLOW as u64;

/// `struct file_handle`'s header: the size of `f_handle` and its type.
fn header(ctx: &SyscallCtx<'_>, at: u64) -> Result<(u32, i32), Errno> {
    let mut head = [0u8; 8];
    ctx.mem.read_bytes(at, &mut head)?;
    let bytes = u32::from_ne_bytes([head[0], head[1], head[2], head[3]]);
    let kind = i32::from_ne_bytes([head[4], head[5], head[6], head[7]]);
    Ok((bytes, kind))
}

pub(crate) fn name_to_handle_at(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let [dfd, path, handle, mount_id, flags, _] = call.args;
    let known = AT_EMPTY_PATH | AT_SYMLINK_FOLLOW | AT_HANDLE_FID | AT_HANDLE_MNT_ID_UNIQUE;
    if flags & !known != 0 {
        return Err(Errno::EINVAL);
    }
    let r = resolved_at(
        ctx,
        dfd,
        path,
        flags & AT_SYMLINK_FOLLOW != 0,
        flags & AT_EMPTY_PATH != 0,
    )?;
    let object = r.opened.ok_or(Errno::ENOENT)?;
    // The guest's buffer size, read once; lxrun's call fills its own copy.
    let (room, _) = header(ctx, handle)?;
    if room > MAX_HANDLE {
        return Err(Errno::EINVAL);
    }
    let mut buf = vec![0u8; 8 + MAX_HANDLE as usize];
    buf[..4].copy_from_slice(&room.to_ne_bytes());
    let mut mnt = 0u64;
    let mine = flags & (AT_HANDLE_FID | AT_HANDLE_MNT_ID_UNIQUE) | AT_EMPTY_PATH;
    // SAFETY: a buffer of MAX_HANDLE bytes after the header (the kernel writes at most `room`),
    // an 8-byte mount id (AT_HANDLE_MNT_ID_UNIQUE's size), an empty C string.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_name_to_handle_at,
            object.fd().as_raw_fd(),
            c"".as_ptr(),
            buf.as_mut_ptr(),
            &mut mnt as *mut u64,
            mine,
        )
    };
    if rc < 0 {
        let e = Errno::last();
        if e == Errno::EOVERFLOW {
            // The size the handle needs, for the guest's next try.
            ctx.mem.write_bytes(handle, &buf[..4])?;
        }
        return Err(e);
    }
    let used = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]);
    ctx.mem.write_bytes(handle, &buf[..8 + used.min(MAX_HANDLE) as usize])?;
    let id_len = if flags & AT_HANDLE_MNT_ID_UNIQUE != 0 { 8 } else { 4 };
    ctx.mem.write_bytes(mount_id, &mnt.to_ne_bytes()[..id_len])?;
    Ok(Outcome::Return(0))
}

pub(crate) fn open_by_handle_at(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let [mount_fd, handle, flags, ..] = call.args;
    // As handle_to_path orders it: the header, the anchor's descriptor, the capability.
    let (bytes, kind) = header(ctx, handle)?;
    if bytes > MAX_HANDLE || bytes == 0 || kind < 0 {
        return Err(Errno::EINVAL);
    }
    let mut buf = vec![0u8; 8 + bytes as usize];
    ctx.mem.read_bytes(handle, &mut buf)?;
    // The header as checked, whatever the guest's memory holds now.
    buf[..4].copy_from_slice(&bytes.to_ne_bytes());
    buf[4..8].copy_from_slice(&kind.to_ne_bytes());
    // Only its mount counts (the kernel decodes the handle on that filesystem); what opens is
    // checked below, wherever it is. The kernel takes no O_PATH file here (EBADF): the guest's
    // own descriptor is passed as it is, its cwd reopened for reading.
    let dir: OwnedFd = if mount_fd as i32 == libc::AT_FDCWD {
        let cwd = ctx.resolve(lxrun_vfs::Base::Cwd, b".", true)?;
        let file = match &cwd.opened {
            Some(o) => o.reopen(libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC),
            None => std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
                .open(&cwd.host),
        };
        file.map_err(|e| Errno::from_io(&e))?.into()
    } else {
        crate::fds::borrow(ctx.tid, ctx.tgid, mount_fd as i32)?
    };
    if !has_cap(ctx, CAP_DAC_READ_SEARCH) {
        return Err(Errno::EPERM);
    }
    let flags = flags as i32;
    if flags & libc::O_PATH != 0 {
        // An O_PATH file cannot be installed by user notification (ADDFD refuses it).
        tracing::info!("open_by_handle_at with O_PATH refused with EINVAL: not supported yet");
        return Err(Errno::EINVAL);
    }
    // SAFETY: our copy of the handle and a descriptor we hold.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_open_by_handle_at,
            dir.as_raw_fd(),
            buf.as_ptr(),
            flags | libc::O_CLOEXEC,
        )
    };
    if rc < 0 {
        return Err(Errno::last());
    }
    // SAFETY: a new descriptor, ours alone.
    let fd = unsafe { OwnedFd::from_raw_fd(rc as i32) };
    if !in_guests_view(ctx, &fd) {
        tracing::info!("open_by_handle_at: a handle of an object outside the guest's tree: ESTALE");
        return Err(Errno::ESTALE);
    }
    Ok(Outcome::NewFd {
        fd,
        cloexec: flags & libc::O_CLOEXEC != 0,
    })
}

/// Whether the object open as `fd` has a name in the guest's view: the kernel's name for it
/// (a directory's at any depth) translated back.
fn in_guests_view(ctx: &SyscallCtx<'_>, fd: &OwnedFd) -> bool {
    let vfs = &ctx.world.vfs;
    match std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())) {
        Ok(host) if host.is_absolute() => vfs.is_identity() || vfs.guest_of(&host).is_some(),
        _ => false,
    }
}
