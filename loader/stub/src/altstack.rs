//! The SIGSYS handler's own signal stack: every guest thread gets an alternate stack of lxrun's,
//! and the handler (SA_ONSTACK) runs there, never on the thread's stack, where its frame would
//! sit below the guest's stack pointer for the guest (another thread of it) to overwrite
//! before sigreturn reads it back.
//!
//! The stub gives one to the first thread when it starts the program (exec dropped the old
//! one). The kernel starts a thread that shares the memory (clone with CLONE_VM, without
//! CLONE_VFORK) with none, so the filter traps those clones: the handler makes the thread
//! itself, which begins with an rt_sigreturn from a copy of the caller's frame placed on the
//! thread's new stack, restoring the guest's registers and, from `uc_stack`, the alternate
//! stack; no signal ever reaches it before it has one. A vfork child shares its parent's.
//!
//! The guest's view (sigaltstack(2), trapped) is its own stack or none: lxrun's shows only to
//! code running on it, a guest handler marked SA_ONSTACK while the guest has no stack of its
//! own, as the kernel would show it. A guest that sets its own (the Go runtime, Rust's std)
//! gets it, and lxrun's goes: the handler moves its frame to where the kernel would put a
//! signal's on the new stack, unmaps lxrun's and returns from there. Giving its own up brings
//! one of lxrun's back. A thread that exits (trapped `exit`) unmaps lxrun's on the way out.
//!
//! An lxrun stack is known by its size and a header just above it that names its mapping and
//! the thread that owns it (the only one that may unmap it: a vfork child runs on its parent's,
//! a fork child on its copy of its parent thread's, which then stays until the child exits).
//!
//! Limits: a guest handler marked SA_ONSTACK runs on lxrun's stack while the guest has none of
//! its own (the kernel takes whatever alternate stack there is), with 64 KB to use; with a user
//! shadow stack (CET) a trapped clone answers ENOSYS (the child's rt_sigreturn would find no
//! token on its new shadow stack).

use crate::frame::{self, Frame, Stack, NO_STACK, SS_AUTODISARM, SS_DISABLE, SS_ONSTACK};
use core::arch::asm;
use core::ptr::{addr_of, addr_of_mut};

const NR_MMAP: u64 = 9;
const NR_MPROTECT: u64 = 10;
const NR_MUNMAP: u64 = 11;
const NR_RT_SIGPROCMASK: u64 = 14;
const NR_RT_SIGRETURN: u64 = 15;
const NR_CLONE: u64 = 56;
const NR_CLONE3: u64 = 435;
const NR_RT_SIGACTION: u64 = 13;
const SIGSYS: u64 = 31;
const CLONE_VM: u64 = 0x100;
const CLONE_VFORK: u64 = 0x4000;
const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;
const NR_EXIT: u64 = 60;
const NR_SIGALTSTACK: u64 = 131;
const NR_ARCH_PRCTL: u64 = 158;
const NR_GETTID: u64 = 186;

const EFAULT: i64 = 14;
const ENOMEM: i64 = 12;
const EINVAL: i64 = 22;
const EPERM: i64 = 1;
const ENOSYS: i64 = 38;
const SIG_SETMASK: u64 = 2;
const MINSIGSTKSZ: u64 = 2048;

const PAGE: u64 = 4096;
/// The mapping: a guard page, the stack, the header. The stack holds the kernel's frame (3.4 KB
/// with AVX-512's xsave area, about 11 KB with AMX), the handler's own few hundred bytes, and
/// the guest's handlers marked SA_ONSTACK while the guest has no stack of its own (they run
/// where the kernel finds an alternate stack): room to spare for them.
const MAP_LEN: u64 = 17 * PAGE;
const HEADER_LEN: u64 = 64;
/// The stack's size as the kernel knows it (an unusual one: the first test of "is it lxrun's").
pub const SIZE: u64 = MAP_LEN - PAGE - HEADER_LEN;
const MAGIC: u64 = u64::from_le_bytes(*b"LXALTSTK");

/// Just above the stack (no frame reaches it).
#[repr(C)]
struct Header {
    /// MAGIC xor `base`.
    magic: u64,
    base: u64,
    /// The thread that owns it (its tid, written by the thread itself).
    owner: u32,
    pad: u32,
}

