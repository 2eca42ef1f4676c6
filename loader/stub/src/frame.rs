//! The kernel's x86_64 signal frame, as the SIGSYS handler reads, edits and moves it.
//!
//! From low to high addresses: the return address slot (`pretcode`), the `ucontext` the handler
//! is given, the `siginfo`, then (64-byte aligned, above) the xsave area that
//! `uc_mcontext.fpstate` points at. rt_sigreturn takes the `ucontext` at its stack pointer and
//! restores from it the registers, the signal mask and the alternate signal stack.

/// `ucontext` offsets: the alternate stack (`uc_stack`), general registers
/// (`uc_mcontext.gregs`), the signal mask; its length, then the siginfo's.
pub const UC_STACK: usize = 16;
pub const UC_GREGS: usize = 40;
pub const UC_SIGMASK: usize = 296;
const UCONTEXT_LEN: u64 = 304;
const SIGINFO_LEN: u64 = 128;

/// Indexes in `gregs` (glibc's REG_*); `uc_mcontext.fpstate` comes right after them.
pub const REG_R8: usize = 0;
pub const REG_R9: usize = 1;
pub const REG_R10: usize = 2;
pub const REG_RDI: usize = 8;
pub const REG_RSI: usize = 9;
pub const REG_RDX: usize = 12;
pub const REG_RAX: usize = 13;
pub const REG_RSP: usize = 15;
const REG_FPSTATE: usize = 23;

/// The x86_64 red zone: what a signal frame leaves alone below the interrupted stack pointer.
pub const RED_ZONE: u64 = 128;

/// `fpstate.sw_reserved` (at 464 in the fxsave layout): magic1, then the whole area's length.
const SW_RESERVED: u64 = 464;
const FP_XSTATE_MAGIC1: u32 = 0x4650_5853;
const FXSAVE_LEN: u64 = 512;

/// `stack_t`, as sigaltstack(2) takes it and as a frame's `uc_stack` holds it.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Stack {
    pub sp: u64,
    pub flags: i32,
    pub pad: i32,
    pub size: u64,
}

pub const SS_ONSTACK: i32 = 1;
pub const SS_DISABLE: i32 = 2;
pub const SS_AUTODISARM: i32 = i32::MIN;

/// No alternate stack, as the kernel reports it.
pub const NO_STACK: Stack = Stack {
    sp: 0,
    flags: SS_DISABLE,
    pad: 0,
    size: 0,
};

impl Stack {
    /// Whether code at `sp` runs on this stack, as the kernel decides it (`on_sig_stack`: an
    /// auto-disarming stack never counts).
    pub fn holds(&self, sp: u64) -> bool {
        self.flags & SS_AUTODISARM == 0 && sp > self.sp && sp - self.sp <= self.size
    }

    /// What sigaltstack(2) reports of this stack to code running at `sp`.
    pub fn report(&self, sp: u64) -> Stack {
        let state = if self.size == 0 {
            SS_DISABLE
        } else if self.holds(sp) {
            SS_ONSTACK
        } else {
            0
        };
        Stack {
            flags: state | (self.flags & SS_AUTODISARM),
            pad: 0,
            ..*self
        }
    }

    pub fn top(&self) -> u64 {
        self.sp + self.size
    }
}

/// # Safety
/// `uc` is a live signal frame's `ucontext`.
pub unsafe fn greg(uc: *mut u8, reg: usize) -> u64 {
    *uc.add(UC_GREGS).cast::<u64>().add(reg)
}

/// # Safety
/// As [`greg`].
pub unsafe fn set_greg(uc: *mut u8, reg: usize, v: u64) {
    *uc.add(UC_GREGS).cast::<u64>().add(reg) = v;
}

/// The thread's alternate stack as the interrupted code had it (what sigreturn restores).
///
/// # Safety
/// As [`greg`].
pub unsafe fn stack(uc: *mut u8) -> Stack {
    core::ptr::read(uc.add(UC_STACK).cast::<Stack>())
}

/// # Safety
/// As [`greg`].
pub unsafe fn set_stack(uc: *mut u8, st: Stack) {
    core::ptr::write(uc.add(UC_STACK).cast::<Stack>(), st);
}

/// A frame's extent: `[lo, hi)`, with its ucontext and xsave area (0: none).
pub struct Frame {
    uc: u64,
    lo: u64,
    hi: u64,
    fpstate: u64,
}

impl Frame {
    /// # Safety
    /// As [`greg`]: the kernel laid the frame out.
    pub unsafe fn of(uc: *mut u8) -> Frame {
        let fpstate = greg(uc, REG_FPSTATE);
        let uc = uc as u64;
        let end = uc + UCONTEXT_LEN + SIGINFO_LEN;
        let hi = if fpstate == 0 {
            end
        } else {
            end.max(fpstate + xsave_len(fpstate))
        };
        Frame {
            uc,
            lo: uc - 8,
            hi,
            fpstate,
        }
    }

    pub fn len(&self) -> u64 {
        self.hi - self.lo
    }

    /// Where a copy ending at or below `top` starts: at the same offset modulo 64, so the
    /// xsave area stays 64-byte aligned and the ucontext 16-byte aligned, as the kernel needs.
    pub fn copy_start(&self, top: u64) -> u64 {
        let start = top.wrapping_sub(self.len());
        start - (start.wrapping_sub(self.lo) & 63)
    }

    /// Copies the frame to `start` (from [`Frame::copy_start`]) and points the copy's fpstate
    /// at its own xsave area; returns the copy's ucontext, for rt_sigreturn.
    ///
    /// # Safety
    /// `[start, start + len)` is writable memory apart from the frame.
    pub unsafe fn copy_to(&self, start: u64) -> *mut u8 {
        let delta = start.wrapping_sub(self.lo);
        core::ptr::copy_nonoverlapping(self.lo as *const u8, start as *mut u8, self.len() as usize);
        let uc = self.uc.wrapping_add(delta) as *mut u8;
        if self.fpstate != 0 {
            set_greg(uc, REG_FPSTATE, self.fpstate.wrapping_add(delta));
        }
        uc
    }
}

/// The xsave area's length, trailer included: the kernel writes it into the area itself.
unsafe fn xsave_len(fpstate: u64) -> u64 {
    let sw = fpstate + SW_RESERVED;
    if *(sw as *const u32) == FP_XSTATE_MAGIC1 {
        u64::from(*((sw + 4) as *const u32))
    } else {
        FXSAVE_LEN
    }
}
