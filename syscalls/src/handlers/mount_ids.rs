//! statmount and listmount in a guest tree: the kernel's answers for the mounts the guest's
//! view shows, by their real ids (the ones statx and name_to_handle_at already give it).
//!
//! The guests share lxrun's mount namespace (its private copy when lxrun may mount, the
//! host's otherwise), so lxrun asks the kernel for itself and keeps what the guest may see: a
//! mount whose mount point translates back into the guest's tree, named there. As under
//! `chroot`, the mounts that only hold the guest's root or a bind's source are not the guest's
//! (ENOENT), nor is any other of the host's. The request is checked by the kernel in its own
//! order: lxrun passes it on with its own buffers, made to fail where the guest's would.

mod answer;

use super::ids::has_cap;
use crate::context::SyscallCtx;
use crate::memory::{user_range, GuestPtr};
use crate::outcome::Outcome;
use crate::{Errno, SyscallArgs};
use answer::{
    Request, HEAD, KNOWN_MASK, LSMT_ROOT, REQ_SIZE, REQ_VER0, STATMOUNT_MNT_POINT, SYS_LISTMOUNT, SYS_STATMOUNT,
};
use std::os::fd::{AsRawFd, OwnedFd};

const CAP_SYS_ADMIN: u32 = 21;
const LISTMOUNT_REVERSE: u64 = 1;
/// listmount's most ids at once.
const LISTMOUNT_MAX: u64 = 1_000_000;
/// No namespace has this id: the kernel answers ENOENT where it looks it up.
const NO_SUCH_NS: u64 = u64::MAX;
/// Nor is this a descriptor: the kernel answers EBADF where it looks it up.
const NO_SUCH_FD: u32 = u32::MAX;
const NS_GET_NSTYPE: libc::c_ulong = 0xb703;
const NS_GET_MNTNS_ID: libc::c_ulong = 0x8008_b705;

pub(crate) fn statmount(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let [req, buf, bufsize, flags, ..] = call.args;
    if flags != 0 {
        return Err(unknown_flags("statmount", SYS_STATMOUNT, flags));
    }
    shares_lxruns_namespace(ctx)?;
    let (req, _ns_fd) = request(ctx, req)?;
    let req = Request {
        param: req.param & KNOWN_MASK,
        ..req
    };
    if !user_range(buf, bufsize) {
        return Err(answer::statmount_unwritable(&req, bufsize));
    }
    // A buffer of exactly the head is refused for strings before the lookup: the kernel's
    // check, on a buffer of that size.
    let start = if bufsize == HEAD as u64 { HEAD } else { 64 << 10 };
    let limit = bufsize.saturating_add(2 * lxrun_vfs::PATH_MAX as u64);
    let mut a = answer::statmount_whole(&req, start, limit)?;
    let point = match place(ctx, &req)? {
        Some(p) => Some(p),
        // Outside the caller's root: the kernel's is_path_reachable check, then no mount point.
        None if has_cap(ctx, CAP_SYS_ADMIN) => None,
        None => return Err(Errno::EPERM),
    };
    a.replace_mount_point(point.as_deref());
    a.limit_supported();
    if a.overflows(bufsize) {
        return Err(Errno::EOVERFLOW);
    }
    let (head, strings) = a.to_guest(bufsize);
    if !strings.is_empty() {
        ctx.mem
            .write_bytes(buf.checked_add(HEAD as u64).ok_or(Errno::EFAULT)?, strings)?;
    }
    ctx.mem.write_bytes(buf, &head)?;
    Ok(Outcome::Return(0))
}

pub(crate) fn listmount(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let [req, ids, nr, flags, ..] = call.args;
    if flags & !LISTMOUNT_REVERSE != 0 {
        return Err(unknown_flags("listmount", SYS_LISTMOUNT, flags));
    }
    if nr > LISTMOUNT_MAX {
        return Err(Errno::EOVERFLOW);
    }
    if !user_range(ids, nr * 8) {
        return Err(Errno::EFAULT);
    }
    shares_lxruns_namespace(ctx)?;
    let (req, _ns_fd) = request(ctx, req)?;
    // The kernel's checks, in its order: the ids, the last id, the namespace, the parent.
    answer::listmount(&req, &mut [])?;
    let listed: Vec<u64> = if req.mnt_id == LSMT_ROOT {
        let all = answer::listmount_all(LSMT_ROOT, &req)?;
        all.into_iter()
            .filter(|&id| matches!(place(ctx, &Request { mnt_id: id, ..req }), Ok(Some(_))))
            .collect()
    } else {
        if place(ctx, &req)?.is_none() && !has_cap(ctx, CAP_SYS_ADMIN) {
            return Err(Errno::EPERM);
        }
        let below = answer::listmount_all(req.mnt_id, &req)?;
        below
            .into_iter()
            .filter(|&id| place(ctx, &Request { mnt_id: id, ..req }).is_ok())
            .collect()
    };
    let last = req.param;
    let reverse = flags & LISTMOUNT_REVERSE != 0;
    let after_last = |id: &u64| last == 0 || if reverse { *id < last } else { *id > last };
    let picked: Vec<u64> = if reverse {
        listed
            .iter()
            .rev()
            .copied()
            .filter(after_last)
            .take(nr as usize)
            .collect()
    } else {
        listed.iter().copied().filter(after_last).take(nr as usize).collect()
    };
    let bytes: Vec<u8> = picked.iter().flat_map(|id| id.to_ne_bytes()).collect();
    ctx.mem.write_bytes(ids, &bytes)?;
    Ok(Outcome::Return(picked.len() as i64))
}

