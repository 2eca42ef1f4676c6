//! Host names of directories deeper than PATH_MAX. The kernel will not give their name
//! (readlink of the descriptor's magic link says ENAMETOOLONG), yet a guest reaches them with
//! relative paths and then walks from their descriptors (`openat(fd, "..")`, as glibc's getcwd
//! and fts do). The name is built as those programs build it: climb with `..` to the nearest
//! ancestor the kernel can name, then find each child's name in its parent's listing by
//! inode number.

use crate::{Errno, Opened};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{DirEntryExt, MetadataExt};

/// How far up a climb goes before giving up (every level is at least two bytes of path).
const MAX_LEVELS: usize = 1 << 16;

/// The host path of directory `dir` at any length (its current name, ` (deleted)` left off),
/// or None where it has none: it or an ancestor is deleted or unreadable, or the climb meets a
/// mount whose root is no entry of its parent's listing.
pub(crate) fn host_path(dir: &Opened) -> Option<Vec<u8>> {
    let mut names: Vec<Vec<u8>> = Vec::new();
    let mut cur = dir.clone();
    for _ in 0..MAX_LEVELS {
        match magic_link(&cur) {
            Ok(mut path) => {
                if path.ends_with(b" (deleted)") {
                    return names.is_empty().then(|| path[..path.len() - 10].to_vec());
                }
                for name in names.iter().rev() {
                    path.push(b'/');
                    path.extend_from_slice(name);
                }
                return Some(path);
            }
            Err(Errno::ENAMETOOLONG) => {}
            Err(_) => return None,
        }
        let here = cur.metadata().ok()?;
        let parent = crate::walk::open_at(&cur, b"..", libc::O_PATH | libc::O_DIRECTORY).ok()?;
        let up = parent.metadata().ok()?;
        if (up.dev(), up.ino()) == (here.dev(), here.ino()) {
            return None;
        }
        names.push(name_in(&parent, here.ino())?);
        cur = parent;
    }
    None
}

/// What the kernel names `dir` (the target of its /proc/self/fd link).
fn magic_link(dir: &Opened) -> Result<Vec<u8>, Errno> {
    std::fs::read_link(format!("/proc/self/fd/{}", dir.fd().as_raw_fd()))
        .map(|p| p.into_os_string().into_vec())
        .map_err(|e| Errno::from_io(&e))
}

/// The name of the entry with inode number `ino` in directory `parent`.
fn name_in(parent: &Opened, ino: u64) -> Option<Vec<u8>> {
    let listing = std::fs::read_dir(format!("/proc/self/fd/{}", parent.fd().as_raw_fd())).ok()?;
    listing
        .filter_map(Result::ok)
        .find(|e| e.ino() == ino)
        .map(|e| e.file_name().into_vec())
}
