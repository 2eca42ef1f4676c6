//! Structures the decoders print: stat, statx, sockaddr, sigaction, rlimit, utsname, iovec,
//! timespec, wait status and siginfo, in strace's abbreviated notation.

use super::consts::*;
use super::fmt::{self, le, read_struct};
use crate::memory::GuestMemory;

/// A file mode with its type: `S_IFREG|0644`, `S_IFDIR|S_ISVTX|0777`.
pub fn file_mode(mode: u64) -> String {
    let mut s = String::new();
    if let Some(t) = fmt::lookup(mode & 0o170000, FILE_TYPES) {
        s.push_str(t);
        s.push('|');
    }
    for (bit, name) in [(0o4000, "S_ISUID|"), (0o2000, "S_ISGID|"), (0o1000, "S_ISVTX|")] {
        if mode & bit != 0 {
            s.push_str(name);
        }
    }
    s.push_str(&fmt::octal(mode & 0o777));
    s
}

fn makedev(dev: u64) -> String {
    let major = ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff);
    let minor = ((dev >> 12) & 0xffff_ff00) | (dev & 0xff);
    format!("makedev({}, {})", fmt::hex(major), fmt::hex(minor))
}

fn is_device(mode: u64) -> bool {
    matches!(mode & 0o170000, 0o020000 | 0o060000)
}

/// `struct stat`: `{st_mode=S_IFREG|0644, st_size=50, ...}`.
pub fn stat(mem: &GuestMemory, addr: u64) -> String {
    let Some(b) = read_struct::<144>(mem, addr) else {
        return fmt::ptr(addr);
    };
    let mode = le(&b, 24, 4);
    if is_device(mode) {
        format!(
            "{{st_mode={}, st_rdev={}, ...}}",
            file_mode(mode),
            makedev(le(&b, 40, 8))
        )
    } else {
        format!("{{st_mode={}, st_size={}, ...}}", file_mode(mode), le(&b, 48, 8) as i64)
    }
}

const STATX_ATTRS: fmt::Names = &[
    (0x4, "STATX_ATTR_COMPRESSED"),
    (0x10, "STATX_ATTR_IMMUTABLE"),
    (0x20, "STATX_ATTR_APPEND"),
    (0x40, "STATX_ATTR_NODUMP"),
    (0x800, "STATX_ATTR_ENCRYPTED"),
    (0x1000, "STATX_ATTR_AUTOMOUNT"),
    (0x2000, "STATX_ATTR_MOUNT_ROOT"),
    (0x100000, "STATX_ATTR_VERITY"),
    (0x200000, "STATX_ATTR_DAX"),
];

/// `struct statx`: `{stx_mask=..., stx_attributes=0, stx_mode=S_IFDIR|0755, stx_size=4096, ...}`.
pub fn statx(mem: &GuestMemory, addr: u64) -> String {
    let Some(b) = read_struct::<256>(mem, addr) else {
        return fmt::ptr(addr);
    };
    format!(
        "{{stx_mask={}, stx_attributes={}, stx_mode={}, stx_size={}, ...}}",
        fmt::flags(le(&b, 0, 4), STATX_MASK, "0"),
        fmt::flags(le(&b, 8, 8), STATX_ATTRS, "0"),
        file_mode(le(&b, 28, 2)),
        le(&b, 40, 8)
    )
}