/// Flags the kernel does not know are EINVAL; ones it knows and lxrun does not, ENOSYS.
fn unknown_flags(name: &str, nr: libc::c_long, flags: u64) -> Errno {
    if !answer::flags_known(nr, flags) {
        return Errno::EINVAL;
    }
    tracing::info!("{name}: flags {flags:#x} refused with ENOSYS: not supported by lxrun");
    Errno::ENOSYS
}

/// A guest with a mount namespace of its own sees mounts (and ids) lxrun does not list.
fn shares_lxruns_namespace(ctx: &SyscallCtx<'_>) -> Result<(), Errno> {
    if lxrun_vfs::kernel_mounts::same_namespace(ctx.tid) {
        return Ok(());
    }
    tracing::info!("statmount/listmount refused with ENOSYS: the caller has a mount namespace of its own");
    Err(Errno::ENOSYS)
}

/// The request as copy_mnt_id_req takes it (its size read first, then the whole of it, once),
/// with its namespace made lxrun's ([`namespace`]). The descriptor lxrun borrowed for it, if
/// any, must outlive the kernel's calls.
fn request(ctx: &SyscallCtx<'_>, ptr: u64) -> Result<(Request, Option<OwnedFd>), Errno> {
    let size = ctx.mem.read(GuestPtr::<u32>::new(ptr))?;
    if size as usize > 4096 {
        return Err(Errno::E2BIG);
    }
    if size < REQ_VER0 {
        return Err(Errno::EINVAL);
    }
    let mut bytes = vec![0u8; size as usize];
    ctx.mem.read_bytes(ptr, &mut bytes)?;
    if bytes.iter().skip(REQ_SIZE).any(|&b| b != 0) {
        return Err(Errno::E2BIG);
    }
    namespace(ctx, Request::parse(&bytes))
}

/// The guests' namespace is lxrun's: a request naming it (by id or descriptor) stands; one
/// naming another is made to fail as the kernel fails a namespace it cannot find (ENOENT), so
/// no guest reads the host's mounts; a bad descriptor or a file that is no mount namespace
/// still gets the kernel's answer, at its point.
fn namespace(ctx: &SyscallCtx<'_>, mut req: Request) -> Result<(Request, Option<OwnedFd>), Errno> {
    if req.ns_fd == 0 {
        if req.ns_id != 0 && Some(req.ns_id) != lxruns_namespace_id() {
            req.ns_id = NO_SUCH_NS;
        }
        return Ok((req, None));
    }
    if req.ns_id != 0 {
        // Both: EINVAL, whatever the descriptor.
        req.ns_fd = NO_SUCH_FD;
        return Ok((req, None));
    }
    let Ok(fd) = crate::fds::borrow(ctx.tid, ctx.tgid, req.ns_fd as i32) else {
        req.ns_fd = NO_SUCH_FD;
        return Ok((req, None));
    };
    // SAFETY: an ioctl without arguments on a descriptor we hold.
    let is_mount_ns = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE) } == libc::CLONE_NEWNS;
    if is_mount_ns && !is_lxruns_namespace(&fd) {
        tracing::info!("statmount/listmount: another mount namespace is refused with ENOENT");
        req.ns_fd = 0;
        req.ns_id = NO_SUCH_NS;
        return Ok((req, None));
    }
    req.ns_fd = fd.as_raw_fd() as u32;
    Ok((req, Some(fd)))
}

fn is_lxruns_namespace(fd: &OwnedFd) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(dup) = fd.try_clone() else {
        return false;
    };
    let file = std::fs::File::from(dup);
    let (Ok(theirs), Ok(ours)) = (file.metadata(), std::fs::metadata("/proc/self/ns/mnt")) else {
        return false;
    };
    theirs.dev() == ours.dev() && theirs.ino() == ours.ino()
}

fn lxruns_namespace_id() -> Option<u64> {
    let ns = std::fs::File::open("/proc/self/ns/mnt").ok()?;
    let mut id = 0u64;
    // SAFETY: the ioctl writes one u64 to `id`.
    let rc = unsafe { libc::ioctl(ns.as_raw_fd(), NS_GET_MNTNS_ID, &mut id) };
    (rc == 0).then_some(id)
}

/// Where mount `req.mnt_id` is in the caller's view: its mount point as the guest names it
/// (from the process's root), None when that lies outside the process's root, ENOENT for a
/// mount the guest's tree does not show.
fn place(ctx: &SyscallCtx<'_>, req: &Request) -> Result<Option<Vec<u8>>, Errno> {
    let point_of = Request {
        param: STATMOUNT_MNT_POINT,
        ..*req
    };
    let a = answer::statmount_whole(&point_of, 8 << 10, u64::MAX)?;
    let host = a.mount_point().ok_or(Errno::ENOENT)?;
    let guest = ctx.world.vfs.guest_of(lxrun_vfs::path(host)).ok_or(Errno::ENOENT)?;
    let (root, _) = ctx.dirs();
    Ok(within(&root, &guest))
}

/// Guest path `p` as seen from a process whose root is `root`, if it lies inside.
fn within(root: &[u8], p: &[u8]) -> Option<Vec<u8>> {
    if root == b"/" {
        return Some(p.to_vec());
    }
    if p == root {
        return Some(b"/".to_vec());
    }
    let rest = p.strip_prefix(root)?;
    rest.starts_with(b"/").then(|| rest.to_vec())
}

#[cfg(test)]
mod tests {
    use super::within;

    #[test]
    fn mount_points_from_a_chroot() {
        assert_eq!(within(b"/", b"/mnt"), Some(b"/mnt".to_vec()));
        assert_eq!(within(b"/srv", b"/srv"), Some(b"/".to_vec()));
        assert_eq!(within(b"/srv", b"/srv/a"), Some(b"/a".to_vec()));
        assert_eq!(within(b"/srv", b"/srvx"), None);
        assert_eq!(within(b"/srv", b"/proc"), None);
    }
}
