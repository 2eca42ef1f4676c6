//! lxrun's virtual filesystem: how guest paths become host paths.
//!
//! Today the guest's root is the host's root, so translation is the identity; what this crate
//! already owns is the *interface* every path-taking handler goes through: a guest path, seen
//! from a guest thread (its cwd, or a dirfd), resolved to the canonical guest path and the host
//! path behind it. The mount table, the confined walker and reverse translation (issue 3) slot
//! in behind these same calls.

use lxrun_abi::Errno;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Linux's PATH_MAX, counting the NUL.
pub const PATH_MAX: usize = 4096;

/// Where a relative guest path starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    /// The thread's current directory (AT_FDCWD).
    Cwd,
    /// A directory file descriptor of the guest thread.
    Fd(i32),
}

/// A guest path after resolution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// Canonical absolute path as the guest names it.
    pub guest: Vec<u8>,
    /// Where that object lives on the host.
    pub host: PathBuf,
}

/// The guest's view of the filesystem.
#[derive(Debug, Default)]
pub struct Vfs {
    _private: (),
}

fn io_errno(e: &std::io::Error) -> Errno {
    Errno::from_io(e)
}

impl Vfs {
    /// The host's `/` is the guest's `/`.
    pub fn host_root() -> Vfs {
        Vfs { _private: () }
    }

    /// Resolves `path` as guest thread `tid` sees it, following symlinks (the last component
    /// too unless `follow_last` is false, in which case a final symlink is returned as it is).
    pub fn resolve(&self, tid: i32, base: Base, path: &[u8], follow_last: bool) -> Result<Resolved, Errno> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        if path.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let path = guest_proc_self(tid, path);
        let path = path.as_slice();
        let rel = Path::new(OsStr::from_bytes(path));
        // The thread's cwd and fds are reached through their /proc magic links, which resolve
        // to the real directory even when it has been renamed since.
        let joined = if path[0] == b'/' {
            rel.to_path_buf()
        } else {
            let base = match base {
                Base::Cwd => PathBuf::from(format!("/proc/{tid}/cwd")),
                Base::Fd(fd) => {
                    let p = PathBuf::from(format!("/proc/{tid}/fd/{fd}"));
                    let meta = std::fs::metadata(&p).map_err(|_| Errno::EBADF)?;
                    if !meta.is_dir() {
                        return Err(Errno::ENOTDIR);
                    }
                    p
                }
            };
            base.join(rel)
        };
        let host = if follow_last {
            std::fs::canonicalize(&joined).map_err(|e| io_errno(&e))?
        } else {
            let name = joined.file_name().filter(|n| *n != ".." && *n != ".");
            match (joined.parent(), name) {
                (Some(parent), Some(name)) if !path.ends_with(b"/") => {
                    let dir = std::fs::canonicalize(parent).map_err(|e| io_errno(&e))?;
                    let full = dir.join(name);
                    std::fs::symlink_metadata(&full).map_err(|e| io_errno(&e))?;
                    full
                }
                _ => std::fs::canonicalize(&joined).map_err(|e| io_errno(&e))?,
            }
        };
        Ok(Resolved {
            guest: host.as_os_str().as_bytes().to_vec(),
            host,
        })
    }

    /// The host path guest thread `tid`'s `path` is translated to, for display only
    /// (`lxrun --trace-host`): lexical, without touching the filesystem. The identity while
    /// the guest's root is the host's; the mount table will answer here.
    pub fn host_path_hint(&self, _tid: i32, path: &[u8]) -> Vec<u8> {
        path.to_vec()
    }

    /// The guest path of the object open as `fd` in thread `tid` (for `execveat(fd, "", AT_EMPTY_PATH)`).
    pub fn resolve_fd(&self, tid: i32, fd: i32) -> Result<Resolved, Errno> {
        let host = std::fs::read_link(format!("/proc/{tid}/fd/{fd}")).map_err(|_| Errno::EBADF)?;
        if !host.is_absolute() {
            // A socket, pipe or anonymous inode: nothing a path can name.
            return Err(Errno::EACCES);
        }
        Ok(Resolved {
            guest: host.as_os_str().as_bytes().to_vec(),
            host,
        })
    }
}

/// `/proc/self` and `/proc/thread-self` mean the guest thread, not the supervisor that resolves
/// the path: both become `/proc/<tid>` (a thread's directory shows its process's files too).
fn guest_proc_self(tid: i32, path: &[u8]) -> Vec<u8> {
    for prefix in [&b"/proc/self"[..], b"/proc/thread-self"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            if rest.is_empty() || rest[0] == b'/' {
                return [format!("/proc/{tid}").as_bytes(), rest].concat();
            }
        }
    }
    path.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> i32 {
        std::process::id() as i32
    }

    #[test]
    fn absolute_and_relative() {
        let vfs = Vfs::host_root();
        let r = vfs.resolve(me(), Base::Cwd, b"/bin/../bin/sh", true).unwrap();
        assert_eq!(r.host, std::fs::canonicalize("/bin/sh").unwrap());
        let cwd = std::env::current_dir().unwrap();
        let r = vfs.resolve(me(), Base::Cwd, b"Cargo.toml", true).unwrap();
        assert_eq!(r.host, cwd.join("Cargo.toml"));
    }

    #[test]
    fn proc_self_is_the_guest_thread() {
        assert_eq!(guest_proc_self(42, b"/proc/self/fd/3"), b"/proc/42/fd/3");
        assert_eq!(guest_proc_self(42, b"/proc/thread-self"), b"/proc/42");
        assert_eq!(guest_proc_self(42, b"/proc/selfish"), b"/proc/selfish");
    }

    #[test]
    fn errors_are_errnos() {
        let vfs = Vfs::host_root();
        assert_eq!(vfs.resolve(me(), Base::Cwd, b"", true), Err(Errno::ENOENT));
        assert_eq!(vfs.resolve(me(), Base::Cwd, b"/no/such/file", true), Err(Errno::ENOENT));
        assert_eq!(
            vfs.resolve(me(), Base::Cwd, b"/etc/passwd/x", true),
            Err(Errno::ENOTDIR)
        );
        assert_eq!(vfs.resolve(me(), Base::Fd(9999), b"x", true), Err(Errno::EBADF));
    }

    #[test]
    fn nofollow_keeps_a_final_symlink() {
        let dir = std::env::temp_dir().join(format!("lxrun-vfs-{}", me()));
        let _ = std::fs::create_dir(&dir);
        let link = dir.join("link");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink("/bin/sh", &link).unwrap();
        let p = link.as_os_str().as_bytes();
        let r = Vfs::host_root().resolve(me(), Base::Cwd, p, false).unwrap();
        assert!(std::fs::symlink_metadata(&r.host).unwrap().file_type().is_symlink());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