/// `struct sockaddr` of `len` bytes.
pub fn sockaddr(mem: &GuestMemory, addr: u64, len: u64) -> String {
    if addr == 0 {
        return "NULL".into();
    }
    let len = len.min(128) as usize;
    if len < 2 {
        return fmt::ptr(addr);
    }
    let mut b = vec![0u8; len];
    if mem.read_bytes(addr, &mut b).is_err() {
        return fmt::ptr(addr);
    }
    let family = le(&b, 0, 2);
    let fam = fmt::xlat(family, ADDRESS_FAMILIES, None);
    let be16 =
        |off: usize| u16::from_be_bytes([b.get(off).copied().unwrap_or(0), b.get(off + 1).copied().unwrap_or(0)]);
    match family {
        1 => {
            let path = &b[2..];
            if path.first() == Some(&0) && path.len() > 1 {
                let name = &path[1..];
                let end = name.iter().position(|&c| c == 0).unwrap_or(name.len());
                format!("{{sa_family={fam}, sun_path=@{}}}", fmt::quote(&name[..end], false))
            } else {
                let end = path.iter().position(|&c| c == 0).unwrap_or(path.len());
                format!("{{sa_family={fam}, sun_path={}}}", fmt::quote(&path[..end], false))
            }
        }
        2 if len >= 8 => format!(
            "{{sa_family={fam}, sin_port=htons({}), sin_addr=inet_addr(\"{}.{}.{}.{}\")}}",
            be16(2),
            b[4],
            b[5],
            b[6],
            b[7]
        ),
        10 if len >= 24 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&b[8..24]);
            let flow = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
            let scope = if len >= 28 { le(&b, 24, 4) } else { 0 };
            format!(
                "{{sa_family={fam}, sin6_port=htons({}), sin6_flowinfo=htonl({flow}), inet_pton({fam}, \"{}\", &sin6_addr), sin6_scope_id={scope}}}",
                be16(2),
                std::net::Ipv6Addr::from(a)
            )
        }
        16 if len >= 12 => format!(
            "{{sa_family={fam}, nl_pid={}, nl_groups={:08x}}}",
            le(&b, 4, 4) as i32,
            le(&b, 8, 4)
        ),
        _ => format!("{{sa_family={fam}, sa_data={}}}", fmt::quote(&b[2..], false)),
    }
}

fn handler(h: u64) -> String {
    match h {
        0 => "SIG_DFL".into(),
        1 => "SIG_IGN".into(),
        _ => fmt::ptr(h),
    }
}

/// The kernel's `struct sigaction`: `{sa_handler=SIG_IGN, sa_mask=[INT], sa_flags=...}`.
pub fn sigaction(mem: &GuestMemory, addr: u64) -> String {
    let Some(b) = read_struct::<32>(mem, addr) else {
        return fmt::ptr(addr);
    };
    let flags = le(&b, 8, 8);
    let mut s = format!(
        "{{sa_handler={}, sa_mask={}, sa_flags={}",
        handler(le(&b, 0, 8)),
        fmt::sigset(le(&b, 24, 8)),
        fmt::flags(flags, SA_FLAGS, "0")
    );
    if flags & 0x0400_0000 != 0 {
        s.push_str(&format!(", sa_restorer={}", fmt::ptr(le(&b, 16, 8))));
    }
    s.push('}');
    s
}

/// A 64-bit signal set at `addr` (`size` bytes of it are the guest's).
pub fn sigset_at(mem: &GuestMemory, addr: u64, size: u64) -> String {
    if addr == 0 {
        return "NULL".into();
    }
    if size == 0 || size > 128 {
        return fmt::ptr(addr);
    }
    let n = size.min(8) as usize;
    let mut b = [0u8; 8];
    match mem.read_bytes(addr, &mut b[..n]) {
        Ok(()) => fmt::sigset(u64::from_le_bytes(b)),
        Err(_) => fmt::ptr(addr),
    }
}

fn rlim(v: u64) -> String {
    if v == u64::MAX {
        "RLIM64_INFINITY".into()
    } else if v > 0 && v.is_multiple_of(1024) {
        format!("{}*1024", v / 1024)
    } else {
        v.to_string()
    }
}

/// `struct rlimit`: `{rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY}`.
pub fn rlimit(mem: &GuestMemory, addr: u64) -> String {
    match read_struct::<16>(mem, addr) {
        Some(b) => format!("{{rlim_cur={}, rlim_max={}}}", rlim(le(&b, 0, 8)), rlim(le(&b, 8, 8))),
        None => fmt::ptr(addr),
    }
}

