//! sendmsg performed on the guest's behalf: lxrun's own copy of the guest's `struct msghdr`
//! (with the handler's translated `msg_name`), of its iovecs and their bytes, and of its control
//! data, in which the guest's descriptors (SCM_RIGHTS) become lxrun's borrowed copies of them
//! and the credentials (SCM_CREDENTIALS) are the guest's, not lxrun's.
//!
//! The kernel checks a sender's credentials against the caller (lxrun): what the guest claims
//! is checked here against the guest's own ids as the kernel would (`may_claim`), then handed
//! on; and a message without any gets the guest's pid and real ids added (on an AF_UNIX
//! socket), which the kernel would otherwise fill in with lxrun's for a receiver that asks
//! with SO_PASSCRED. Claiming another process's pid needs CAP_SYS_ADMIN: an lxrun without it
//! cannot vouch for the guest, so a guest's own SCM_CREDENTIALS then fail with EPERM, and a
//! receiver with SO_PASSCRED sees lxrun's pid and ids when the guest sent none.
//!
//! Descriptors in flight are counted against lxrun's user, not the guest's (the kernel's limit
//! on them is the sender's RLIMIT_NOFILE).
//!
//! lxrun ignores SIGPIPE: a performed send that fails with EPIPE raises none in the guest. An
//! AF_UNIX send with a name (the only one performed) fails before that could happen.

use super::perform::{Lent, MAX_BUF};
use lxrun_syscalls::creds::Status;
use lxrun_syscalls::{Errno, NewArg, SyscallCtx};

/// sizeof(struct msghdr) and its fields' offsets.
const MSGHDR: usize = 56;
const NAME: usize = 0;
const NAMELEN: usize = 8;
const IOV: usize = 16;
const IOVLEN: usize = 24;
const CONTROL: usize = 32;
const CONTROLLEN: usize = 40;
/// sizeof(struct cmsghdr) (len, level, type), already aligned.
const CMSGHDR: usize = 16;
/// sizeof(struct ucred) (pid, uid, gid).
const UCRED: usize = 12;
/// Capability numbers (linux/capability.h).
const CAP_SETGID: u32 = 6;
const CAP_SETUID: u32 = 7;
const CAP_SYS_ADMIN: u32 = 21;
/// The most descriptors one message passes (SCM_MAX_FD).
const SCM_MAX_FD: usize = 253;
/// The most iovecs a call takes (UIO_MAXIOV).
const MAX_IOV: u64 = 1024;

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(v)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut v = [0u8; 4];
    v.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(v)
}

fn set_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// lxrun's copy of the msghdr at guest address `ptr` (`rewrite`: the handler's copy of it, whose
/// pointer fields point at its further bytes), to be sent on lxrun's descriptor `sock`; its
/// address.
pub(crate) fn msghdr(
    ctx: &SyscallCtx<'_>,
    sock: i32,
    ptr: u64,
    rewrite: Option<&NewArg>,
    lent: &mut Lent,
) -> Result<u64, Errno> {
    let mut msg = match rewrite {
        Some(NewArg::Struct { bytes, pointers }) if bytes.len() == MSGHDR => {
            let mut msg = bytes.clone();
            for (offset, target) in pointers {
                if *offset + 8 > MSGHDR {
                    return Err(Errno::EINVAL);
                }
                set_u64(&mut msg, *offset, lent.push(target.clone()));
            }
            msg
        }
        Some(_) => return Err(Errno::EINVAL),
        None => {
            let mut msg = vec![0u8; MSGHDR];
            ctx.mem.read_bytes(ptr, &mut msg)?;
            // The guest's own name, as long as the kernel would take (a sockaddr_storage).
            let name = u64_at(&msg, NAME);
            if name != 0 {
                let len = (u32_at(&msg, NAMELEN) as usize).min(128);
                set_u64(&mut msg, NAME, lent.copy_in(ctx, name, len)?);
            }
            msg
        }
    };
    let iov = iovecs(ctx, u64_at(&msg, IOV), u64_at(&msg, IOVLEN), lent)?;
    set_u64(&mut msg, IOV, iov);
    let control = control(ctx, sock, u64_at(&msg, CONTROL), u64_at(&msg, CONTROLLEN), lent)?;
    set_u64(&mut msg, CONTROL, control.0);
    set_u64(&mut msg, CONTROLLEN, control.1);
    Ok(lent.push(msg))
}

