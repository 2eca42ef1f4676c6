//! The ownership store of a fake root: the owner, group, mode and device number a guest gave a
//! file, kept on the file itself in one `user.lxrun.meta` extended attribute. The record is the
//! inode's, so it follows renames and hard links; setting it is one atomic kernel call, so a
//! killed lxrun leaves every record whole; and it stays inside the guest's tree, for the next
//! run. Files without a record belong to root as far as the guest can tell, when the host user
//! who runs lxrun owns them (a root filesystem unpacked by that user); any other owner shows as
//! the host has it.

use crate::{Errno, Opened};
use std::ffi::CString;

/// The attribute's name. The guest never sees it (lxrun hides it from its xattr calls).
pub const XATTR: &str = "user.lxrun.meta";
const XATTR_C: &std::ffi::CStr = c"user.lxrun.meta";

/// What a guest set: owner, group, the whole st_mode (type and permission bits) and, for a
/// device it made, its number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    pub rdev: u64,
}

/// Whose files are the fake root's: the host ids lxrun runs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostIds {
    pub uid: u32,
    pub gid: u32,
}

impl HostIds {
    pub fn current() -> HostIds {
        // SAFETY: plain id queries.
        unsafe {
            HostIds {
                uid: libc::geteuid(),
                gid: libc::getegid(),
            }
        }
    }

    /// The guest's view of a host owner: the host user's files are root's.
    pub fn uid(self, host: u32) -> u32 {
        if host == self.uid {
            0
        } else {
            host
        }
    }

    pub fn gid(self, host: u32) -> u32 {
        if host == self.gid {
            0
        } else {
            host
        }
    }
}

impl Meta {
    /// The record as stored: `1 UID GID MODE(octal) RDEV(hex)`, readable with getfattr.
    fn encode(&self) -> Vec<u8> {
        format!("1 {} {} {:o} {:x}", self.uid, self.gid, self.mode, self.rdev).into_bytes()
    }

    fn decode(bytes: &[u8]) -> Option<Meta> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut f = text.split(' ');
        if f.next()? != "1" {
            return None;
        }
        let meta = Meta {
            uid: f.next()?.parse().ok()?,
            gid: f.next()?.parse().ok()?,
            mode: u32::from_str_radix(f.next()?, 8).ok()?,
            rdev: u64::from_str_radix(f.next()?, 16).ok()?,
        };
        f.next().is_none().then_some(meta)
    }

    /// What the guest sees of a file the host describes as `st` (and that has no record).
    pub fn unrecorded(st: &libc::stat, host: HostIds) -> Meta {
        Meta {
            uid: host.uid(st.st_uid),
            gid: host.gid(st.st_gid),
            mode: st.st_mode,
            rdev: st.st_rdev,
        }
    }

    /// Whether the record makes a device of a regular host file.
    pub fn is_device(&self) -> bool {
        matches!(self.mode & libc::S_IFMT, libc::S_IFCHR | libc::S_IFBLK)
    }

    /// The st_mode the guest sees over the host's `host_mode`: the recorded permission bits,
    /// and the recorded type where the record makes a device of a plain file.
    pub fn mode_over(&self, host_mode: u32) -> u32 {
        let kind = if self.is_device() && host_mode & libc::S_IFMT == libc::S_IFREG {
            self.mode & libc::S_IFMT
        } else {
            host_mode & libc::S_IFMT
        };
        kind | (self.mode & 0o7777)
    }

    /// Puts what the guest sees into a stat buffer the host filled.
    pub fn apply(&self, st: &mut libc::stat) {
        st.st_mode = self.mode_over(st.st_mode);
        st.st_uid = self.uid;
        st.st_gid = self.gid;
        if self.is_device() {
            st.st_rdev = self.rdev;
        }
    }
}

/// `/proc/self/fd/N` of `o`: the object itself when followed, whatever its name is now.
pub fn magic(o: &Opened) -> CString {
    use std::os::fd::AsRawFd;
    // Digits and slashes only: no NUL inside.
    CString::new(format!("/proc/self/fd/{}", o.fd().as_raw_fd())).unwrap_or_default()
}

