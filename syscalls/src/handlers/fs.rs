//! Filesystem calls whose answers carry paths (readlink, getcwd) or change the process's view
//! (chdir, fchdir, chroot).

use super::path::{held_alias, path_arg, read_path};
use crate::context::SyscallCtx;
use crate::outcome::{NewArg, Outcome};
use crate::{Errno, SyscallArgs};
use lxrun_vfs::{Base, View};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;

pub(crate) fn readlink(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let [path, buf, size, ..] = call.args;
    readlink_common(ctx, Base::Cwd, path, buf, size, 0)
}

pub(crate) fn readlinkat(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let [dirfd, path, buf, size, ..] = call.args;
    let base = if dirfd as i32 == libc::AT_FDCWD {
        Base::Cwd
    } else {
        Base::Fd(dirfd as i32)
    };
    readlink_common(ctx, base, path, buf, size, 1)
}

/// /proc's magic links answer with the guest's paths; any other link's target is already a
/// guest path (links inside the guest's tree hold guest paths), so only the path is translated.
fn readlink_common(
    ctx: &SyscallCtx<'_>,
    base: Base,
    path: u64,
    buf: u64,
    size: u64,
    path_arg: usize,
) -> Result<Outcome, Errno> {
    // The kernel checks the size (an int) before it reads the path.
    if size as i32 <= 0 {
        return Err(Errno::EINVAL);
    }
    let guest_path = read_path(ctx, path)?;
    if guest_path.is_empty() {
        // readlinkat(fd, "") reads the link fd itself (opened with O_PATH|O_NOFOLLOW).
        return Ok(Outcome::Continue);
    }
    let r = ctx.resolve(base, &guest_path, false)?;
    let (root, cwd) = ctx.dirs();
    let view = View {
        root: &root,
        cwd: &cwd,
        guests: ctx,
    };
    if let Some(target) = ctx.world.vfs.proc_link(&view, &r.guest) {
        let n = target.len().min(size as u32 as usize);
        ctx.mem.write_bytes(buf, &target[..n])?;
        return Ok(Outcome::Return(n as i64));
    }
    if ctx.world.vfs.is_identity() {
        return Ok(Outcome::Continue);
    }
    if !r.exists {
        return Err(Errno::ENOENT);
    }
    // The link the lookup opened (not followed): read through its own descriptor.
    Ok(Outcome::Rewrite(vec![(path_arg, self::path_arg(ctx, &r, true)?)]))
}

/// getcwd from the kernel's cwd of the thread, named by reverse translation: a directory
/// renamed since the chdir is named as it is now, a deleted one is ENOENT, one outside the
/// process's root is `(unreachable)` as Linux says.
pub(crate) fn getcwd(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let [buf, size, ..] = call.args;
    let cwd = ctx.guest_cwd()?;
    let root = ctx.process.fs().root.clone();
    let mut bytes = if root == b"/" {
        cwd
    } else if cwd == root {
        b"/".to_vec()
    } else if cwd.starts_with(&root) && cwd.get(root.len()) == Some(&b'/') {
        cwd[root.len()..].to_vec()
    } else {
        [b"(unreachable)".as_slice(), &cwd].concat()
    };
    // The kernel builds the path in one page: longer is ENAMETOOLONG whatever the buffer (glibc's
    // getcwd(NULL, 0) relies on it); one that fits the page but not the buffer, ERANGE.
    if bytes.len() + 1 > lxrun_vfs::PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    if (bytes.len() + 1) as u64 > size {
        return Err(Errno::ERANGE);
    }
    bytes.push(0);
    ctx.mem.write_bytes(buf, &bytes)?;
    Ok(Outcome::Return(bytes.len() as i64))
}

/// Checks that the resolved object is a directory the guest may enter (search permission,
/// checked on the object the lookup holds).
fn enterable(r: &lxrun_vfs::Resolved) -> Result<(), Errno> {
    let dir = r.opened.as_ref().ok_or(Errno::ENOENT)?;
    let meta = dir.metadata().map_err(|e| Errno::from_io(&e))?;
    if !meta.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    // SAFETY: an empty C string and a descriptor we hold.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_faccessat2,
            dir.fd().as_raw_fd(),
            c"".as_ptr(),
            libc::X_OK,
            libc::AT_EMPTY_PATH,
        )
    };
    if rc != 0 {
        return Err(Errno::last());
    }
    Ok(())
}

