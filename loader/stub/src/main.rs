//! lxrun's loader stub: a tiny static program that lxrun execs in place of the guest's program.
//!
//! It starts on the stack the kernel built for it (already holding the guest's argv and envp
//! strings, since lxrun execs it with them), fetches its load plan from the supervisor with a
//! private syscall, maps the program and its interpreter, lays the guest's initial stack out
//! just below the kernel's and jumps to the entry point. It never returns; on failure it says
//! why on stderr and, once it has its plan, dies of SIGSEGV, as the kernel kills a process whose
//! load fails past exec's point of no return (without a plan it exits 127).

#![no_std]
#![no_main]

#[path = "../../src/abi.rs"]
#[allow(dead_code)]
mod abi;
#[path = "../../src/stack.rs"]
#[allow(dead_code)]
mod stack;

mod altstack;
mod fast;
mod frame;

use abi::{Object, PlanView, FLAG_EXEC_STACK, FLAG_FAST_PATH, PLAN_MAX, SYS_LXRUN_PLAN};
use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicBool, Ordering};

const PAGE: u64 = 4096;
const STUB_STACK: usize = 32 * 1024;
const MAX_AUXV: usize = 64;

#[repr(C, align(16))]
struct Aligned<const N: usize>([u8; N]);

static mut STACK: Aligned<STUB_STACK> = Aligned([0; STUB_STACK]);
static mut PLAN: Aligned<PLAN_MAX> = Aligned([0; PLAN_MAX]);

// Entry: keep the kernel's stack untouched below its argc (the guest's stack goes there) and
// run on our own small stack instead.
global_asm!(
    ".globl _start",
    "_start:",
    "mov rdi, rsp",
    "lea rsp, [rip + {stack}]",
    "add rsp, {size}",
    "xor ebp, ebp",
    "call {main}",
    "ud2",
    stack = sym STACK,
    size = const STUB_STACK,
    main = sym stub_main,
);

// The last step runs from a copy of this code in a page of its own, so the stub's pages can be
// unmapped first: then the process's executable can be switched to the guest's program
// (PR_SET_MM_EXE_FILE refuses while the old one is mapped). Position independent.
// In: rdi, rsi = the stub's pages; rdx = the program's fd (or -1); rcx = stack; r8 = entry;
// r9 = nonzero to announce the jump (SYS_LXRUN_ENTRY: a guest tracer traces the process, and
// lxrun sets the registers to the program's first instruction itself).
global_asm!(
    ".globl lxrun_trampoline",
    ".globl lxrun_trampoline_end",
    "lxrun_trampoline:",
    "mov r12, rdx",
    "mov r13, rcx",
    "mov r14, r8",
    "mov eax, 11",
    "syscall",
    "test r12, r12",
    "js 2f",
    "mov edi, 35",
    "mov esi, 13",
    "mov rdx, r12",
    "xor r10d, r10d",
    "xor r8d, r8d",
    "mov eax, 157",
    "syscall",
    "mov rdi, r12",
    "mov eax, 3",
    "syscall",
    "2:",
    "test r9, r9",
    "jz 3f",
    "mov rdi, r14",
    "mov rsi, r13",
    "mov eax, {entry_nr}",
    "syscall",
    "3:",
    "mov rsp, r13",
    "mov r15, r14",
    "xor eax, eax", "xor ebx, ebx", "xor ecx, ecx", "xor edx, edx",
    "xor esi, esi", "xor edi, edi", "xor ebp, ebp",
    "xor r8d, r8d", "xor r9d, r9d", "xor r10d, r10d", "xor r11d, r11d",
    "xor r12d, r12d", "xor r13d, r13d", "xor r14d, r14d",
    "jmp r15",
    "lxrun_trampoline_end:",
    entry_nr = const abi::SYS_LXRUN_ENTRY,
);

extern "C" {
    static lxrun_trampoline: u8;
    static lxrun_trampoline_end: u8;
    /// End of the stub's image (linker-defined).
    static _end: u8;
}

/// Where the linker puts the stub (build.rs: --image-base).
const STUB_BASE: u64 = 0x7ff0_0000_0000;

