//! The exec path on unusual and malformed executables, with the kernel as the oracle: each
//! crafted file is run natively and under lxrun on every backend, and must give the same
//! status and output; where the kernel refuses it, the guest's execve (tryexec) must get the
//! same errno and lxrun, given it as the program, the launcher status for that errno.

mod common;

use common::*;
use std::path::Path;
use std::time::Duration;

const BASE: u64 = 0x40_0000;
/// Where the code goes in every crafted file, and at what offset from the base it is mapped.
const CODE: u64 = 0x1000;
const PT_LOAD: u32 = 1;
const PT_INTERP: u32 = 3;
const PT_PHDR: u32 = 6;
const R: u32 = 4;
const RW: u32 = 6;
const RX: u32 = 5;
const RWX: u32 = 7;

#[derive(Clone, Copy)]
struct Phdr {
    ty: u32,
    flags: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
    align: u64,
}

fn seg(flags: u32, offset: u64, vaddr: u64, filesz: u64, memsz: u64) -> Phdr {
    Phdr {
        ty: PT_LOAD,
        flags,
        offset,
        vaddr,
        filesz,
        memsz,
        align: 0x1000,
    }
}

/// An ELF64 x86_64 file: the header (program headers right after it), then `code` at CODE.
fn elf(e_type: u16, entry: u64, phdrs: &[Phdr], code: &[u8]) -> Vec<u8> {
    let mut f = b"\x7fELF\x02\x01\x01".to_vec();
    f.resize(16, 0);
    f.extend_from_slice(&e_type.to_le_bytes());
    f.extend_from_slice(&62u16.to_le_bytes());
    f.extend_from_slice(&1u32.to_le_bytes());
    for v in [entry, 64, 0] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    for v in [0u32] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    for v in [64u16, 56, phdrs.len() as u16, 64, 0, 0] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    for p in phdrs {
        f.extend_from_slice(&p.ty.to_le_bytes());
        f.extend_from_slice(&p.flags.to_le_bytes());
        for v in [p.offset, p.vaddr, p.vaddr, p.filesz, p.memsz, p.align] {
            f.extend_from_slice(&v.to_le_bytes());
        }
    }
    put(&mut f, CODE, code);
    f
}

/// Writes `bytes` at `at`, growing the file as needed.
fn put(f: &mut Vec<u8>, at: u64, bytes: &[u8]) {
    let at = at as usize;
    if f.len() < at + bytes.len() {
        f.resize(at + bytes.len(), 0);
    }
    f[at..at + bytes.len()].copy_from_slice(bytes);
}

/// `write(1, target, len); exit(0)`, 33 bytes; `target` is relative to the end of its lea
/// (17 bytes in).
fn write_exit(target: i32, len: u32) -> Vec<u8> {
    let mut c = b"\xb8\x01\x00\x00\x00\xbf\x01\x00\x00\x00\x48\x8d\x35".to_vec();
    c.extend_from_slice(&target.to_le_bytes());
    c.push(0xba);
    c.extend_from_slice(&len.to_le_bytes());
    c.extend_from_slice(b"\x0f\x05\xb8\x3c\x00\x00\x00\x31\xff\x0f\x05");
    c
}

/// Prints "hello\n" and exits 0, from any address.
fn hello() -> Vec<u8> {
    [write_exit(16, 6), b"hello\n".to_vec()].concat()
}

/// `mov byte [rip + to], 1` (7 bytes; `to` relative to its end), then `rest`.
fn store_then(to: i32, rest: &[u8]) -> Vec<u8> {
    let mut c = b"\xc6\x05".to_vec();
    c.extend_from_slice(&to.to_le_bytes());
    c.push(1);
    c.extend_from_slice(rest);
    c
}

/// Writes the 8 bytes of the auxv's AT_PHDR to stdout and exits 0.
const PRINT_AT_PHDR: &[u8] = &[
    0x48, 0x89, 0xe3, 0x48, 0x8b, 0x0b, 0x48, 0x8d, 0x5c, 0xcb, 0x10, 0x48, 0x83, 0x3b, 0x00, 0x48, 0x8d, 0x5b, 0x08,
    0x75, 0xf6, 0x48, 0x83, 0x3b, 0x03, 0x74, 0x06, 0x48, 0x83, 0xc3, 0x10, 0xeb, 0xf4, 0x48, 0x8d, 0x73, 0x08, 0xb8,
    0x01, 0x00, 0x00, 0x00, 0xbf, 0x01, 0x00, 0x00, 0x00, 0xba, 0x08, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xb8, 0x3c, 0x00,
    0x00, 0x00, 0x31, 0xff, 0x0f, 0x05,
];