pub(crate) fn chdir(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let path = read_path(ctx, call.args[0])?;
    let r = ctx.resolve(Base::Cwd, &path, true)?;
    if !r.exists {
        return Err(Errno::ENOENT);
    }
    enterable(&r)?;
    ctx.process.fs().cwd = r.guest.clone();
    // The host's cwd follows, so the kernel's relative lookups agree with ours: the host path
    // (the ptrace backend writes it for the guest's own chdir), or, where that is too long for
    // the kernel, lxrun's descriptor of the directory.
    let mut host = r.host.as_os_str().as_bytes().to_vec();
    if host.len() >= lxrun_vfs::PATH_MAX {
        let dir = r.opened.clone().ok_or(Errno::ENOENT)?;
        host = held_alias(ctx, &lxrun_vfs::Target::Object(dir))?;
    }
    host.push(0);
    Ok(Outcome::Rewrite(vec![(0, NewArg::Bytes(host))]))
}

pub(crate) fn fchdir(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let fd = call.args[0] as i32;
    let r = ctx.resolve_fd(fd)?;
    enterable(&r)?;
    // (A directory too deep for the kernel to name keeps the name chdir recorded.)
    if !r.guest.is_empty() {
        ctx.process.fs().cwd = r.guest;
    }
    Ok(Outcome::Continue)
}

/// chroot is virtual: it changes the process's guest root, never the host's.
pub(crate) fn chroot(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    if ctx.world.vfs.is_identity() {
        // With the host's own tree nothing is translated, so the kernel's chroot must apply.
        return Ok(Outcome::Continue);
    }
    let path = read_path(ctx, call.args[0])?;
    let r = ctx.resolve(Base::Cwd, &path, true)?;
    if !r.exists {
        return Err(Errno::ENOENT);
    }
    enterable(&r)?;
    // Systrap mode: the stub's handler answers absolute paths from the root's directory at a
    // fixed number, checked to still be the root before each use; the new root's directory
    // there fails that check, so absolute paths go to lxrun, which knows the new root.
    if let (Some(install), Some(_), Some(dir)) = (ctx.install_fd, ctx.world.fast_path.get(), &r.opened) {
        if let Ok(dir) = dir.reopen(libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC) {
            install(std::os::fd::AsFd::as_fd(&dir), Some(super::exec::root_fd_number()))?;
        }
    }
    ctx.process.fs().root = r.guest;
    Ok(Outcome::Return(0))
}

/// Systrap mode: the stub's handler hands over a guest's chdir; the answer is a descriptor of
/// the directory (the handler fchdirs to it; ADDFD refuses O_PATH ones, so it is opened for
/// reading: a directory the guest may search but not read is a known gap), the cwd recorded
/// as chdir records it.
/// Systrap mode's SYS_LXRUN_PROC_PIDS: a listing of /proc the guest just read, without the
/// processes lxrun does not run (their files are ENOENT to the guest already).
pub(crate) fn proc_pids_for_stub(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    use lxrun_vfs::Guests;
    const MAX: u64 = 1 << 20;
    let [buf, len, ..] = call.args;
    if len > MAX {
        return Err(Errno::EINVAL);
    }
    let mut dirents = vec![0u8; len as usize];
    ctx.mem.read_bytes(buf, &mut dirents)?;
    let mut kept = Vec::with_capacity(dirents.len());
    let mut at = 0usize;
    // linux_dirent64: u64 ino, i64 off, u16 reclen, u8 type, name (NUL-terminated).
    while at + 19 <= dirents.len() {
        let reclen = usize::from(u16::from_ne_bytes([dirents[at + 16], dirents[at + 17]]));
        if reclen < 20 || at + reclen > dirents.len() {
            return Err(Errno::EINVAL);
        }
        let entry = &dirents[at..at + reclen];
        let name = entry[19..].split(|&c| c == 0).next().unwrap_or_default();
        let pid = std::str::from_utf8(name)
            .ok()
            .and_then(|n| n.parse::<i32>().ok())
            .filter(|_| !name.is_empty() && name.iter().all(u8::is_ascii_digit));
        if pid.is_none_or(|p| ctx.is_guest(p)) {
            kept.extend_from_slice(entry);
        }
        at += reclen;
    }
    ctx.mem.write_bytes(buf, &kept)?;
    Ok(Outcome::Return(kept.len() as i64))
}

pub(crate) fn chdir_for_stub(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let install = ctx.install_fd.ok_or(Errno::ENOSYS)?;
    let path = read_path(ctx, call.args[0])?;
    let r = ctx.resolve(Base::Cwd, &path, true)?;
    if !r.exists {
        return Err(Errno::ENOENT);
    }
    enterable(&r)?;
    let dir = r
        .opened
        .as_ref()
        .ok_or(Errno::ENOENT)?
        .reopen(libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC)
        .map_err(|e| Errno::from_io(&e))?;
    ctx.process.fs().cwd = r.guest;
    Ok(Outcome::Return(i64::from(install(
        std::os::fd::AsFd::as_fd(&dir),
        None,
    )?)))
}
