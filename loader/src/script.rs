//! `#!` scripts, parsed exactly as Linux's binfmt_script does.

use crate::LoadError;

/// How many bytes of a file the kernel looks at (BINPRM_BUF_SIZE).
pub const PREFIX_LEN: usize = 256;

/// Linux runs at most this many binary handlers in a row (exec_binprm's depth check), so a
/// chain of `#!` scripts may be five deep before ELOOP.
pub const MAX_DEPTH: usize = 5;

/// A parsed `#!` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shebang {
    pub interpreter: Vec<u8>,
    /// Everything after the interpreter, as one argument (Linux does not split it).
    pub arg: Option<Vec<u8>>,
}

fn spacetab(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// Parses the first bytes of a file. `Ok(None)`: not a script. `Err`: a `#!` line the kernel
/// would reject with ENOEXEC (no interpreter, or one truncated by the 256-byte limit).
pub fn parse(prefix: &[u8]) -> Result<Option<Shebang>, LoadError> {
    if !prefix.starts_with(b"#!") {
        return Ok(None);
    }
    // The kernel reads into a zero-filled 256-byte buffer and never looks at its last byte.
    let mut buf = [0u8; PREFIX_LEN];
    let n = prefix.len().min(PREFIX_LEN);
    buf[..n].copy_from_slice(&prefix[..n]);
    let last = PREFIX_LEN - 1;

    let mut end = match buf.iter().position(|&c| c == b'\n') {
        Some(nl) => nl,
        None => {
            let first = (2..=last)
                .find(|&i| !spacetab(buf[i]))
                .ok_or(LoadError::BadScript("no interpreter"))?;
            // Without a later space, tab or NUL the interpreter's name was cut off.
            if !(first..=last).any(|i| spacetab(buf[i]) || buf[i] == 0) {
                return Err(LoadError::BadScript("interpreter path longer than the #! line limit"));
            }
            last
        }
    };
    while end > 2 && spacetab(buf[end - 1]) {
        end -= 1;
    }
    let line = &buf[..end];
    let name_start = (2..end)
        .find(|&i| !spacetab(line[i]))
        .ok_or(LoadError::BadScript("no interpreter"))?;
    let sep = (name_start..end).find(|&i| spacetab(line[i]) || line[i] == 0);
    let cstr = |s: &[u8]| s.split(|&c| c == 0).next().unwrap_or_default().to_vec();
    let interpreter = cstr(&line[name_start..sep.unwrap_or(end)]);
    let arg = match sep {
        Some(s) if line[s] != 0 => (s..end).find(|&i| !spacetab(line[i])).map(|a| cstr(&line[a..end])),
        _ => None,
    };
    Ok(Some(Shebang { interpreter, arg }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sb(i: &str, a: Option<&str>) -> Option<Shebang> {
        Some(Shebang {
            interpreter: i.as_bytes().to_vec(),
            arg: a.map(|a| a.as_bytes().to_vec()),
        })
    }

    #[test]
    fn plain_and_with_argument() {
        assert_eq!(parse(b"#!/bin/sh\necho hi\n").unwrap(), sb("/bin/sh", None));
        assert_eq!(parse(b"#! /bin/sh -e\n").unwrap(), sb("/bin/sh", Some("-e")));
        assert_eq!(
            parse(b"#!/usr/bin/env python3 -u  \t\n").unwrap(),
            sb("/usr/bin/env", Some("python3 -u"))
        );
        assert_eq!(parse(b"#!/bin/sh").unwrap(), sb("/bin/sh", None));
        assert_eq!(parse(b"#!/bin/sh \t\n").unwrap(), sb("/bin/sh", None));
        assert_eq!(parse(b"\x7fELF").unwrap(), None);
    }

    #[test]
    fn rejected_lines() {
        assert!(parse(b"#!\n").is_err());
        assert!(parse(b"#!   \n").is_err());
        let mut long = b"#!/".to_vec();
        long.extend(std::iter::repeat_n(b'a', 300));
        assert!(parse(&long).is_err(), "a name cut by the 256-byte limit is ENOEXEC");
        let mut long_arg = b"#!/bin/sh ".to_vec();
        long_arg.extend(std::iter::repeat_n(b'x', 300));
        let got = parse(&long_arg).unwrap().unwrap();
        assert_eq!(got.interpreter, b"/bin/sh");
        assert_eq!(
            got.arg.unwrap().len(),
            255 - 10,
            "the argument is cut at the buffer's end"
        );
    }
}