mod sys {
    pub const OPENAT: u64 = 257;
    pub const CLOSE: u64 = 3;
    pub const MMAP: u64 = 9;
    pub const MPROTECT: u64 = 10;
    pub const MUNMAP: u64 = 11;
    pub const WRITE: u64 = 1;
    pub const READ: u64 = 0;
    pub const BRK: u64 = 12;
    pub const PRCTL: u64 = 157;
    pub const EXIT_GROUP: u64 = 231;

    /// # Safety
    /// A raw system call: the caller vouches for the arguments.
    pub unsafe fn call(n: u64, a: [u64; 6]) -> i64 {
        let ret: i64;
        core::arch::asm!(
            "syscall",
            inlateout("rax") n as i64 => ret,
            in("rdi") a[0], in("rsi") a[1], in("rdx") a[2],
            in("r10") a[3], in("r8") a[4], in("r9") a[5],
            lateout("rcx") _, lateout("r11") _,
            options(nostack)
        );
        ret
    }
}

fn syscall(n: u64, a: [u64; 6]) -> i64 {
    // SAFETY: every call site passes arguments valid for that syscall.
    unsafe { sys::call(n, a) }
}

fn write_err(bytes: &[u8]) {
    syscall(sys::WRITE, [2, bytes.as_ptr() as u64, bytes.len() as u64, 0, 0, 0]);
}

/// Set once the plan is in: from then on the stub is the kernel's exec past its point of no
/// return, where a failed load kills the process with SIGSEGV.
static LOADING: AtomicBool = AtomicBool::new(false);

/// Dies of SIGSEGV as the kernel's forced one kills: a fault, delivered even where the signal
/// is blocked or ignored.
fn fault() -> ! {
    // SAFETY: reads address 0, never mapped here; the process dies of the fault.
    unsafe { asm!("mov rax, qword ptr [0]", "ud2", options(noreturn, nostack)) }
}

/// Prints `lxrun: loader: WHAT: -ERRNO`, then exits 127 (no plan) or dies of SIGSEGV (a
/// failed load, as in the kernel).
fn die(what: &[u8], err: i64) -> ! {
    say(what, err);
    if LOADING.load(Ordering::Relaxed) {
        fault();
    }
    exit_127()
}

/// For what fails only in lxrun (an object it cannot reopen): says why and exits 127.
fn give_up(what: &[u8], err: i64) -> ! {
    say(what, err);
    exit_127()
}

fn exit_127() -> ! {
    loop {
        syscall(sys::EXIT_GROUP, [127, 0, 0, 0, 0, 0]);
    }
}

fn say(what: &[u8], err: i64) {
    write_err(b"lxrun: loader: ");
    write_err(what);
    if err != 0 {
        // Most significant digit first, without indexing (which would pull in core::fmt).
        let v = err.unsigned_abs();
        let mut div = 1;
        while v / div >= 10 {
            div *= 10;
        }
        write_err(b": errno ");
        while div > 0 {
            write_err(&[b'0' + (v / div % 10) as u8]);
            div /= 10;
        }
    }
    write_err(b"\n");
}

fn check(ret: i64, what: &[u8]) -> u64 {
    if ret < 0 && ret > -4096 {
        die(what, -ret);
    }
    ret as u64
}

const PROT_READ: u64 = 1;
const PROT_WRITE: u64 = 2;
const PROT_EXEC: u64 = 4;
const PROT_GROWSDOWN: u64 = 0x0100_0000;
const MAP_PRIVATE: u64 = 0x02;
const MAP_FIXED: u64 = 0x10;
const MAP_ANONYMOUS: u64 = 0x20;
const MAP_FIXED_NOREPLACE: u64 = 0x10_0000;

fn mmap(addr: u64, len: u64, prot: u64, flags: u64, fd: u64, off: u64) -> i64 {
    syscall(sys::MMAP, [addr, len, prot, flags, fd, off])
}

/// Where Linux puts a PIE program when address randomization is off (ELF_ET_DYN_BASE).
const ELF_ET_DYN_BASE: u64 = 0x5555_5555_4000;

/// Where the kernel puts the program: a PIE with an interpreter at ELF_ET_DYN_BASE plus up to
/// 2^28 random pages (arch_mmap_rnd), aligned as it asks; anything else ET_DYN (static-pie,
/// ld.so run as a program) where mmap puts it (0).
fn pie_base(main: &Object, has_interp: bool) -> u64 {
    if main.fixed != 0 || !has_interp {
        return 0;
    }
    const GETRANDOM: u64 = 318;
    const GRND_NONBLOCK: u64 = 1;
    let mut rnd = 0u64;
    if !no_randomize() {
        // Fresh bytes, not AT_RANDOM's: those become the guest's (its stack protector's).
        syscall(GETRANDOM, [core::ptr::addr_of_mut!(rnd) as u64, 8, GRND_NONBLOCK, 0, 0, 0]);
    }
    (ELF_ET_DYN_BASE + ((rnd & ((1 << 28) - 1)) << 12)) & !(main.align - 1)
}

