//! The building blocks of strace's notation: quoted strings cut at 32 bytes, addresses,
//! flag sets, named constants, signal sets and error returns.
//!
//! Everything that reads guest memory takes the [`GuestMemory`] accessor and falls back to
//! printing the address, as strace does, when the memory cannot be read.

use crate::memory::{GuestMemory, GuestPtr};
use crate::Errno;

/// strace's default `-s 32`: strings and buffers are shown up to this many bytes.
pub const MAX_STRLEN: usize = 32;
/// Longest path read for display (PATH_MAX without the NUL): paths are never cut at 32.
pub const PATH_LEN: usize = 4095;

/// A table of named values or flag bits, in the order strace prints them.
pub type Names = &'static [(u64, &'static str)];

/// `bytes` between double quotes with C escapes, as strace writes them: `\t \n \v \f \r`,
/// `\"` and `\\`, other unprintable bytes in octal (three digits only when an octal digit
/// follows), or every byte as `\xNN` when `hex` is set.
pub fn quote(bytes: &[u8], hex: bool) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for (i, &c) in bytes.iter().enumerate() {
        if hex {
            out.push_str(&format!("\\x{c:02x}"));
            continue;
        }
        match c {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            0x0b => out.push_str("\\v"),
            0x0c => out.push_str("\\f"),
            b'\r' => out.push_str("\\r"),
            0x20..=0x7e => out.push(c as char),
            _ => {
                let next_is_octal = bytes.get(i + 1).is_some_and(|n| (b'0'..=b'7').contains(n));
                if next_is_octal {
                    out.push_str(&format!("\\{c:03o}"));
                } else {
                    out.push_str(&format!("\\{c:o}"));
                }
            }
        }
    }
    out.push('"');
    out
}

/// A quoted string followed by `...` when it was cut.
pub fn quote_cut(bytes: &[u8], cut: bool, hex: bool) -> String {
    let mut s = quote(bytes, hex);
    if cut {
        s.push_str("...");
    }
    s
}

/// An address: `NULL` or `0x...`.
pub fn ptr(addr: u64) -> String {
    if addr == 0 {
        "NULL".into()
    } else {
        format!("{addr:#x}")
    }
}

/// A number in hexadecimal (`0` stays `0`, as strace prints it).
pub fn hex(v: u64) -> String {
    if v == 0 {
        "0".into()
    } else {
        format!("{v:#x}")
    }
}

/// An octal mode as strace prints it: `0644`, `000`.
pub fn octal(v: u64) -> String {
    format!("0{v:02o}")
}

/// The name of `v` in `names`, or None.
pub fn lookup(v: u64, names: Names) -> Option<&'static str> {
    names.iter().find(|(n, _)| *n == v).map(|(_, s)| *s)
}

/// A named constant, or `v` in hexadecimal with strace's `/* PREFIX_??? */` comment when
/// `unknown` is given, or in decimal otherwise.
pub fn xlat(v: u64, names: Names, unknown: Option<&str>) -> String {
    match (lookup(v, names), unknown) {
        (Some(s), _) => s.into(),
        (None, Some(prefix)) => format!("{} /* {prefix}_??? */", hex(v)),
        (None, None) => (v as i64).to_string(),
    }
}

/// A set of flag bits: `A|B|0x40` (bits without a name in hexadecimal), or `zero` when
/// nothing is set. A multi-bit entry matches only when all its bits are set.
pub fn flags(v: u64, names: Names, zero: &str) -> String {
    if v == 0 {
        return zero.into();
    }
    let mut rest = v;
    let mut parts: Vec<String> = Vec::new();
    for &(bits, name) in names {
        if bits != 0 && rest & bits == bits {
            parts.push(name.into());
            rest &= !bits;
        }
    }
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    parts.join("|")
}

/// The errno's name as strace prints it (`EOPNOTSUPP` for 95, `ERESTARTSYS` for the
/// kernel's restart codes), or None.
pub fn errno_name(raw: i64) -> Option<&'static str> {
    match raw {
        95 => Some("EOPNOTSUPP"),
        512 => Some("ERESTARTSYS"),
        513 => Some("ERESTARTNOINTR"),
        514 => Some("ERESTARTNOHAND"),
        515 => Some("ENOIOCTLCMD"),
        516 => Some("ERESTART_RESTARTBLOCK"),
        _ => {
            let name = Errno::from_raw(i32::try_from(raw).ok()?).name();
            (name != "E?").then_some(name)
        }
    }
}

