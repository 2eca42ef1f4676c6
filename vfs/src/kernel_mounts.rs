//! The guests' own mounts, made by the kernel: when lxrun may mount (it runs with
//! CAP_SYS_ADMIN), it gives itself a private copy of its mount namespace at start, which the
//! guests inherit. Every mount in the copy is a slave of the host's, so nothing a guest mounts
//! reaches the host, while the walker, which acts on descriptors, crosses the guests' mounts
//! as the kernel does. lxrun performs the guests' mount calls there (`handlers/mount.rs`),
//! and keeps the mounts it inherited from them: those are the host's, or lxrun's own view.

use crate::Errno;
use std::collections::HashSet;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// One line of /proc/self/mountinfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountInfo {
    pub id: u64,
    pub parent: u64,
    pub dev: String,
    /// The directory of its filesystem that is mounted (`/` for a whole one).
    pub root: Vec<u8>,
    /// Where it is mounted, as lxrun sees it (a host path).
    pub mount_point: PathBuf,
    /// The mount's own options (`rw,nosuid,relatime`).
    pub mount_opts: String,
    pub fstype: String,
    pub source: Vec<u8>,
    /// The filesystem's options (`rw,size=1024k`).
    pub super_opts: String,
}

/// lxrun's private mount namespace and the mounts it started with.
#[derive(Debug)]
pub struct KernelMounts {
    inherited: HashSet<u64>,
    /// The namespace's identity (device and inode of its /proc/PID/ns/mnt).
    ns: (u64, u64),
}

/// The identity of the mount namespace `/proc/.../ns/mnt` names.
fn namespace(link: &str) -> std::io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(link).map(|m| (m.dev(), m.ino()))
}

impl KernelMounts {
    /// Moves lxrun into a private copy of its mount namespace, every mount a slave of the
    /// host's (the host's later mounts still show, none of the guests' leaves). Must be called
    /// while lxrun has one thread: the kernel refuses to move a thread that shares its
    /// filesystem context.
    pub fn private() -> std::io::Result<KernelMounts> {
        // SAFETY: plain calls without pointers, or with a valid C string.
        unsafe {
            if libc::unshare(libc::CLONE_NEWNS) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let flags = libc::MS_REC | libc::MS_SLAVE;
            if libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                flags,
                std::ptr::null(),
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
        }
        let inherited = mountinfo()?.into_iter().map(|m| m.id).collect();
        Ok(KernelMounts {
            inherited,
            ns: namespace("/proc/self/ns/mnt")?,
        })
    }

    /// Whether thread `tid` is in this namespace (a guest that unshared its own sees mounts
    /// lxrun's walker does not, and the other way round).
    pub fn shared_by(&self, tid: i32) -> bool {
        namespace(&format!("/proc/{tid}/ns/mnt")).is_ok_and(|ns| ns == self.ns)
    }

    /// Whether mount `id` was there when lxrun started (the host's, or lxrun's view of it):
    /// the guests may mount on it and below it, but neither move, unmount nor remount it.
    pub fn is_inherited(&self, id: u64) -> bool {
        self.inherited.contains(&id)
    }

    /// The mounts the guests made that are still there, in the order the kernel lists them.
    pub fn made_by_guests(&self) -> Vec<MountInfo> {
        mountinfo()
            .unwrap_or_default()
            .into_iter()
            .filter(|m| !self.inherited.contains(&m.id))
            .collect()
    }
}

/// Whether thread `tid` shares lxrun's mount namespace (whichever it is: its private copy or
/// the host's).
pub fn same_namespace(tid: i32) -> bool {
    match (
        namespace(&format!("/proc/{tid}/ns/mnt")),
        namespace("/proc/self/ns/mnt"),
    ) {
        (Ok(theirs), Ok(ours)) => theirs == ours,
        _ => false,
    }
}

/// The mount holding `fd`'s file, and whether the file is that mount's root.
pub fn mount_of(fd: BorrowedFd<'_>) -> Result<(u64, bool), Errno> {
    const STATX_MNT_ID: u32 = 0x1000;
    const STATX_ATTR_MOUNT_ROOT: u64 = 0x2000;
    // SAFETY: statx fills the zeroed struct; an empty path with AT_EMPTY_PATH names `fd`.
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    let rc = unsafe {
        libc::statx(
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
            STATX_MNT_ID,
            &mut st,
        )
    };
    if rc != 0 {
        return Err(Errno::last());
    }
    if st.stx_mask & STATX_MNT_ID == 0 || st.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT == 0 {
        // Kernels before 5.8 cannot say; then nothing is known to be the guests'.
        return Err(Errno::EINVAL);
    }
    Ok((st.stx_mnt_id, st.stx_attributes & STATX_ATTR_MOUNT_ROOT != 0))
}

fn mountinfo() -> std::io::Result<Vec<MountInfo>> {
    let text = std::fs::read("/proc/self/mountinfo")?;
    Ok(text.split(|&c| c == b'\n').filter_map(parse_line).collect())
}

/// One mountinfo line: `ID PARENT MAJ:MIN ROOT POINT OPTS [OPTIONAL...] - TYPE SOURCE SUPER`.
fn parse_line(line: &[u8]) -> Option<MountInfo> {
    let fields: Vec<&[u8]> = line.split(|&c| c == b' ').collect();
    let dash = fields.iter().position(|f| *f == b"-")?;
    if dash < 6 || fields.len() < dash + 4 {
        return None;
    }
    let text = |f: &[u8]| String::from_utf8_lossy(f).into_owned();
    let number = |f: &[u8]| std::str::from_utf8(f).ok()?.parse::<u64>().ok();
    Some(MountInfo {
        id: number(fields[0])?,
        parent: number(fields[1])?,
        dev: text(fields[2]),
        root: unescape(fields[3]),
        mount_point: PathBuf::from(std::ffi::OsStr::from_bytes(&unescape(fields[4]))),
        mount_opts: text(fields[5]),
        fstype: text(fields[dash + 1]),
        source: unescape(fields[dash + 2]),
        super_opts: text(fields[dash + 3]),
    })
}

/// Undoes the kernel's octal escapes (`\040` for a space).
pub(crate) fn unescape(f: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(f.len());
    let mut i = 0;
    while i < f.len() {
        let octal = f
            .get(i + 1..i + 4)
            .filter(|d| f[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') << 6 | (d[1] - b'0') << 3 | (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(f[i]);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mountinfo_lines() {
        let line = b"36 35 0:31 / /mnt/a\\040b rw,relatime shared:1 master:2 - tmpfs none rw,size=1024k";
        let m = parse_line(line).expect("a well-formed line");
        assert_eq!((m.id, m.parent), (36, 35));
        assert_eq!(m.mount_point, PathBuf::from("/mnt/a b"));
        assert_eq!(m.fstype, "tmpfs");
        assert_eq!(m.source, b"none");
        assert_eq!(m.super_opts, "rw,size=1024k");
        assert_eq!(parse_line(b"36 35 0:31 / /x rw"), None);
        assert_eq!(unescape(b"a\\134b\\011"), b"a\\b\t");
    }
}