/// Whether the process asked for no address randomization (setarch -R, gdb).
fn no_randomize() -> bool {
    const PERSONALITY: u64 = 135;
    const ADDR_NO_RANDOMIZE: i64 = 0x0040000;
    let p = syscall(PERSONALITY, [0xffff_ffff, 0, 0, 0, 0, 0]);
    p >= 0 && p & ADDR_NO_RANDOMIZE != 0
}

/// Maps one object as its plan says; returns its load bias and, if `keep` (the program, not
/// its interpreter), its still open fd.
/// `hint`: where to put an ET_DYN object (0: anywhere the kernel picks).
fn load(view: &PlanView<'_>, obj: &Object, hint: u64, keep: bool) -> (u64, Option<u64>) {
    let path = match view.string(obj.path) {
        Some(p) => p,
        None => die(b"bad plan", 0),
    };
    const AT_FDCWD: i64 = -100;
    // Non-blocking: should the name now be a FIFO, the open must not wait (its mmap fails).
    const O_RDONLY_CLOEXEC_NONBLOCK: u64 = 0o2000000 | 0o4000;
    let fd = match obj.fd {
        0 => match syscall(sys::OPENAT, [AT_FDCWD as u64, path.as_ptr() as u64, O_RDONLY_CLOEXEC_NONBLOCK, 0, 0, 0]) {
            fd if fd >= 0 => fd as u64,
            e => give_up(b"cannot open the program", -e),
        },
        n => u64::from(n - 1),
    };

    let span = obj.span_end - obj.span_start;
    let bias = if obj.fixed != 0 && !keep {
        // The kernel maps an ET_EXEC interpreter's segments MAP_FIXED, over whatever is there
        // (the program's own pages too), and nothing in between: no reservation.
        0
    } else if obj.fixed != 0 {
        let at = check(mmap(obj.span_start, span, 0, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, u64::MAX, 0), b"fixed address range is taken");
        if at != obj.span_start {
            die(b"fixed address range is taken", 0);
        }
        0
    } else {
        // Reserve span + alignment slack anywhere (the kernel randomizes it), then trim.
        let slack = obj.align - PAGE;
        let at = check(mmap(hint, span + slack, 0, MAP_PRIVATE | MAP_ANONYMOUS, u64::MAX, 0), b"cannot reserve address space");
        let aligned = (at + obj.align - 1) & !(obj.align - 1);
        if aligned > at {
            syscall(sys::MUNMAP, [at, aligned - at, 0, 0, 0, 0]);
        }
        let tail = at + span + slack - (aligned + span);
        if tail > 0 {
            syscall(sys::MUNMAP, [aligned + span, tail, 0, 0, 0, 0]);
        }
        aligned - obj.span_start
    };
    // The reservation only chose the place: the kernel leaves the holes between segments
    // unmapped, so it goes before they are mapped (nothing else maps meanwhile).
    if obj.fixed == 0 || keep {
        syscall(sys::MUNMAP, [bias + obj.span_start, span, 0, 0, 0, 0]);
    }

    for i in 0..obj.nsegs {
        let seg = match view.segment(obj, i) {
            Some(s) => s,
            None => die(b"bad plan", 0),
        };
        let prot = u64::from(seg.prot);
        let must_clear = seg.zero_end > seg.zero_start;
        if seg.map_len > 0 {
            // The partial .bss page must be writable while we clear it.
            let map_prot = if must_clear { prot | PROT_WRITE } else { prot };
            check(mmap(bias + seg.map_start, seg.map_len, map_prot, MAP_PRIVATE | MAP_FIXED, fd, seg.file_off), b"cannot map a segment");
        }
        if must_clear {
            let start = bias + seg.zero_start;
            // SAFETY: [start, zero_end) lies in the writable page mapped just above.
            unsafe { core::ptr::write_bytes(start as *mut u8, 0, (seg.zero_end - seg.zero_start) as usize) };
            if prot & PROT_WRITE == 0 {
                check(syscall(sys::MPROTECT, [start & !(PAGE - 1), PAGE, prot, 0, 0, 0]), b"cannot protect a segment");
            }
        }
        if seg.anon_end > seg.anon_start {
            check(mmap(bias + seg.anon_start, seg.anon_end - seg.anon_start, u64::from(seg.anon_prot), MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, u64::MAX, 0), b"cannot map .bss");
        }
    }
    if keep {
        return (bias, Some(fd));
    }
    syscall(sys::CLOSE, [fd, 0, 0, 0, 0, 0]);
    (bias, None)
}