fn call(n: u64, a: [u64; 6]) -> i64 {
    // SAFETY: every call site passes arguments valid for that syscall.
    unsafe { crate::sys::call(n, a) }
}

fn gettid() -> u32 {
    call(NR_GETTID, [0; 6]) as u32
}

fn header(st: &Stack) -> *mut Header {
    st.top() as *mut Header
}

/// Maps a new stack for thread `owner` (0: the thread writes itself in, see `spawn`).
pub fn map(owner: u32) -> Option<Stack> {
    const PROT_NONE: u64 = 0;
    const PROT_RW: u64 = 3;
    const MAP_PRIVATE_ANON_STACK: u64 = 0x02 | 0x20 | 0x2_0000;
    let base = call(NR_MMAP, [0, MAP_LEN, PROT_RW, MAP_PRIVATE_ANON_STACK, u64::MAX, 0]);
    if base < 0 {
        return None;
    }
    let base = base as u64;
    if call(NR_MPROTECT, [base, PAGE, PROT_NONE, 0, 0, 0]) < 0 {
        call(NR_MUNMAP, [base, MAP_LEN, 0, 0, 0, 0]);
        return None;
    }
    let st = Stack {
        sp: base + PAGE,
        flags: 0,
        pad: 0,
        size: SIZE,
    };
    // SAFETY: the header's bytes are the mapping's last, just mapped.
    unsafe {
        header(&st).write(Header {
            magic: MAGIC ^ base,
            base,
            owner,
            pad: 0,
        })
    };
    Some(st)
}

/// Installs a stack for the calling thread (outside a handler); false if the kernel refuses.
pub fn install_here() -> bool {
    match map(gettid()) {
        Some(st) => call(NR_SIGALTSTACK, [addr_of!(st) as u64, 0, 0, 0, 0, 0]) == 0,
        None => false,
    }
}

/// Whether the kernel can read (false: EFAULT) 24 bytes at `at`: sigaltstack reads a new stack
/// before it refuses to change the one the handler runs on (EPERM). Where the handler does not
/// run on one, it does change it, which is harmless: sigreturn restores the frame's `uc_stack`.
fn readable(at: u64) -> bool {
    call(NR_SIGALTSTACK, [at, 0, 0, 0, 0, 0]) != -EFAULT
}

/// Whether the kernel can write 24 bytes at `at` (it writes the current stack there).
fn writable(at: u64) -> bool {
    call(NR_SIGALTSTACK, [0, at, 0, 0, 0, 0]) != -EFAULT
}

/// Whether every page of `[lo, hi)` (at least 24 bytes) takes a write.
fn range_writable(lo: u64, hi: u64) -> bool {
    let mut at = lo;
    loop {
        let probe = at.min(hi - 24);
        if !writable(probe) {
            return false;
        }
        if probe == hi - 24 {
            return true;
        }
        at = (at & !(PAGE - 1)) + PAGE;
    }
}

/// The header of `st` if it is one of lxrun's stacks.
fn lxrun_header(st: &Stack) -> Option<*mut Header> {
    if st.size != SIZE || st.sp % PAGE != 0 || !readable(st.top()) {
        return None;
    }
    let h = header(st);
    let base = st.sp - PAGE;
    // SAFETY: readable, just checked.
    let ours = unsafe { (*h).magic == MAGIC ^ base && (*h).base == base };
    ours.then_some(h)
}

/// Whether `st` is lxrun's and this thread's, to unmap.
fn owned_here(st: &Stack) -> bool {
    // SAFETY: a header lxrun_header vouched for.
    lxrun_header(st).is_some_and(|h| unsafe { (*h).owner } == gettid())
}

fn release(st: &Stack) {
    call(NR_MUNMAP, [st.sp - PAGE, MAP_LEN, 0, 0, 0, 0]);
}

/// Blocks every signal: none may arrive between unmapping the stack the handler runs on and
/// leaving it (sigreturn restores the guest's mask; exit does not need one).
fn block_all() {
    let all = u64::MAX;
    call(NR_RT_SIGPROCMASK, [SIG_SETMASK, addr_of!(all) as u64, 0, 8, 0, 0]);
}