/// `struct utsname`: `{sysname="Linux", nodename="vm", ...}`.
pub fn utsname(mem: &GuestMemory, addr: u64) -> String {
    let Some(b) = read_struct::<130>(mem, addr) else {
        return fmt::ptr(addr);
    };
    let field = |off: usize| {
        let f = &b[off..off + 65];
        let end = f.iter().position(|&c| c == 0).unwrap_or(f.len());
        fmt::quote(&f[..end], false)
    };
    format!("{{sysname={}, nodename={}, ...}}", field(0), field(65))
}

/// `struct timespec`: `{tv_sec=1, tv_nsec=0}`.
pub fn timespec(mem: &GuestMemory, addr: u64) -> String {
    match read_struct::<16>(mem, addr) {
        Some(b) => format!("{{tv_sec={}, tv_nsec={}}}", le(&b, 0, 8) as i64, le(&b, 8, 8) as i64),
        None => fmt::ptr(addr),
    }
}

/// `struct timeval`: `{tv_sec=1, tv_usec=0}`.
pub fn timeval(mem: &GuestMemory, addr: u64) -> String {
    match read_struct::<16>(mem, addr) {
        Some(b) => format!("{{tv_sec={}, tv_usec={}}}", le(&b, 0, 8) as i64, le(&b, 8, 8) as i64),
        None => fmt::ptr(addr),
    }
}

/// An array of `count` iovecs, the data of at most `limit` bytes in all shown (readv shows
/// what was read): `[{iov_base="ab", iov_len=2}, ...]`.
pub fn iovec(mem: &GuestMemory, addr: u64, count: u64, limit: Option<u64>) -> String {
    if addr == 0 {
        return "NULL".into();
    }
    let mut parts = Vec::new();
    let mut left = limit.unwrap_or(u64::MAX);
    for i in 0..count.min(fmt::MAX_STRLEN as u64 + 1) {
        if i == fmt::MAX_STRLEN as u64 {
            parts.push("...".to_string());
            break;
        }
        let Some(b) = addr.checked_add(16 * i).and_then(|a| read_struct::<16>(mem, a)) else {
            if i == 0 {
                return fmt::ptr(addr);
            }
            parts.push("...".to_string());
            break;
        };
        let (base, len) = (le(&b, 0, 8), le(&b, 8, 8));
        let shown = len.min(left);
        left -= shown;
        parts.push(format!(
            "{{iov_base={}, iov_len={len}}}",
            fmt::buffer(mem, base, shown, false)
        ));
    }
    format!("[{}]", parts.join(", "))
}

/// A wait status as strace spells it: `[{WIFEXITED(s) && WEXITSTATUS(s) == 0}]`.
pub fn wait_status(status: i32) -> String {
    let inner = if status & 0x7f == 0 {
        format!("WIFEXITED(s) && WEXITSTATUS(s) == {}", (status >> 8) & 0xff)
    } else if status & 0xff == 0x7f {
        format!(
            "WIFSTOPPED(s) && WSTOPSIG(s) == {}",
            fmt::signal(i64::from((status >> 8) & 0xff))
        )
    } else if status == 0xffff {
        "WIFCONTINUED(s)".into()
    } else {
        let core = if status & 0x80 != 0 { " && WCOREDUMP(s)" } else { "" };
        format!(
            "WIFSIGNALED(s) && WTERMSIG(s) == {}{core}",
            fmt::signal(i64::from(status & 0x7f))
        )
    };
    let event = (status >> 16) & 0xff;
    if event != 0 {
        format!("[{{{inner}}} | {event:#x} << 16]")
    } else {
        format!("[{{{inner}}}]")
    }
}

/// An `int` at `addr` as `[N]`.
pub fn int_at(mem: &GuestMemory, addr: u64) -> String {
    match read_struct::<4>(mem, addr) {
        Some(b) => format!("[{}]", i32::from_le_bytes(b)),
        None => fmt::ptr(addr),
    }
}

