//! Finding PROGRAM the way a shell does: as given when it has a slash, else in PATH, looked up
//! in the guest's filesystem.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// PROGRAM was not found in PATH: the shell's "command not found", status 127.
#[derive(Debug, PartialEq, Eq)]
pub struct NotFound;

/// A path with a slash is used as it is (execve reports what is wrong with it); a bare name is
/// looked up in `path_var` like execvp: the first executable regular file wins, and a match
/// without execute permission is used only when nothing better exists (so EACCES is reported).
/// `host_of` maps a guest path to the host file behind it, if it exists.
pub fn find_program(
    program: &OsStr,
    path_var: &OsStr,
    host_of: impl Fn(&[u8]) -> Option<std::path::PathBuf>,
) -> Result<Vec<u8>, NotFound> {
    let name = program.as_bytes();
    if name.contains(&b'/') {
        return Ok(name.to_vec());
    }
    if name.is_empty() {
        return Err(NotFound);
    }
    let mut fallback = None;
    for dir in path_var.as_bytes().split(|&c| c == b':') {
        let dir = if dir.is_empty() { &b"."[..] } else { dir };
        let candidate = [dir, b"/", name].concat();
        let Some(host) = host_of(&candidate) else { continue };
        let Ok(meta) = std::fs::metadata(Path::new(&host)) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        if meta.permissions().mode() & 0o111 != 0 {
            return Ok(candidate);
        }
        fallback.get_or_insert(candidate);
    }
    fallback.ok_or(NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(p: &[u8]) -> Option<std::path::PathBuf> {
        let p = Path::new(OsStr::from_bytes(p));
        p.exists().then(|| p.to_path_buf())
    }

    #[test]
    fn finds_in_path_and_keeps_slashes() {
        assert_eq!(
            find_program(OsStr::new("sh"), OsStr::new("/nonexistent:/bin"), host).unwrap(),
            b"/bin/sh"
        );
        assert_eq!(
            find_program(OsStr::new("./x"), OsStr::new("/bin"), host).unwrap(),
            b"./x"
        );
        assert_eq!(
            find_program(OsStr::new("no-such-prog-xyz"), OsStr::new("/bin"), host),
            Err(NotFound)
        );
    }
}