/// sigaltstack(ss, oss) for the guest; `uc`: its frame.
///
/// # Safety
/// `uc` is the handler's frame.
pub unsafe fn sigaltstack(ss: u64, oss: u64, uc: *mut u8) -> i64 {
    let cur = frame::stack(uc);
    let sp = frame::greg(uc, frame::REG_RSP);
    let lxruns = lxrun_header(&cur).is_some();
    // lxrun's stack is no stack to the guest, unless it runs on it.
    let seen = if lxruns && !cur.holds(sp) {
        NO_STACK
    } else {
        cur.report(sp)
    };
    let new = if ss == 0 {
        None
    } else if readable(ss) {
        Some(core::ptr::read_unaligned(ss as *const Stack))
    } else {
        return -EFAULT;
    };
    if let Some(new) = &new {
        let err = refusal(&cur, new, sp);
        if err != 0 {
            return err;
        }
    }
    if oss != 0 {
        if !writable(oss) {
            return -EFAULT;
        }
        core::ptr::write_unaligned(oss as *mut Stack, seen);
    }
    let Some(new) = new else {
        return 0;
    };
    let disable = new.flags & !SS_AUTODISARM == SS_DISABLE;
    if disable && lxruns {
        return 0;
    }
    // Giving its own up, the guest gets one of lxrun's back; setting one, it lets lxrun's go.
    let next = if disable {
        map(gettid()).unwrap_or(NO_STACK)
    } else {
        new
    };
    let unmap = !disable && lxruns && owned_here(&cur);
    if switch_on_return(uc, &cur, next, sp, unmap) {
        return 0;
    }
    if disable && next.size != 0 {
        release(&next);
    }
    -EFAULT
}

/// Why the kernel would refuse to make `new` the alternate stack of code at `sp` (0: it would not).
fn refusal(cur: &Stack, new: &Stack, sp: u64) -> i64 {
    let mode = new.flags & !SS_AUTODISARM;
    if cur.holds(sp) {
        -EPERM
    } else if mode != 0 && mode != SS_ONSTACK && mode != SS_DISABLE {
        -EINVAL
    } else if mode != SS_DISABLE && new.size < MINSIGSTKSZ {
        -ENOMEM
    } else {
        0
    }
}

/// Makes `next` the thread's alternate stack from the guest's return on, the call returning 0,
/// and unmaps lxrun's `cur` if `unmap` (the handler runs on it then). rt_sigreturn restores the
/// frame's `uc_stack`, but not while the frame lies on the current alternate stack (the kernel
/// refuses, silently, to change the stack code runs on): then the frame first moves to where
/// the kernel would put a signal's frame with `next` set (or, if it does not fit there, below
/// the guest's stack pointer, where it would with none), and the handler returns from there.
/// False (nothing changed) if it cannot move.
unsafe fn switch_on_return(uc: *mut u8, cur: &Stack, next: Stack, sp: u64, unmap: bool) -> bool {
    frame::set_greg(uc, frame::REG_RAX, 0);
    frame::set_stack(uc, next);
    if !unmap && !cur.holds(uc as u64) {
        return true;
    }
    let f = Frame::of(uc);
    let Some(start) = landing(&f, &next, sp) else {
        frame::set_stack(uc, *cur);
        return false;
    };
    let moved = f.copy_to(start) as u64;
    if unmap {
        block_all();
        unmap_and_sigreturn(cur.sp - PAGE, moved);
    }
    sigreturn_at(moved);
}

/// Where frame `f` can go for a guest at `sp` whose alternate stack becomes `next`.
fn landing(f: &Frame, next: &Stack, sp: u64) -> Option<u64> {
    let below_sp = sp - frame::RED_ZONE;
    let fits = |start: u64| range_writable(start, start + f.len());
    let on_next = if next.holds(sp) { below_sp } else { next.top() };
    Some(f.copy_start(on_next))
        .filter(|&s| next.size != 0 && s >= next.sp && fits(s))
        .or_else(|| Some(f.copy_start(below_sp)).filter(|&s| fits(s)))
}

/// rt_sigreturn from the frame at `uc`.
unsafe fn sigreturn_at(uc: u64) -> ! {
    asm!(
        "mov rsp, r12",
        "mov eax, {sigreturn}",
        "syscall",
        "ud2",
        sigreturn = const NR_RT_SIGRETURN,
        in("r12") uc,
        options(noreturn)
    );
}