/// Two ints (pipe, socketpair): `[3, 4]`.
pub fn int_pair(mem: &GuestMemory, addr: u64) -> String {
    match read_struct::<8>(mem, addr) {
        Some(b) => format!("[{}, {}]", le(&b, 0, 4) as i32, le(&b, 4, 4) as i32),
        None => fmt::ptr(addr),
    }
}

/// `struct pollfd[n]`, with `events` (on entry) or `revents` (on exit, only the ready ones).
pub fn pollfds(mem: &GuestMemory, addr: u64, n: u64, revents: bool) -> String {
    if addr == 0 {
        return "NULL".into();
    }
    let mut parts = Vec::new();
    for i in 0..n.min(fmt::MAX_STRLEN as u64) {
        let Some(b) = addr.checked_add(8 * i).and_then(|a| read_struct::<8>(mem, a)) else {
            return fmt::ptr(addr);
        };
        let fd = le(&b, 0, 4) as i32;
        if revents {
            let r = le(&b, 6, 2);
            if r != 0 {
                parts.push(format!("{{fd={fd}, revents={}}}", fmt::flags(r, POLL_EVENTS, "0")));
            }
        } else {
            parts.push(format!(
                "{{fd={fd}, events={}}}",
                fmt::flags(le(&b, 4, 2), POLL_EVENTS, "0")
            ));
        }
    }
    if n > fmt::MAX_STRLEN as u64 {
        parts.push("...".into());
    }
    format!("[{}]", parts.join(", "))
}

/// An `fd_set` holding descriptors below `nfds`: `[3 4]`.
pub fn fd_set(mem: &GuestMemory, addr: u64, nfds: u64) -> String {
    if addr == 0 {
        return "NULL".into();
    }
    let nfds = (nfds as i32).clamp(0, 1024) as usize;
    let mut b = vec![0u8; nfds.div_ceil(64) * 8];
    if mem.read_bytes(addr, &mut b).is_err() {
        return fmt::ptr(addr);
    }
    let fds: Vec<String> = (0..nfds)
        .filter(|fd| b[fd / 8] & (1 << (fd % 8)) != 0)
        .map(|fd| fd.to_string())
        .collect();
    format!("[{}]", fds.join(" "))
}

/// `n` group ids: `[0, 27]` (at most 32 shown).
pub fn gids(mem: &GuestMemory, addr: u64, n: u64) -> String {
    if addr == 0 {
        return "NULL".into();
    }
    if n == 0 {
        return "[]".into();
    }
    let shown = n.min(fmt::MAX_STRLEN as u64) as usize;
    let mut b = vec![0u8; 4 * shown];
    if mem.read_bytes(addr, &mut b).is_err() {
        return fmt::ptr(addr);
    }
    let mut ids: Vec<String> = b.chunks(4).map(|c| le(c, 0, 4).to_string()).collect();
    if n > shown as u64 {
        ids.push("...".into());
    }
    format!("[{}]", ids.join(", "))
}

/// `struct sysinfo`, every field, as strace prints it.
pub fn sysinfo(mem: &GuestMemory, addr: u64) -> String {
    let Some(b) = read_struct::<112>(mem, addr) else {
        return fmt::ptr(addr);
    };
    let q = |off: usize| le(&b, off, 8);
    format!(
        "{{uptime={}, loads=[{}, {}, {}], totalram={}, freeram={}, sharedram={}, bufferram={}, totalswap={}, freeswap={}, procs={}, totalhigh={}, freehigh={}, mem_unit={}}}",
        q(0) as i64,
        q(8),
        q(16),
        q(24),
        q(32),
        q(40),
        q(48),
        q(56),
        q(64),
        q(72),
        le(&b, 80, 2),
        q(88),
        q(96),
        le(&b, 104, 4)
    )
}