/// A failed call's return: `-1 ENOENT (No such file or directory)`; the kernel's internal
/// restart codes as `? ERESTARTSYS (To be restarted if SA_RESTART is set)`.
pub fn error_return(errno: i64) -> String {
    let restart = match errno {
        512 => Some("To be restarted if SA_RESTART is set"),
        513 => Some("To be restarted"),
        514 => Some("To be restarted if no handler"),
        516 => Some("Interrupted by signal"),
        _ => None,
    };
    match (restart, errno_name(errno)) {
        (Some(why), Some(name)) => format!("? {name} ({why})"),
        (_, Some(name)) => {
            let desc = Errno::from_raw(errno as i32).description();
            format!("-1 {name} ({desc})")
        }
        _ => format!("-1 {errno}"),
    }
}

/// Whether a raw syscall return is an error (-4095..=-1).
pub fn is_error(ret: i64) -> bool {
    (-4095..0).contains(&ret)
}

const SIGNALS: [&str; 31] = [
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

/// A signal by name: `SIGTERM`, `SIGRTMIN`, `SIGRT_3`; a number when it has none.
pub fn signal(sig: i64) -> String {
    match sig {
        1..=31 => SIGNALS[sig as usize - 1].into(),
        32 => "SIGRTMIN".into(),
        33..=64 => format!("SIGRT_{}", sig - 32),
        _ => sig.to_string(),
    }
}

/// A signal set as strace prints it: `[INT TERM]`, or `~[KILL STOP]` (the complement) when
/// at least half of the 64 signals are set.
pub fn sigset(mask: u64) -> String {
    let (prefix, bits) = if mask.count_ones() >= 32 {
        ("~", !mask)
    } else {
        ("", mask)
    };
    let names: Vec<String> = (1..=64)
        .filter(|s| bits & (1u64 << (s - 1)) != 0)
        .map(|s| signal(s).trim_start_matches("SIG").to_string())
        .collect();
    format!("{prefix}[{}]", names.join(" "))
}

/// A NUL-terminated string at `addr`, cut at `max` bytes (`"abc"...`); `NULL`, or the
/// address when it cannot be read.
pub fn cstring(mem: &GuestMemory, addr: u64, max: usize) -> String {
    if addr == 0 {
        return "NULL".into();
    }
    match mem.read_cstring_prefix(GuestPtr::new(addr), max) {
        Ok((bytes, terminated)) => quote_cut(&bytes, !terminated, false),
        Err(_) => ptr(addr),
    }
}

/// A path argument: the whole path, never cut at 32 bytes.
pub fn path(mem: &GuestMemory, addr: u64) -> String {
    cstring(mem, addr, PATH_LEN)
}

/// A buffer of `len` bytes at `addr`, of which 32 are shown (`"data"...`); the address when
/// it cannot be read.
pub fn buffer(mem: &GuestMemory, addr: u64, len: u64, hex: bool) -> String {
    if addr == 0 && len > 0 {
        return "NULL".into();
    }
    let shown = len.min(MAX_STRLEN as u64) as usize;
    let mut buf = vec![0u8; shown];
    match mem.read_bytes(addr, &mut buf) {
        Ok(()) => quote_cut(&buf, len > shown as u64, hex),
        Err(_) => ptr(addr),
    }
}

/// A little-endian integer of `N` bytes at `off` in `b` (0 when out of range: callers read
/// whole structures first, so this never sees a short buffer in practice).
pub fn le(b: &[u8], off: usize, n: usize) -> u64 {
    let mut v = 0u64;
    for i in (0..n).rev() {
        v = (v << 8) | u64::from(b.get(off + i).copied().unwrap_or(0));
    }
    v
}

/// Reads a `N`-byte structure, or None when it cannot be read.
pub fn read_struct<const N: usize>(mem: &GuestMemory, addr: u64) -> Option<[u8; N]> {
    if addr == 0 {
        return None;
    }
    mem.read(GuestPtr::<[u8; N]>::new(addr)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> GuestMemory {
        GuestMemory::new(std::process::id() as i32)
    }

    #[test]
    fn quoting_follows_strace() {
        assert_eq!(quote(b"hello\n", false), r#""hello\n""#);
        assert_eq!(quote(b"tab\t\"q\" back\\", false), r#""tab\t\"q\" back\\""#);
        // Octal escapes are short unless an octal digit follows.
        assert_eq!(quote(b"\x01\x02\x7f\xc07\0", false), r#""\1\2\177\3007\0""#);
        assert_eq!(quote(b"\x001", false), r#""\0001""#);
        assert_eq!(quote(b"\x008", false), r#""\08""#);
        assert_eq!(quote(b"\x0b\x0c\r", false), r#""\v\f\r""#);
        assert_eq!(quote(b"\x42\xe6", true), r#""\x42\xe6""#);
        assert_eq!(quote("é".as_bytes(), false), r#""\303\251""#);
    }

    #[test]
    fn strings_are_cut_at_32_bytes() {
        let long = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ\0";
        let addr = long.as_ptr() as u64;
        assert_eq!(
            cstring(&me(), addr, MAX_STRLEN),
            r#""0123456789abcdefghijklmnopqrstuv"..."#
        );
        assert_eq!(path(&me(), addr), r#""0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ""#);
        let exact = b"0123456789abcdefghijklmnopqrstuv\0";
        assert_eq!(
            cstring(&me(), exact.as_ptr() as u64, MAX_STRLEN),
            r#""0123456789abcdefghijklmnopqrstuv""#
        );
        assert_eq!(
            buffer(&me(), addr, 46, false),
            r#""0123456789abcdefghijklmnopqrstuv"..."#
        );
        assert_eq!(buffer(&me(), addr, 3, false), r#""012""#);
        assert_eq!(buffer(&me(), addr, 0, false), r#""""#);
    }

    #[test]
    fn unreadable_pointers_print_as_addresses() {
        assert_eq!(cstring(&me(), 0, MAX_STRLEN), "NULL");
        assert_eq!(cstring(&me(), 0x10, MAX_STRLEN), "0x10");
        assert_eq!(path(&me(), 0xdead_0000), "0xdead0000");
        assert_eq!(buffer(&me(), 0x1000, 5, false), "0x1000");
        assert_eq!(read_struct::<8>(&me(), 0x20), None);
    }

    #[test]
    fn flags_and_constants() {
        const N: Names = &[(0x3, "BOTH"), (0x1, "ONE"), (0x2, "TWO"), (0x8, "EIGHT")];
        assert_eq!(flags(0x3, N, "0"), "BOTH");
        assert_eq!(flags(0x9, N, "0"), "ONE|EIGHT");
        assert_eq!(flags(0x31, N, "0"), "ONE|0x30");
        assert_eq!(flags(0, N, "NONE"), "NONE");
        assert_eq!(xlat(2, N, None), "TWO");
        assert_eq!(xlat(0x3001, N, Some("ARCH")), "0x3001 /* ARCH_??? */");
        assert_eq!(xlat(7, N, None), "7");
        assert_eq!(octal(0o644), "0644");
        assert_eq!(octal(0), "000");
        assert_eq!(octal(0o22), "022");
    }

    #[test]
    fn errors_and_signals() {
        assert_eq!(error_return(2), "-1 ENOENT (No such file or directory)");
        assert_eq!(error_return(9), "-1 EBADF (Bad file descriptor)");
        assert_eq!(error_return(95), "-1 EOPNOTSUPP (Operation not supported)");
        assert_eq!(
            error_return(512),
            "? ERESTARTSYS (To be restarted if SA_RESTART is set)"
        );
        assert_eq!(error_return(514), "? ERESTARTNOHAND (To be restarted if no handler)");
        assert_eq!(error_return(4000), "-1 4000");
        assert!(is_error(-1) && is_error(-4095) && !is_error(-4096) && !is_error(0));
        assert_eq!(signal(15), "SIGTERM");
        assert_eq!(signal(32), "SIGRTMIN");
        assert_eq!(signal(34), "SIGRT_2");
        assert_eq!(signal(0), "0");
        assert_eq!(sigset(0), "[]");
        assert_eq!(sigset((1 << 1) | (1 << 14)), "[INT TERM]");
        assert_eq!(sigset(1 << 31), "[RTMIN]");
        assert_eq!(sigset(!((1 << 8) | (1 << 18) | (3 << 31))), "~[KILL STOP RTMIN RT_1]");
        assert_eq!(sigset(u64::MAX), "~[]");
    }
}