/// munmap(base, MAP_LEN), then rt_sigreturn from the frame at `uc`, without touching the stack.
unsafe fn unmap_and_sigreturn(base: u64, uc: u64) -> ! {
    asm!(
        "syscall",
        "mov rsp, r12",
        "mov eax, {sigreturn}",
        "syscall",
        "ud2",
        sigreturn = const NR_RT_SIGRETURN,
        in("rax") NR_MUNMAP,
        in("rdi") base,
        in("rsi") MAP_LEN,
        in("r12") uc,
        options(noreturn)
    );
}

/// exit(code) for the guest's thread: lxrun's stack, if this thread's, is unmapped first.
///
/// # Safety
/// `uc` is the handler's frame.
pub unsafe fn exit(code: u64, uc: *mut u8) -> ! {
    let cur = frame::stack(uc);
    if owned_here(&cur) {
        block_all();
        unmap_and_exit(cur.sp - PAGE, code);
    }
    loop {
        call(NR_EXIT, [code, 0, 0, 0, 0, 0]);
    }
}

/// munmap(base, MAP_LEN), then exit(code), without touching the stack.
unsafe fn unmap_and_exit(base: u64, code: u64) -> ! {
    asm!(
        "syscall",
        "mov rdi, r12",
        "mov eax, {exit}",
        "syscall",
        "ud2",
        exit = const NR_EXIT,
        in("rax") NR_MUNMAP,
        in("rdi") base,
        in("rsi") MAP_LEN,
        in("r12") code,
        options(noreturn)
    );
}

/// clone(flags, stack, ptid, ctid, tls) of a thread sharing the memory (the filter traps no
/// other): the child gets a stack of lxrun's and starts with rt_sigreturn from a copy of the
/// guest's frame on it, which says: clone returned 0, on the stack the guest chose, with the
/// guest's mask, registers and FPU state, and this alternate stack.
///
/// # Safety
/// `uc` is the handler's frame.
pub unsafe fn clone(a: [u64; 6], uc: *mut u8) -> i64 {
    let (st, child) = match child_start(uc, (a[1] != 0).then_some(a[1])) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let r = with_all_blocked(|| spawn(a, child as u64, addr_of_mut!((*header(&st)).owner)));
    if r < 0 {
        release(&st);
    }
    r
}

/// A new stack of lxrun's with a copy of the guest's frame `uc` on it, saying: the call
/// returned 0, on stack `sp` (None: the caller's), with this stack as the alternate one. The
/// child starts with rt_sigreturn from it. -ENOSYS with a user shadow stack (CET: the child's
/// rt_sigreturn would find no token on its new one), -ENOMEM without memory.
unsafe fn child_start(uc: *mut u8, sp: Option<u64>) -> Result<(Stack, *mut u8), i64> {
    if shadow_stack() {
        return Err(-ENOSYS);
    }
    let st = map(0).ok_or(-ENOMEM)?;
    let f = Frame::of(uc);
    let child = f.copy_to(f.copy_start(st.top()));
    frame::set_greg(child, frame::REG_RAX, 0);
    if let Some(sp) = sp {
        frame::set_greg(child, frame::REG_RSP, sp);
    }
    frame::set_stack(child, st);
    Ok((st, child))
}

/// Runs `f` with every signal blocked: a child inherits this mask until its sigreturn, so
/// nothing may land on the stack it borrows.
fn with_all_blocked(f: impl FnOnce() -> i64) -> i64 {
    let (all, mut old) = (u64::MAX, 0u64);
    call(
        NR_RT_SIGPROCMASK,
        [SIG_SETMASK, addr_of!(all) as u64, addr_of_mut!(old) as u64, 8, 0, 0],
    );
    let r = f();
    call(NR_RT_SIGPROCMASK, [SIG_SETMASK, addr_of!(old) as u64, 0, 8, 0, 0]);
    r
}