/// PR_SET_MM_MAP with the kernel's own values (`mm`, from the plan or else /proc/self/stat;
/// brk(0)) and a new auxv: unlike PR_SET_MM_AUXV it needs no capability. Best effort: nothing
/// changes on failure.
fn set_auxv_by_map(auxv: u64, auxv_len: u64, mm: Option<[u64; 10]>) {
    const PR_SET_MM: u64 = 35;
    const PR_SET_MM_MAP: u64 = 14;
    let Some(mm) = mm.or_else(own_mm) else { return };
    let brk = syscall(sys::BRK, [0; 6]) as u64;
    // struct prctl_mm_map: start_code, end_code, start_data, end_data, start_brk, brk,
    // start_stack, arg_start, arg_end, env_start, env_end, auxv, auxv_size | exe_fd << 32.
    let map: [u64; 13] = [
        mm[0], mm[1], mm[2], mm[3], mm[4], brk, mm[5], mm[6], mm[7], mm[8], mm[9], auxv,
        (auxv_len & 0xffff_ffff) | (u64::from(u32::MAX) << 32),
    ];
    syscall(sys::PRCTL, [PR_SET_MM, PR_SET_MM_MAP, map.as_ptr() as u64, 104, 0, 0]);
}

/// The process's memory layout fields (`abi::MM_FIELDS`), from /proc/self/stat.
fn own_mm() -> Option<[u64; 10]> {
    const O_RDONLY_CLOEXEC: u64 = 0o2000000;
    const AT_FDCWD: u64 = -100i64 as u64;
    let fd = syscall(sys::OPENAT, [AT_FDCWD, b"/proc/self/stat\0".as_ptr() as u64, O_RDONLY_CLOEXEC, 0, 0, 0]);
    if fd < 0 {
        return None;
    }
    let mut buf = [0u8; 1024];
    let len = syscall(sys::READ, [fd as u64, buf.as_mut_ptr() as u64, buf.len() as u64, 0, 0, 0]);
    syscall(sys::CLOSE, [fd as u64, 0, 0, 0, 0, 0]);
    abi::mm_of_stat(buf.get(..len.max(0) as usize)?)
}

/// Counts the entries of a NULL-terminated pointer array.
///
/// # Safety
/// `p` must point at a NULL-terminated array of words.
unsafe fn count(p: *const u64) -> usize {
    let mut n = 0;
    while *p.add(n) != 0 {
        n += 1;
    }
    n
}

