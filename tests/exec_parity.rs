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
    f.extend_from_slice(&0u32.to_le_bytes()); // e_flags
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

/// Exits with the errno of `madvise(page 7 after its own, MADV_NORMAL)`: ENOMEM if unmapped.
const MADVISE_HOLE: &[u8] = &[
    0xb8, 0x1c, 0x00, 0x00, 0x00, 0x48, 0x8d, 0x3d, 0x00, 0x70, 0x00, 0x00, 0x48, 0x81, 0xe7, 0x00, 0xf0, 0xff, 0xff,
    0xbe, 0x00, 0x10, 0x00, 0x00, 0x31, 0xd2, 0x0f, 0x05, 0x89, 0xc7, 0xf7, 0xdf, 0xb8, 0x3c, 0x00, 0x00, 0x00, 0x0f,
    0x05,
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
fn runs_like_native(failures: &mut Vec<String>, label: &str, path: &Path) -> Outcome {
    let native = compare_everywhere(label, &Cmd::new(path), failures);
    if native.spawn_errno.is_some() {
        failures.push(format!(
            "=== {label}: the kernel refused it (test assumption broken)\n{native}"
        ));
    }
    native
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

/// A position-independent ET_DYN interpreter that prints "hello\n", with `own` as its own
/// PT_INTERP if given.
fn interpreter(own: Option<&[u8]>) -> Vec<u8> {
    let mut extra = Vec::new();
    let path = own.map(|p| [p, b"\0"].concat()).unwrap_or_default();
    if own.is_some() {
        extra.push(Phdr {
            ty: PT_INTERP,
            ..seg(R, 0x800, 0x800, path.len() as u64, path.len() as u64)
        });
    }
    let mut f = program(3, 0, &hello(), &extra);
    put(&mut f, 0x800, &path);
    f
}

#[test]
fn loads_what_the_kernel_loads() {
    let mut failures = Vec::new();
    let dir = TempDir::new("loads");
    let code = hello();
    let len = code.len() as u64;
    let text = |base: u64| seg(RX, CODE, base + CODE, len, len);
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    for ident in [[0, 0, 0, 0], [1, 2, 0, 9], [3, 1, 1, 3]] {
        let mut f = program(2, BASE, &code, &[]);
        f[4..8].copy_from_slice(&ident);
        cases.push(("EI_CLASS, EI_DATA, EI_VERSION, OSABI unchecked", f));
    }
    for (e_type, base) in [(2, BASE), (3, 0)] {
        let phdrs = [seg(R, 0, base + 0x10000, 0x100, 0x100), text(base)];
        cases.push(("PT_LOADs out of order", elf(e_type, base + CODE, &phdrs, &code)));
    }
    let bss_under_text = seg(RW, 0, BASE, 0x100, 0x3000);
    cases.push((
        "overlapping PT_LOADs: the text over a .bss",
        elf(2, BASE + CODE, &[bss_under_text, text(BASE)], &code),
    ));
    cases.push((
        "overlapping PT_LOADs: a .bss over the text (SIGSEGV)",
        elf(2, BASE + CODE, &[text(BASE), bss_under_text], &code),
    ));
    for (e_type, base, align) in [(3, 0, 0x3000), (2, BASE, 12345)] {
        let phdrs = [seg(R, 0, base, 0x100, 0x100), Phdr { align, ..text(base) }];
        cases.push(("p_align not a power of two", elf(e_type, base + CODE, &phdrs, &code)));
    }
    let past_eof = seg(RW, 0x10_0000, BASE + 0x10_0000, 0x2000, 0x2000);
    cases.push(("file range past EOF, untouched", program(2, BASE, &code, &[past_eof])));
    let touch = store_then((0x10_0000 - CODE - 7) as i32, &code);
    cases.push((
        "file range past EOF, touched (SIGBUS)",
        program(2, BASE, &touch, &[past_eof]),
    ));
    // The text's .bss (from BASE + 0x2000) is written to.
    let store = store_then((0x2000 - CODE - 7) as i32, &code);
    let big = seg(RX, CODE, BASE + CODE, store.len() as u64, 0x3000);
    cases.push((
        "a read-only segment's .bss is writable",
        elf(2, BASE + CODE, &[big], &store),
    ));
    // Prints the 8 bytes after its own 33 (past p_filesz, same page), "TAILDATA" in the file.
    let tail = write_exit(16, 8);
    for (flags, label) in [
        (RX, "read-only: the last page keeps the file's bytes"),
        (RWX, "writable: cleared"),
    ] {
        let mut f = elf(2, BASE + CODE, &[seg(flags, CODE, BASE + CODE, 33, 0x2000)], &tail);
        put(&mut f, CODE + 33, b"TAILDATA");
        cases.push((label, f));
    }
    let phdr_len = |n: u64| 64 + 56 * n;
    let at_phdr_text = seg(
        RX,
        CODE,
        BASE + CODE,
        PRINT_AT_PHDR.len() as u64,
        PRINT_AT_PHDR.len() as u64,
    );
    let pt_phdr = Phdr {
        ty: PT_PHDR,
        ..seg(R, 64, 0x12_3000, phdr_len(3), phdr_len(3))
    };
    let layouts: [(&str, Vec<Phdr>); 3] = [
        (
            "AT_PHDR: PT_PHDR is not looked at",
            vec![pt_phdr, seg(R, 0, BASE, 0x100, 0x100), at_phdr_text],
        ),
        ("AT_PHDR: no PT_LOAD holds the table", vec![at_phdr_text]),
        (
            "AT_PHDR: the last PT_LOAD holding it",
            vec![
                seg(R, 0, BASE, 0x100, 0x100),
                at_phdr_text,
                seg(R, 0, BASE + 0x10000, 0x41, 0x41),
            ],
        ),
    ];
    for (label, phdrs) in layouts {
        cases.push((label, elf(2, BASE + CODE, &phdrs, PRINT_AT_PHDR)));
    }
    let plain = dir.write("interp", &interpreter(None), 0o755);
    let nested = dir.write("interp-with-interp", &interpreter(Some(b"/nonexistent/ld.so")), 0o755);
    let plain_b = plain.to_str().unwrap().as_bytes();
    cases.push((
        "an interpreter's own PT_INTERP is ignored",
        with_interp(nested.to_str().unwrap().as_bytes()),
    ));
    cases.push((
        "PT_INTERP ends at its first NUL",
        with_interp(&[plain_b, b"\0junk"].concat()),
    ));
    // Past the point of no return: SIGSEGV where the mapping fails (here, under overcommit
    // heuristics), in lxrun's loader as in the kernel.
    let huge = seg(RW, 0, BASE + 0x10_0000, 0x10, 0x2e00_0000_0000);
    cases.push(("a .bss too big to map", program(2, BASE, &code, &[huge])));
    // The hole between the text and a segment at BASE + 0x10000 stays unmapped (ENOMEM). (In
    // an ET_DYN's hole the kernel may then put the vDSO, which lxrun cannot move.)
    let far = seg(RW, 0, BASE + 0x10000, 0x10, 0x10);
    cases.push(("a hole between segments", program(2, BASE, MADVISE_HOLE, &[far])));
    // The kernel maps an ET_EXEC interpreter MAP_FIXED: over the program's own pages.
    let fixed = dir.write("interp-fixed", &program(2, BASE, &code, &[]), 0o755);
    cases.push((
        "an ET_EXEC interpreter over the program",
        with_interp(fixed.to_str().unwrap().as_bytes()),
    ));
    for (i, (label, bytes)) in cases.into_iter().enumerate() {
        let path = dir.write(&format!("case{i}"), &bytes, 0o755);
        runs_like_native(&mut failures, &format!("{label} (case{i})"), &path);
    }
    assert_no_failures(&failures);
}

#[test]
fn refuses_what_the_kernel_refuses() {
    let mut failures = Vec::new();
    let dir = TempDir::new("refuses");
    let unexecutable = dir.write("interp-0644", &interpreter(None), 0o644);
    let short = dir.write("interp-short", b"\x7fELF\x02\x01", 0o755);
    let mut interp_past_eof = with_interp(b"/lib64/ld-linux-x86-64.so.2");
    // PT_INTERP's p_offset (third program header, 8 bytes in) beyond the end of the file.
    put(&mut interp_past_eof, 64 + 2 * 56 + 8, &0x10_0000u64.to_le_bytes());
    let cases: [(&str, Vec<u8>, i32); 7] = [
        (
            "PT_INTERP without execute permission",
            with_interp(unexecutable.to_str().unwrap().as_bytes()),
            libc::EACCES,
        ),
        (
            "PT_INTERP shorter than an ELF header",
            with_interp(short.to_str().unwrap().as_bytes()),
            libc::EIO,
        ),
        ("PT_INTERP past the end of the file", interp_past_eof, libc::EIO),
        // An empty interpreter name opens the working directory.
        ("#! and nothing else", b"#!".to_vec(), libc::EACCES),
        ("#! then a NUL", b"#!\0/bin/sh\n".to_vec(), libc::EACCES),
        ("#! then blanks to the end", b"#! \t".to_vec(), libc::EACCES),
        ("#! then a newline", b"#!\n".to_vec(), libc::ENOEXEC),
    ];
    for (i, (label, bytes, errno)) in cases.into_iter().enumerate() {
        let path = dir.write(&format!("case{i}"), &bytes, 0o755);
        refused_like_native(&mut failures, &format!("{label} (case{i})"), &path, errno);
    }
    assert_no_failures(&failures);
}

/// Files whose load the kernel fails only past exec's point of no return: no errno, the
/// process dies of SIGSEGV (even one that ignores it).
#[test]
fn a_load_that_fails_past_the_point_of_no_return_is_sigsegv() {
    let mut failures = Vec::new();
    let dir = TempDir::new("fatal");
    let code = hello();
    let mut rel = interpreter(None);
    rel[16] = 1; // ET_REL
    let rel = dir.write("interp-rel", &rel, 0o755);
    let cases: [(&str, Vec<u8>); 6] = [
        (
            "p_filesz > p_memsz",
            program(2, BASE, &code, &[seg(RW, 0, BASE + 0x10_0000, 0x200, 0x100)]),
        ),
        (
            "p_offset and p_vaddr disagree",
            program(2, BASE, &code, &[seg(R, 0x10, BASE + 0x10_0000, 0x20, 0x20)]),
        ),
        (
            "no PT_LOAD",
            elf(
                2,
                BASE + CODE,
                &[Phdr {
                    ty: 4,
                    ..seg(R, 0, 0, 0, 0)
                }],
                &code,
            ),
        ),
        (
            "no PT_LOAD, ET_DYN",
            elf(
                3,
                CODE,
                &[Phdr {
                    ty: 4,
                    ..seg(R, 0, 0, 0, 0)
                }],
                &code,
            ),
        ),
        (
            "a .bss to clear in a page past EOF",
            program(2, BASE, &code, &[seg(RW, 0x10_0000, BASE + 0x10_0000, 0x10, 0x2000)]),
        ),
        ("an ET_REL interpreter", with_interp(rel.to_str().unwrap().as_bytes())),
    ];
    for (i, (label, bytes)) in cases.into_iter().enumerate() {
        let path = dir.write(&format!("case{i}"), &bytes, 0o755);
        let native = runs_like_native(&mut failures, &format!("{label} (case{i})"), &path);
        if native.signal != Some(libc::SIGSEGV) {
            failures.push(format!(
                "=== {label}: natively not SIGSEGV (test assumption broken)\n{native}"
            ));
        }
        let ignoring = Cmd::new("/bin/sh").args(["-c", "trap '' SEGV; exec \"$0\""]).arg(&path);
        compare_everywhere(&format!("{label}, SIGSEGV ignored (case{i})"), &ignoring, &mut failures);
    }
    assert_no_failures(&failures);
}

/// A PIE with an interpreter goes at ELF_ET_DYN_BASE plus up to 2^28 random pages, as the
/// kernel puts it (exactly there with randomization off); a program relying on what is below
/// it (here, ld.so given an AT_PHDR no PT_LOAD maps) fails as natively.
#[test]
fn a_pie_with_an_interpreter_loads_where_the_kernel_puts_it() {
    const ELF_ET_DYN_BASE: u64 = 0x5555_5555_4000;
    let mut failures = Vec::new();
    let dir = TempDir::new("pie");
    let interp = dir.write("interp", &program(3, 0, PRINT_AT_PHDR, &[]), 0o755);
    let path = [interp.to_str().unwrap().as_bytes(), b"\0"].concat();
    let pt = Phdr {
        ty: PT_INTERP,
        ..seg(R, 0x800, 0x800, path.len() as u64, path.len() as u64)
    };
    let mut pie = elf(
        3,
        CODE,
        &[seg(R, 0, 0, 0x100, 0x100), seg(RX, CODE, CODE, 39, 39), pt],
        &hello(),
    );
    put(&mut pie, 0x800, &path);
    let pie = dir.write("pie", &pie, 0o755);
    let no_aslr = Cmd::new("/usr/bin/setarch").args(["-R"]).arg(&pie);
    let native = compare_everywhere("PIE, randomization off", &no_aslr, &mut failures);
    assert_eq!(
        native.stdout,
        (ELF_ET_DYN_BASE + 64).to_le_bytes(),
        "native AT_PHDR:\n{native}"
    );
    let in_range = |o: &Outcome| {
        let v = u64::from_le_bytes(o.stdout.get(..8).and_then(|s| s.try_into().ok()).unwrap_or_default());
        (ELF_ET_DYN_BASE..ELF_ET_DYN_BASE + (1 << 40)).contains(&v.wrapping_sub(64))
    };
    let cmd = Cmd::new(&pie);
    assert!(in_range(&run_native(&cmd)), "native PIE outside the kernel's range");
    for backend in backends() {
        let lx = run_lxrun(backend, &cmd);
        if !in_range(&lx) {
            failures.push(format!("=== PIE base [backend {backend}]\n{lx}"));
        }
    }
    // The real dynamic hello with its first PT_LOAD (the one holding the headers) made PT_NULL.
    ensure_built();
    let mut hello = std::fs::read(binary("dynamic", "hello")).unwrap();
    let phoff = u64::from_le_bytes(hello[32..40].try_into().unwrap()) as usize;
    let first = (0..hello[56] as usize)
        .map(|i| phoff + 56 * i)
        .find(|&at| hello[at] == 1)
        .unwrap();
    hello[first] = 0;
    let headless = dir.write("headless", &hello, 0o755);
    runs_like_native(
        &mut failures,
        "dynamic hello with no PT_LOAD holding its headers",
        &headless,
    );
    assert_no_failures(&failures);
}

/// lxrun keeps what it read of a program or interpreter for its next exec (the exec cache):
/// a file rewritten in place between two execs of one run, at the same path with the same size,
/// runs its new content, whether its mtime is new or was set back (only its ctime tells). The
/// two versions of each differ in their headers only (the entry point, a `#!` line), which is
/// what lxrun reads; the rest the stub maps from the file as it is.
#[test]
fn a_program_rewritten_in_place_runs_its_new_content() {
    let dir = TempDir::new("rewritten");
    // Code printing "one" at CODE and "two" 0x40 after it; the entry picks one.
    let body = |word: &[u8; 4], other: &[u8; 4]| {
        let mut code = [write_exit(16, 4), word.to_vec()].concat();
        code.resize(0x40, 0);
        [code, write_exit(16, 4), other.to_vec()].concat()
    };
    let at = |e_type: u16, base: u64, second: bool, words: (&[u8; 4], &[u8; 4])| {
        let code = body(words.0, words.1);
        let phdrs = [
            seg(R, 0, base, 0x100, 0x100),
            seg(RX, CODE, base + CODE, code.len() as u64, code.len() as u64),
        ];
        elf(e_type, base + CODE + if second { 0x40 } else { 0 }, &phdrs, &code)
    };
    let old = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    let mut files = Vec::new();
    for b in backends() {
        for (name, content) in [
            (format!("p-{b}"), at(2, BASE, false, (b"one\n", b"two\n"))),
            (format!("p-{b}.new"), at(2, BASE, true, (b"one\n", b"two\n"))),
            (format!("q-{b}"), at(2, BASE, false, (b"one\n", b"two\n"))),
            (format!("q-{b}.new"), at(2, BASE, true, (b"one\n", b"two\n"))),
            (format!("i-{b}"), at(3, 0, false, (b"uno\n", b"dos\n"))),
            (format!("i-{b}.new"), at(3, 0, true, (b"uno\n", b"dos\n"))),
            (format!("s-{b}"), b"#!/bin/echo un\n".to_vec()),
            (format!("s-{b}.new"), b"#!/bin/echo de\n".to_vec()),
        ] {
            files.push(dir.write(&name, &content, 0o755));
        }
        let interp = dir.path().join(format!("i-{b}"));
        files.push(dir.write(
            &format!("m-{b}"),
            &with_interp(interp.to_str().unwrap().as_bytes()),
            0o755,
        ));
    }
    for f in &files {
        let file = std::fs::File::options().write(true).open(f).unwrap();
        file.set_modified(old).unwrap();
    }
    // Only files unchanged for a while are kept: let every ctime settle.
    std::thread::sleep(Duration::from_millis(2500));
    let script = r#"cd $1; b=$2
./p-$b; ./p-$b; cat p-$b.new >p-$b; ./p-$b
./q-$b; ./q-$b; touch -r q-$b ref-$b; cat q-$b.new >q-$b; touch -r ref-$b q-$b; ./q-$b
./m-$b; ./m-$b; cat i-$b.new >i-$b; ./m-$b
./s-$b; ./s-$b; cat s-$b.new >s-$b; ./s-$b"#;
    let mut failures = Vec::new();
    for b in backends() {
        let cmd = Cmd::new("/bin/sh")
            .args(["-c", script, "sh"])
            .arg(dir.path())
            .arg(b)
            .env("LXRUN_LOG", "exec_cache=debug");
        let lx = run_lxrun(b, &cmd);
        let want = format!("one\none\ntwo\none\none\ntwo\nuno\nuno\ndos\nun ./s-{b}\nun ./s-{b}\nde ./s-{b}\n");
        if lx.stdout_str() != want || lx.code != Some(0) {
            failures.push(format!("=== [backend {b}] the old content ran\n{lx}"));
        } else if !lx.stderr_str().contains("read before, unchanged") {
            failures.push(format!(
                "=== [backend {b}] nothing came from the exec cache (test assumption broken)\n{lx}"
            ));
        }
    }
    assert_no_failures(&failures);
}