/// clone3 with arguments `args` (the handler's copy, `size` bytes of it): a copy of the process
/// on a copy of this stack (no CLONE_VM, no new stack) returns here as fork would, its SIGSYS
/// handler set again (`action`) if CLONE_CLEAR_SIGHAND cleared it (returning 0 in the child).
/// Any other child (a thread, a vfork child, or one on a stack of its own) starts as `clone`'s
/// does, from a copy of the guest's frame on a stack of lxrun's; that stack is the child's to
/// keep only where it shares the memory and outlives the call (a thread): a vfork child is done
/// with it when the call returns, and a process copy has its own copy.
///
/// # Safety
/// `uc` is the handler's frame; `action` points at the handler's sigaction.
pub unsafe fn clone3(args: &mut [u64; 11], size: u64, action: u64, uc: *mut u8) -> i64 {
    let flags = args[0];
    let clear = flags & CLONE_CLEAR_SIGHAND != 0;
    let (stack, stack_size) = (args[5], args[6]);
    // The kernel's EINVAL for a stack without a size (or a size without a stack), before any
    // stack of lxrun's is put in.
    if (stack == 0) != (stack_size == 0) {
        return -EINVAL;
    }
    if stack == 0 && flags & CLONE_VM == 0 {
        let r = call(NR_CLONE3, [args.as_ptr() as u64, size, 0, 0, 0, 0]);
        if r == 0 && clear {
            call(NR_RT_SIGACTION, [SIGSYS, action, 0, 8, 0, 0]);
        }
        return r;
    }
    let (st, child) = match child_start(uc, (stack != 0).then(|| stack.wrapping_add(stack_size))) {
        Ok(c) => c,
        Err(e) => return e,
    };
    // The kernel starts the child with its stack pointer at stack + stack_size: the frame.
    args[5] = child as u64 - 16;
    args[6] = 16;
    let owner = addr_of_mut!((*header(&st)).owner);
    let r = with_all_blocked(|| spawn3(args.as_ptr() as u64, size, owner, if clear { action } else { 0 }));
    let keeps = flags & CLONE_VM != 0 && flags & CLONE_VFORK == 0;
    if r < 0 || !keeps {
        release(&st);
    }
    r
}

/// The clone3 call itself: as `spawn`, the child also setting the SIGSYS handler again first
/// when `action` is not 0.
unsafe fn spawn3(args: u64, size: u64, owner: *mut u32, action: u64) -> i64 {
    let r: i64;
    asm!(
        "syscall",
        "test rax, rax",
        "jnz 2f",
        "mov eax, {gettid}",
        "syscall",
        "mov dword ptr [r12], eax",
        "test r13, r13",
        "jz 3f",
        "mov eax, {sigaction}",
        "mov edi, {sigsys}",
        "mov rsi, r13",
        "xor edx, edx",
        "mov r10d, 8",
        "syscall",
        "3:",
        "mov eax, {sigreturn}",
        "syscall",
        "ud2",
        "2:",
        gettid = const NR_GETTID,
        sigaction = const NR_RT_SIGACTION,
        sigsys = const SIGSYS,
        sigreturn = const NR_RT_SIGRETURN,
        inlateout("rax") NR_CLONE3 as i64 => r,
        inlateout("rdi") args => _,
        inlateout("rsi") size => _,
        in("r12") owner,
        in("r13") action,
        lateout("rdx") _,
        lateout("r10") _,
        lateout("rcx") _,
        lateout("r11") _,
    );
    r
}

/// The clone call itself. The child, on `uc` (its stack pointer), writes its tid into `owner`
/// and returns into the guest through rt_sigreturn; the parent gets clone's result.
unsafe fn spawn(a: [u64; 6], uc: u64, owner: *mut u32) -> i64 {
    let r: i64;
    asm!(
        "syscall",
        "test rax, rax",
        "jnz 2f",
        "mov eax, {gettid}",
        "syscall",
        "mov dword ptr [r12], eax",
        "mov eax, {sigreturn}",
        "syscall",
        "ud2",
        "2:",
        gettid = const NR_GETTID,
        sigreturn = const NR_RT_SIGRETURN,
        inlateout("rax") NR_CLONE as i64 => r,
        in("rdi") a[0],
        in("rsi") uc,
        in("rdx") a[2],
        in("r10") a[3],
        in("r8") a[4],
        in("r12") owner,
        lateout("rcx") _,
        lateout("r11") _,
    );
    r
}

/// Whether this thread runs with a user shadow stack (ARCH_SHSTK_STATUS).
fn shadow_stack() -> bool {
    const ARCH_SHSTK_STATUS: u64 = 0x5005;
    const ARCH_SHSTK_SHSTK: u64 = 1;
    let mut features = 0u64;
    call(
        NR_ARCH_PRCTL,
        [ARCH_SHSTK_STATUS, addr_of_mut!(features) as u64, 0, 0, 0, 0],
    ) == 0
        && features & ARCH_SHSTK_SHSTK != 0
}