#[no_mangle]
unsafe extern "C" fn stub_main(sp: *const u64) -> ! {
    // The kernel's stack: argc, argv[], NULL, envp[], NULL, auxv pairs, AT_NULL.
    let argc = *sp as usize;
    let argv = core::slice::from_raw_parts(sp.add(1), argc);
    let envp_at = sp.add(2 + argc);
    let envc = count(envp_at);
    let envp = core::slice::from_raw_parts(envp_at, envc);
    let auxv_at = envp_at.add(envc + 1);

    let plan_buf = &mut *core::ptr::addr_of_mut!(PLAN);
    let len = check(syscall(SYS_LXRUN_PLAN, [plan_buf.0.as_mut_ptr() as u64, PLAN_MAX as u64, 0, 0, 0, 0]), b"no load plan from the supervisor (run programs with lxrun)");
    let view = match plan_buf.0.get(..len as usize).and_then(PlanView::parse) {
        Some(v) => v,
        None => die(b"malformed load plan", 0),
    };
    let header = *view.header();
    LOADING.store(true, Ordering::Relaxed);
    if header.flags & abi::FLAG_FATAL != 0 {
        fault();
    }

    let main = match view.objects().first() {
        Some(o) => *o,
        None => die(b"bad plan", 0),
    };
    // With randomization off, a PIE goes where Linux would put it; otherwise anywhere.
    let (main_bias, main_fd) = load(&view, &main, pie_base(&main, view.objects().len() == 2), true);
    let (jump, base) = match view.objects().get(1) {
        Some(interp) => {
            let (b, _) = load(&view, interp, 0, false);
            (interp.entry + b, b)
        }
        None => (main.entry + main_bias, 0),
    };

    const PR_SET_NAME: u64 = 15;
    syscall(sys::PRCTL, [PR_SET_NAME, header.comm.as_ptr() as u64, 0, 0, 0, 0]);
    if header.flags & FLAG_EXEC_STACK != 0 {
        let page = sp as u64 & !(PAGE - 1);
        check(syscall(sys::MPROTECT, [page, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC | PROT_GROWSDOWN, 0, 0, 0]), b"cannot make the stack executable");
    }

    // The kernel's auxv, with what describes the program replaced.
    // Room for the kernel's entries plus the five that describe the program.
    let mut auxv = [(0u64, 0u64); MAX_AUXV + 5];
    let mut n = 0;
    let mut random = [0u8; 16];
    let mut i = 0;
    loop {
        let (k, v) = (*auxv_at.add(2 * i), *auxv_at.add(2 * i + 1));
        i += 1;
        match k {
            stack::AT_NULL => break,
            stack::AT_RANDOM => random = *(v as *const [u8; 16]),
            stack::AT_PHDR | stack::AT_PHENT | stack::AT_PHNUM | stack::AT_BASE | stack::AT_ENTRY | stack::AT_EXECFN | stack::AT_EXECFD => {}
            stack::AT_UID | stack::AT_EUID | stack::AT_GID | stack::AT_EGID | stack::AT_SECURE if header.flags & abi::FLAG_IDS != 0 => {
                let id = match k {
                    stack::AT_UID => header.ids[0],
                    stack::AT_EUID => header.ids[1],
                    stack::AT_GID => header.ids[2],
                    stack::AT_EGID => header.ids[3],
                    _ => header.ids[4],
                };
                if let Some(slot) = auxv.get_mut(n).filter(|_| n < MAX_AUXV) {
                    *slot = (k, u64::from(id));
                    n += 1;
                }
            }
            _ => {
                if let Some(slot) = auxv.get_mut(n).filter(|_| n < MAX_AUXV) {
                    *slot = (k, v);
                    n += 1;
                }
            }
        }
    }
    for (k, v) in [
        (stack::AT_PHDR, main.phdr + main_bias),
        (stack::AT_PHENT, u64::from(main.phent)),
        (stack::AT_PHNUM, u64::from(main.phnum)),
        (stack::AT_BASE, base),
        (stack::AT_ENTRY, main.entry + main_bias),
    ] {
        if let Some(slot) = auxv.get_mut(n) {
            *slot = (k, v);
            n += 1;
        }
    }
    let execfn = match view.string(header.execfn).and_then(|s| s.split_last()) {
        Some((_nul, s)) => s,
        None => die(b"bad plan", 0),
    };
    let auxv = match auxv.get(..n) {
        Some(a) => a,
        None => die(b"bad plan", 0),
    };
    let spec = stack::StackSpec { argv, envp, auxv, execfn, random };

    // The guest's stack goes right below the kernel's argc.
    let top = sp as u64;
    let size = spec.size() as u64;
    let mem = core::slice::from_raw_parts_mut((top - size) as *mut u8, size as usize);
    let new_sp = match stack::build(&spec, mem, top) {
        Some(s) => s,
        None => die(b"cannot build the initial stack", 0),
    };

    // What the kernel reports as the process's auxv (/proc/PID/auxv) becomes the guest's, where
    // lxrun may (CAP_SYS_RESOURCE); elsewhere it stays the stub's.
    const PR_SET_MM: u64 = 35;
    const PR_SET_MM_AUXV: u64 = 12;
    let auxv_at = new_sp + 8 * (1 + argc as u64 + 1 + envc as u64 + 1);
    let auxv_len = 16 * (n as u64 + 3);
    let set = syscall(sys::PRCTL, [PR_SET_MM, PR_SET_MM_AUXV, auxv_at, auxv_len, 0, 0]);
    // Without CAP_SYS_RESOURCE, PR_SET_MM_MAP still may (it takes the whole map, the rest as
    // the kernel has it): a debugger reads the auxv for the program's load address, an
    // attaching one of any process (the kernel's layout fields from the plan, or one read of
    // /proc/self/stat).
    if set < 0 {
        set_auxv_by_map(auxv_at, auxv_len, (header.flags & abi::FLAG_MM != 0).then_some(header.mm));
    }

    // Leave through a copy of the trampoline, which unmaps the stub's pages, unless the fast
    // path's handler lives in them: then they stay, sealed.
    let code = core::ptr::addr_of!(lxrun_trampoline) as u64;
    let code_len = core::ptr::addr_of!(lxrun_trampoline_end) as u64 - code;
    let stub_end = (core::ptr::addr_of!(_end) as u64 + PAGE - 1) & !(PAGE - 1);
    let mut unmap_len = stub_end - STUB_BASE;
    if header.flags & FLAG_FAST_PATH != 0 {
        let names = match view.string(header.mount_names).and_then(|s| s.split_last()) {
            Some((_nul, s)) => s,
            None => die(b"bad plan", 0),
        };
        let root = (i64::from(header.root_fd) - 1, header.root_dev, header.root_ino);
        let path_opens_only = header.flags & abi::FLAG_PATH_OPENS_ONLY != 0;
        if !fast::install(names, header.proc_dev, root, path_opens_only, STUB_BASE, stub_end) {
            die(b"cannot install the fast path", 0);
        }
        unmap_len = 0;
    }
    // With the stub's pages kept, PR_SET_MM_EXE_FILE cannot succeed (EBUSY while the old
    // executable is mapped): the trampoline is given no fd to try with, one round trip to lxrun
    // fewer per exec.
    let main_fd = match main_fd {
        Some(fd) if unmap_len == 0 => {
            syscall(sys::CLOSE, [fd, 0, 0, 0, 0, 0]);
            None
        }
        other => other,
    };
    let mut page = mmap(abi::TRAMPOLINE_AT, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, u64::MAX, 0);
    if page as u64 != abi::TRAMPOLINE_AT {
        page = mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, u64::MAX, 0);
    }
    let page = check(page, b"cannot map the trampoline");
    core::ptr::copy_nonoverlapping(code as *const u8, page as *mut u8, code_len as usize);
    check(syscall(sys::MPROTECT, [page, PAGE, PROT_READ | PROT_EXEC, 0, 0, 0]), b"cannot protect the trampoline");
    asm!(
        "jmp {t}",
        t = in(reg) page,
        in("rdi") STUB_BASE,
        in("rsi") unmap_len,
        in("rdx") main_fd.unwrap_or(u64::MAX),
        in("rcx") new_sp,
        in("r8") jump,
        in("r9") u64::from(header.flags & abi::FLAG_ANNOUNCE_ENTRY != 0),
        options(noreturn)
    );
}