/// `struct flock`: `{l_type=F_WRLCK, l_whence=SEEK_SET, l_start=0, l_len=0}`.
pub fn flock(mem: &GuestMemory, addr: u64) -> String {
    let Some(b) = read_struct::<32>(mem, addr) else {
        return fmt::ptr(addr);
    };
    const TYPES: fmt::Names = &[(0, "F_RDLCK"), (1, "F_WRLCK"), (2, "F_UNLCK")];
    format!(
        "{{l_type={}, l_whence={}, l_start={}, l_len={}}}",
        fmt::xlat(le(&b, 0, 2), TYPES, None),
        fmt::xlat(le(&b, 2, 2), WHENCE, None),
        le(&b, 8, 8) as i64,
        le(&b, 16, 8) as i64
    )
}

/// How many `linux_dirent64` records a getdents64 buffer of `len` bytes holds.
pub fn dirent_count(mem: &GuestMemory, addr: u64, len: u64) -> Option<usize> {
    let len = usize::try_from(len).ok()?.min(1 << 20);
    let mut b = vec![0u8; len];
    mem.read_bytes(addr, &mut b).ok()?;
    let (mut off, mut n) = (0usize, 0usize);
    while off + 19 <= len {
        let reclen = le(&b, off + 16, 2) as usize;
        if reclen == 0 {
            break;
        }
        n += 1;
        off += reclen;
    }
    Some(n)
}