/// A copy of the guest's `n` iovecs at `iov` pointing at copies of their bytes (at most
/// MAX_BUF in all: a datagram is far smaller, and a named send is a datagram's).
fn iovecs(ctx: &SyscallCtx<'_>, iov: u64, n: u64, lent: &mut Lent) -> Result<u64, Errno> {
    if n > MAX_IOV {
        return Err(Errno::EMSGSIZE);
    }
    if n == 0 {
        return Ok(0);
    }
    let mut vecs = vec![0u8; n as usize * 16];
    ctx.mem.read_bytes(iov, &mut vecs)?;
    let mut total = 0usize;
    for v in vecs.chunks_exact_mut(16) {
        let (base, len) = (u64_at(v, 0), u64_at(v, 8));
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l <= isize::MAX as usize)
            .ok_or(Errno::EINVAL)?;
        total = total.saturating_add(len);
        if total > MAX_BUF {
            return Err(Errno::EMSGSIZE);
        }
        if len > 0 {
            set_u64(v, 0, lent.copy_in(ctx, base, len)?);
        }
    }
    Ok(lent.push(vecs))
}

/// A copy of the guest's control data (`len` bytes at `control`) for lxrun to send on `sock`:
/// its address and length.
fn control(ctx: &SyscallCtx<'_>, sock: i32, control: u64, len: u64, lent: &mut Lent) -> Result<(u64, u64), Errno> {
    // The kernel's limit is INT_MAX, and then its socket buffer's (optmem_max, far below ours).
    if len > MAX_BUF as u64 {
        return Err(Errno::ENOBUFS);
    }
    let mut data = vec![0u8; len as usize];
    if len > 0 {
        ctx.mem.read_bytes(control, &mut data)?;
    }
    let mut has_creds = false;
    let mut rights = 0;
    let end = each_cmsg(&mut data, |level, kind, body| {
        if level == libc::SOL_SOCKET && kind == libc::SCM_RIGHTS {
            // As many whole ints as there are: the guest's descriptor numbers, to become
            // lxrun's copies (no more than the kernel takes in one message).
            rights += body.len() / 4;
            if rights > SCM_MAX_FD {
                return Err(Errno::EINVAL);
            }
            for fd in body.chunks_exact_mut(4) {
                let guest = i32::from_le_bytes([fd[0], fd[1], fd[2], fd[3]]);
                fd.copy_from_slice(&lent.borrow(ctx, guest)?.to_le_bytes());
            }
        } else if level == libc::SOL_SOCKET && kind == libc::SCM_CREDENTIALS {
            if body.len() != UCRED {
                return Err(Errno::EINVAL);
            }
            may_claim(ctx, u32_at(body, 0) as i32, u32_at(body, 4), u32_at(body, 8))?;
            has_creds = true;
        }
        Ok(())
    })?;
    if !has_creds && may_vouch() && is_unix(sock) {
        // The guest's pid and real ids, which the kernel gives the receiver when none are
        // sent: a message where the kernel's walk goes next (what is left after the last one
        // is too short for a header, and ignored).
        let ids = Status::of(ctx.tid).ok_or(Errno::ESRCH)?;
        data.resize(end + CMSGHDR + UCRED, 0);
        set_u64(&mut data, end, (CMSGHDR + UCRED) as u64);
        let fields = [
            libc::SOL_SOCKET as u32,
            libc::SCM_CREDENTIALS as u32,
            ctx.tgid as u32,
            ids.uid[0],
            ids.gid[0],
        ];
        for (i, f) in fields.iter().enumerate() {
            data[end + 8 + 4 * i..end + 12 + 4 * i].copy_from_slice(&f.to_le_bytes());
        }
        data.resize(data.len().next_multiple_of(8), 0);
        let len = data.len() as u64;
        return Ok((lent.push(data), len));
    }
    Ok((if control == 0 && len == 0 { 0 } else { lent.push(data) }, len))
}

