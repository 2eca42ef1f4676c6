//! Finding PROGRAM the way a shell does: as given when it has a slash, else in PATH.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Why PROGRAM cannot be found.
#[derive(Debug, PartialEq, Eq)]
pub enum SearchError {
    NotFound,
}

impl SearchError {
    pub fn message(&self) -> &'static str {
        match self {
            SearchError::NotFound => "command not found",
        }
    }

    /// The shell's status for it.
    pub fn status(&self) -> i32 {
        127
    }
}

/// A path with a slash is used as it is (execve reports what is wrong with it); a bare name is
/// looked up in `path_var` like execvp: the first executable regular file wins, and a match
/// without execute permission is used only when nothing better exists (so EACCES is reported).
pub fn find_program(program: &OsStr, path_var: &OsStr) -> Result<PathBuf, SearchError> {
    if program.as_bytes().contains(&b'/') {
        return Ok(PathBuf::from(program));
    }
    if program.is_empty() {
        return Err(SearchError::NotFound);
    }
    let mut fallback = None;
    for dir in path_var.as_bytes().split(|&c| c == b':') {
        let dir = if dir.is_empty() {
            Path::new(".")
        } else {
            Path::new(OsStr::from_bytes(dir))
        };
        let candidate = dir.join(program);
        let Ok(meta) = std::fs::metadata(&candidate) else {
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
    fallback.ok_or(SearchError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_in_path_and_keeps_slashes() {
        let sh = find_program(OsStr::new("sh"), OsStr::new("/nonexistent:/bin")).unwrap();
        assert_eq!(sh, PathBuf::from("/bin/sh"));
        assert_eq!(
            find_program(OsStr::new("./x"), OsStr::new("/bin")).unwrap(),
            PathBuf::from("./x")
        );
        assert_eq!(
            find_program(OsStr::new("no-such-prog-xyz"), OsStr::new("/bin")),
            Err(SearchError::NotFound)
        );
    }
}