/// The usual layout: the headers' page read-only at `base`, `code` executable at base + CODE.
fn program(e_type: u16, base: u64, code: &[u8], extra: &[Phdr]) -> Vec<u8> {
    let mut phdrs = vec![
        seg(R, 0, base, 0x100, 0x100),
        seg(RX, CODE, base + CODE, code.len() as u64, code.len() as u64),
    ];
    phdrs.extend_from_slice(extra);
    elf(e_type, base + CODE, &phdrs, code)
}

/// A program at BASE whose PT_INTERP is `interp` (which then runs instead of it).
fn with_interp(interp: &[u8]) -> Vec<u8> {
    let mut path = interp.to_vec();
    path.push(0);
    let at = 0x800;
    let pt = Phdr {
        ty: PT_INTERP,
        ..seg(R, at, BASE + at, path.len() as u64, path.len() as u64)
    };
    let mut f = program(2, BASE, &[write_exit(16, 4), b"main".to_vec()].concat(), &[pt]);
    put(&mut f, at, &path);
    f
}

fn tryexec() -> std::path::PathBuf {
    ensure_built();
    binary("static", "tryexec")
}

/// The kernel runs `path`: lxrun must run it with the same status and output.
fn runs_like_native(failures: &mut Vec<String>, label: &str, path: &Path) {
    let native = compare_everywhere(label, &Cmd::new(path), failures);
    if native.spawn_errno.is_some() {
        failures.push(format!(
            "=== {label}: the kernel refused it (test assumption broken)\n{native}"
        ));
    }
}

/// The kernel refuses `path` with `errno`: the guest's execve gets it too, and lxrun, given
/// the file, exits with the launcher status for it, at once.
fn refused_like_native(failures: &mut Vec<String>, label: &str, path: &Path, errno: i32) {
    match kernel_exec_errno(path) {
        Err(e) if e == errno => {}
        other => failures.push(format!(
            "=== {label}: native execve gave {other:?}, want errno {errno} (test assumption broken)"
        )),
    }
    let quick = Duration::from_secs(15);
    let mut cmd = Cmd::new(tryexec()).arg(path);
    cmd.timeout = quick;
    compare_everywhere(&format!("{label} (the guest's execve)"), &cmd, failures);
    for backend in backends() {
        let mut cmd = Cmd::new(path);
        cmd.timeout = quick;
        let lx = run_lxrun(backend, &cmd);
        if lx.code != Some(launcher_status_for_errno(errno)) {
            failures.push(format!("=== {label} [backend {backend}]: lxrun on the file:\n{lx}"));
        }
    }
}

#[test]
fn a_fifo_socket_or_device_is_eacces_at_once() {
    let mut failures = Vec::new();
    let dir = TempDir::new("special");
    let fifo = dir.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o755) }, 0);
    let sock = dir.path().join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    std::fs::set_permissions(&sock, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let fifo_b = fifo.to_str().unwrap().as_bytes();
    let cases = [
        ("FIFO as the program", fifo.clone()),
        ("socket as the program", sock.clone()),
        (
            "FIFO as #! interpreter",
            dir.write("fifo-script", &[b"#!", fifo_b, b"\n"].concat(), 0o755),
        ),
        (
            "FIFO as PT_INTERP",
            dir.write("fifo-interp", &with_interp(fifo_b), 0o755),
        ),
        (
            "socket as PT_INTERP",
            dir.write("sock-interp", &with_interp(sock.to_str().unwrap().as_bytes()), 0o755),
        ),
        (
            "/dev/null as PT_INTERP",
            dir.write("null-interp", &with_interp(b"/dev/null"), 0o755),
        ),
    ];
    for (label, path) in cases {
        refused_like_native(&mut failures, label, &path, libc::EACCES);
    }
    assert_no_failures(&failures);
}