// No libc: the compiler's calls to these land here. `rep` string instructions keep the
// compiler from turning the bodies back into calls to themselves.
#[no_mangle]
unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    asm!("rep movsb", inout("rdi") dst => _, inout("rsi") src => _, inout("rcx") n => _, options(nostack, preserves_flags));
    dst
}

#[no_mangle]
unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dst as usize) <= (src as usize) || (dst as usize) >= (src as usize + n) {
        memcpy(dst, src, n)
    } else {
        asm!("std", "rep movsb", "cld",
            inout("rdi") dst.add(n - 1) => _, inout("rsi") src.add(n - 1) => _, inout("rcx") n => _,
            options(nostack));
        dst
    }
}

#[no_mangle]
unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    asm!("rep stosb", inout("rdi") dst => _, inout("rcx") n => _, in("al") c as u8, options(nostack, preserves_flags));
    dst
}

#[no_mangle]
unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut i = 0;
    while i < n {
        let (x, y) = (core::ptr::read_volatile(a.add(i)), core::ptr::read_volatile(b.add(i)));
        if x != y {
            return i32::from(x) - i32::from(y);
        }
        i += 1;
    }
    0
}

#[no_mangle]
unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    memcmp(a, b, n)
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    die(b"internal error", 0)
}

// The prebuilt `core` refers to the unwinder's personality routine even with panic=abort;
// nothing here ever unwinds, so it is never called.
#[no_mangle]
extern "C" fn rust_eh_personality() {}