/// The kernel's walk over control data (for_each_cmsghdr, CMSG_OK): `f` gets each message's
/// level, type and data; a header that fits must have a length that covers it and stays
/// inside (EINVAL otherwise), and the next starts at the aligned end. Where the walk stopped.
fn each_cmsg(data: &mut [u8], mut f: impl FnMut(i32, i32, &mut [u8]) -> Result<(), Errno>) -> Result<usize, Errno> {
    let mut at = 0;
    while at + CMSGHDR <= data.len() {
        let len = u64_at(data, at);
        if len < CMSGHDR as u64 || len > (data.len() - at) as u64 {
            return Err(Errno::EINVAL);
        }
        let len = len as usize;
        let (level, kind) = (u32_at(data, at + 8) as i32, u32_at(data, at + 12) as i32);
        f(level, kind, &mut data[at + CMSGHDR..at + len])?;
        at += len.next_multiple_of(8);
    }
    Ok(at)
}

/// Whether the guest may claim to be `pid` with ids `uid` and `gid` in SCM_CREDENTIALS: the
/// kernel's check (scm_check_creds) of its caller, made for the guest thread instead.
fn may_claim(ctx: &SyscallCtx<'_>, pid: i32, uid: u32, gid: u32) -> Result<(), Errno> {
    // (uid_t)-1 and (gid_t)-1 name no one.
    if uid == u32::MAX || gid == u32::MAX {
        return Err(Errno::EINVAL);
    }
    let guest = Status::of(ctx.tid).ok_or(Errno::ESRCH)?;
    let pid_ok = pid == ctx.tgid || guest.has_cap(CAP_SYS_ADMIN);
    let uid_ok = guest.uid[..3].contains(&uid) || guest.has_cap(CAP_SETUID);
    let gid_ok = guest.gid[..3].contains(&gid) || guest.has_cap(CAP_SETGID);
    if pid_ok && uid_ok && gid_ok {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

/// Whether lxrun may send credentials naming another process (and any of its ids): the
/// capabilities the kernel asks of it.
fn may_vouch() -> bool {
    static MAY: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *MAY.get_or_init(|| {
        Status::of(0).is_some_and(|s| [CAP_SYS_ADMIN, CAP_SETUID, CAP_SETGID].iter().all(|&c| s.has_cap(c)))
    })
}

/// Whether `sock` is an AF_UNIX socket.
fn is_unix(sock: i32) -> bool {
    let mut domain = 0i32;
    let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: `domain` and `len` describe a local int.
    let r = unsafe {
        libc::getsockopt(
            sock,
            libc::SOL_SOCKET,
            libc::SO_DOMAIN,
            (&mut domain as *mut i32).cast(),
            &mut len,
        )
    };
    r == 0 && domain == libc::AF_UNIX
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmsg(len: u64, level: i32, kind: i32, body: &[u8]) -> Vec<u8> {
        let mut m = len.to_le_bytes().to_vec();
        m.extend_from_slice(&level.to_le_bytes());
        m.extend_from_slice(&kind.to_le_bytes());
        m.extend_from_slice(body);
        m
    }

    /// Each control message's (level, type, body).
    type Seen = Vec<(i32, i32, Vec<u8>)>;

    fn walk(mut data: Vec<u8>) -> Result<(Seen, usize), Errno> {
        let mut seen = Vec::new();
        let end = each_cmsg(&mut data, |level, kind, body| {
            seen.push((level, kind, body.to_vec()));
            Ok(())
        })?;
        Ok((seen, end))
    }

    #[test]
    fn control_data_is_walked_as_the_kernel_walks_it() {
        // Two messages, the first's 4 data bytes padded to 8, and a tail too short for a
        // header, which the kernel ignores.
        let mut data = cmsg(20, 1, 1, &[7, 0, 0, 0, 0, 0, 0, 0]);
        data.extend(cmsg(24, 1, 1, &[1, 0, 0, 0, 2, 0, 0, 0]));
        data.extend([9; 10]);
        let (seen, end) = walk(data).unwrap();
        assert_eq!(seen, [(1, 1, vec![7, 0, 0, 0]), (1, 1, vec![1, 0, 0, 0, 2, 0, 0, 0])]);
        assert_eq!(end, 48);
        // A length shorter than a header, or past the end, is EINVAL.
        assert_eq!(walk(cmsg(15, 1, 1, &[0; 8])).unwrap_err(), Errno::EINVAL);
        assert_eq!(walk(cmsg(25, 1, 1, &[0; 8])).unwrap_err(), Errno::EINVAL);
        // Nothing, or less than a header: no message.
        assert_eq!(walk(vec![]).unwrap(), (vec![], 0));
        assert_eq!(walk(vec![0xff; 15]).unwrap(), (vec![], 0));
    }
}