/// A siginfo (128 bytes, as PTRACE_GETSIGINFO returns it):
/// `{si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=12, si_uid=0, si_status=0, ...}`.
pub fn siginfo(b: &[u8; 128]) -> String {
    let signo = le(b, 0, 4) as i32;
    let code = le(b, 8, 4) as i32;
    let sig = fmt::signal(i64::from(signo));
    let specific: Option<fmt::Names> = if code > 0 && code != 0x80 {
        match signo {
            17 => Some(CLD_CODES),
            11 => Some(SEGV_CODES),
            7 => Some(BUS_CODES),
            4 => Some(ILL_CODES),
            8 => Some(FPE_CODES),
            5 => Some(TRAP_CODES),
            29 => Some(POLL_CODES),
            31 => Some(SYS_CODES),
            _ => None,
        }
    } else {
        None
    };
    let code_name = specific
        .and_then(|names| fmt::lookup(code as u64, names))
        .or_else(|| fmt::lookup(i64::from(code) as u64, SI_CODES))
        .map_or_else(|| code.to_string(), str::to_string);
    let mut s = format!("{{si_signo={sig}, si_code={code_name}");
    let pid_uid = format!(", si_pid={}, si_uid={}", le(b, 16, 4) as i32, le(b, 20, 4));
    match (code, signo) {
        (c, 17) if c > 0 && c != 0x80 => {
            let status = le(b, 24, 4) as i32;
            let status = if c == 1 {
                status.to_string()
            } else {
                fmt::signal(i64::from(status))
            };
            let ticks = |v: u64| {
                if v == 0 {
                    "0".to_string()
                } else {
                    format!("{v} /* {}.{:02} s */", v / 100, v % 100)
                }
            };
            s.push_str(&format!(
                "{pid_uid}, si_status={status}, si_utime={}, si_stime={}",
                ticks(le(b, 32, 8)),
                ticks(le(b, 40, 8))
            ));
        }
        (c, 4 | 7 | 8 | 11) if c > 0 => s.push_str(&format!(", si_addr={}", fmt::ptr(le(b, 16, 8)))),
        (0x80, 4 | 7 | 8 | 11) => s.push_str(&format!(", si_addr={}", fmt::ptr(le(b, 16, 8)))),
        (0 | -6, _) => s.push_str(&pid_uid),
        (-1 | -3, _) => s.push_str(&format!(
            "{pid_uid}, si_int={}, si_ptr={}",
            le(b, 24, 4) as i32,
            fmt::ptr(le(b, 24, 8))
        )),
        (-2, _) => s.push_str(&format!(
            ", si_timerid={:#x}, si_overrun={}, si_int={}, si_ptr={}",
            le(b, 16, 4),
            le(b, 20, 4) as i32,
            le(b, 24, 4) as i32,
            fmt::ptr(le(b, 24, 8))
        )),
        _ => {}
    }
    s.push('}');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> GuestMemory {
        GuestMemory::new(std::process::id() as i32)
    }

    #[test]
    fn modes_and_wait_statuses() {
        assert_eq!(file_mode(0o100644), "S_IFREG|0644");
        assert_eq!(file_mode(0o41777), "S_IFDIR|S_ISVTX|0777");
        assert_eq!(file_mode(0o20620), "S_IFCHR|0620");
        assert_eq!(wait_status(3 << 8), "[{WIFEXITED(s) && WEXITSTATUS(s) == 3}]");
        assert_eq!(wait_status(15), "[{WIFSIGNALED(s) && WTERMSIG(s) == SIGTERM}]");
        assert_eq!(
            wait_status(0x8b),
            "[{WIFSIGNALED(s) && WTERMSIG(s) == SIGSEGV && WCOREDUMP(s)}]"
        );
        assert_eq!(wait_status(0x137f), "[{WIFSTOPPED(s) && WSTOPSIG(s) == SIGSTOP}]");
    }

    #[test]
    fn structures_from_memory() {
        // SAFETY: stat on a path we own.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::stat(c"/dev/null".as_ptr(), &mut st) }, 0);
        assert_eq!(
            stat(&me(), &st as *const _ as u64),
            "{st_mode=S_IFCHR|0666, st_rdev=makedev(0x1, 0x3), ...}"
        );
        let mut sun: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        sun.sun_family = libc::AF_UNIX as u16;
        sun.sun_path[..3].copy_from_slice(&[b'/' as i8, b's' as i8, 0]);
        assert_eq!(
            sockaddr(&me(), &sun as *const _ as u64, 110),
            "{sa_family=AF_UNIX, sun_path=\"/s\"}"
        );
        let sin = libc::sockaddr_in {
            sin_family: libc::AF_INET as u16,
            sin_port: 9u16.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from_be_bytes([127, 0, 0, 1]).to_be(),
            },
            sin_zero: [0; 8],
        };
        assert_eq!(
            sockaddr(&me(), &sin as *const _ as u64, 16),
            "{sa_family=AF_INET, sin_port=htons(9), sin_addr=inet_addr(\"127.0.0.1\")}"
        );
        let act: [u64; 4] = [1, 0x1400_0000, 0x1234, 1 << 1];
        assert_eq!(
            sigaction(&me(), act.as_ptr() as u64),
            "{sa_handler=SIG_IGN, sa_mask=[INT], sa_flags=SA_RESTORER|SA_RESTART, sa_restorer=0x1234}"
        );
        let lim: [u64; 2] = [8192 * 1024, u64::MAX];
        assert_eq!(
            rlimit(&me(), lim.as_ptr() as u64),
            "{rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY}"
        );
        assert_eq!(stat(&me(), 8), "0x8");
        let pair: [i32; 2] = [3, 4];
        assert_eq!(int_pair(&me(), pair.as_ptr() as u64), "[3, 4]");
    }

    #[test]
    fn siginfo_notation() {
        let mut b = [0u8; 128];
        b[0..4].copy_from_slice(&17i32.to_le_bytes());
        b[8..12].copy_from_slice(&1i32.to_le_bytes());
        b[16..20].copy_from_slice(&42i32.to_le_bytes());
        assert_eq!(
            siginfo(&b),
            "{si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=42, si_uid=0, si_status=0, si_utime=0, si_stime=0}"
        );
        b[0..4].copy_from_slice(&15i32.to_le_bytes());
        b[8..12].copy_from_slice(&0i32.to_le_bytes());
        assert_eq!(siginfo(&b), "{si_signo=SIGTERM, si_code=SI_USER, si_pid=42, si_uid=0}");
        b[0..4].copy_from_slice(&11i32.to_le_bytes());
        b[8..12].copy_from_slice(&1i32.to_le_bytes());
        b[16..24].copy_from_slice(&0u64.to_le_bytes());
        assert_eq!(siginfo(&b), "{si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=NULL}");
    }
}