/// The host's stat of `o` (a symlink's own, for the descriptor of one).
pub fn host_stat(o: &Opened) -> Result<libc::stat, Errno> {
    use std::os::fd::AsRawFd;
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: an empty C string, a descriptor we hold and a buffer of the right size.
    let r = unsafe { libc::fstatat(o.fd().as_raw_fd(), c"".as_ptr(), st.as_mut_ptr(), libc::AT_EMPTY_PATH) };
    if r < 0 {
        return Err(Errno::last());
    }
    // SAFETY: filled by the kernel.
    Ok(unsafe { st.assume_init() })
}

/// The record on `o`, if it has one. Files that cannot carry one (symlinks, /proc, sockets,
/// filesystems without user xattrs, files the host user may not read) have none.
pub fn read(o: &Opened) -> Option<Meta> {
    let path = magic(o);
    let mut buf = [0u8; 96];
    // SAFETY: NUL-terminated strings and a buffer of the given size.
    let n = unsafe { libc::getxattr(path.as_ptr(), XATTR_C.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n <= 0 {
        return None;
    }
    Meta::decode(&buf[..n as usize])
}

/// Records `meta` on `o`, whose host stat is `st`: EPERM or ENOTSUP where the file cannot carry
/// a record (the kernel allows user xattrs on regular files and directories only). The host
/// user must be able to write the file to set one: its owner's read and write bits (and search
/// for a directory) are turned on first, which the guest does not see (its mode is recorded).
pub fn write(o: &Opened, st: &libc::stat, meta: &Meta) -> Result<(), Errno> {
    let path = magic(o);
    let need = host_mode_bits(st.st_mode, st.st_mode & 0o7777);
    if need != st.st_mode & 0o7777 && st.st_mode & libc::S_IFMT != libc::S_IFLNK {
        // SAFETY: a NUL-terminated path.
        unsafe { libc::chmod(path.as_ptr(), need) };
    }
    let value = meta.encode();
    // SAFETY: NUL-terminated strings and a buffer of the given size.
    let r = unsafe { libc::setxattr(path.as_ptr(), XATTR_C.as_ptr(), value.as_ptr().cast(), value.len(), 0) };
    if r < 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// The permission bits a file of `kind` (an st_mode) gets on the host for a guest's `perms`:
/// the guest's, without set-id and sticky bits (the host user's own programs must not be
/// theirs), and always readable and writable (searchable: a directory) by the host user, so a
/// fake root reaches whatever it made.
pub fn host_mode_bits(kind: u32, perms: u32) -> u32 {
    let own = if kind & libc::S_IFMT == libc::S_IFDIR {
        0o700
    } else {
        0o600
    };
    (perms & 0o777) | own
}

/// What the guest sees of `o`: its record, or the host's owner mapped.
pub fn of(o: &Opened, host: HostIds) -> Result<(libc::stat, Meta), Errno> {
    let st = host_stat(o)?;
    let meta = read(o).unwrap_or_else(|| Meta::unrecorded(&st, host));
    Ok((st, meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_garbage_is_no_record() {
        let m = Meta {
            uid: 42,
            gid: 65534,
            mode: libc::S_IFCHR | 0o4755,
            rdev: libc::makedev(1, 3),
        };
        assert_eq!(Meta::decode(&m.encode()), Some(m));
        for bad in [
            &b""[..],
            b"1",
            b"2 0 0 644 0",
            b"1 0 0 644 0 extra",
            b"1 x 0 644 0",
            b"1 0 0 9 0",
        ] {
            assert_eq!(Meta::decode(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn a_device_record_on_a_plain_file_shows_a_device() {
        let m = Meta {
            uid: 0,
            gid: 0,
            mode: libc::S_IFCHR | 0o666,
            rdev: libc::makedev(1, 5),
        };
        assert_eq!(m.mode_over(libc::S_IFREG | 0o600), libc::S_IFCHR | 0o666);
        // A directory stays one whatever a record says.
        assert_eq!(m.mode_over(libc::S_IFDIR | 0o700), libc::S_IFDIR | 0o666);
    }
}
