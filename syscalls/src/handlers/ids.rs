//! A fake root's identity calls: the get*id family and capget answer from the ids lxrun keeps
//! for the process, the set*id family, setgroups and capset change them by the kernel's rules
//! (`crate::identity`). Without a fake root the getters run natively and the setters are only
//! noted (`process::credentials`).

use crate::context::SyscallCtx;
use crate::identity::{self, Identity};
use crate::memory::GuestPtr;
use crate::outcome::{NewArg, Outcome};
use crate::{Errno, SyscallArgs};

/// NGROUPS_MAX.
const NGROUPS_MAX: u64 = 65536;

fn id_arg(v: u64) -> u32 {
    v as u32
}

/// Answers from the identity, or lets the call run natively without a fake root.
fn answer(ctx: &SyscallCtx<'_>, f: impl FnOnce(&Identity) -> i64) -> Result<Outcome, Errno> {
    Ok(ctx.identity().map_or(Outcome::Continue, |id| Outcome::Return(f(&id))))
}

/// Changes the identity, or notes the change for the kernel to make without a fake root.
fn change(
    ctx: &mut SyscallCtx<'_>,
    call: &SyscallArgs,
    f: impl FnOnce(&mut Identity) -> Result<i64, Errno>,
) -> Result<Outcome, Errno> {
    match ctx.with_identity(f) {
        Some(r) => r.map(Outcome::Return),
        None => super::process::credentials(ctx, call),
    }
}

pub(crate) fn getuid(ctx: &mut SyscallCtx<'_>, _: &SyscallArgs) -> Result<Outcome, Errno> {
    answer(ctx, |id| i64::from(id.uid[0]))
}

pub(crate) fn geteuid(ctx: &mut SyscallCtx<'_>, _: &SyscallArgs) -> Result<Outcome, Errno> {
    answer(ctx, |id| i64::from(id.uid[1]))
}

pub(crate) fn getgid(ctx: &mut SyscallCtx<'_>, _: &SyscallArgs) -> Result<Outcome, Errno> {
    answer(ctx, |id| i64::from(id.gid[0]))
}

pub(crate) fn getegid(ctx: &mut SyscallCtx<'_>, _: &SyscallArgs) -> Result<Outcome, Errno> {
    answer(ctx, |id| i64::from(id.gid[1]))
}

/// getresuid/getresgid: three ids written one by one, as the kernel's put_user does.
fn getres(ctx: &SyscallCtx<'_>, call: &SyscallArgs, ids: [u32; 3]) -> Result<Outcome, Errno> {
    for (i, id) in ids.iter().enumerate() {
        ctx.mem.write(GuestPtr::<u32>::new(call.args[i]), id)?;
    }
    Ok(Outcome::Return(0))
}

pub(crate) fn getresuid(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    match ctx.identity() {
        Some(id) => getres(ctx, call, [id.uid[0], id.uid[1], id.uid[2]]),
        None => Ok(Outcome::Continue),
    }
}

pub(crate) fn getresgid(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    match ctx.identity() {
        Some(id) => getres(ctx, call, [id.gid[0], id.gid[1], id.gid[2]]),
        None => Ok(Outcome::Continue),
    }
}

pub(crate) fn getgroups(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let Some(id) = ctx.identity() else {
        return Ok(Outcome::Continue);
    };
    let size = call.args[0] as i32;
    let n = id.groups.len();
    if size < 0 {
        return Err(Errno::EINVAL);
    }
    if size == 0 {
        return Ok(Outcome::Return(n as i64));
    }
    if (size as usize) < n {
        return Err(Errno::EINVAL);
    }
    let list = GuestPtr::<u32>::new(call.args[1]);
    for (i, g) in id.groups.iter().enumerate() {
        ctx.mem.write(list.element(i as u64)?, g)?;
    }
    Ok(Outcome::Return(n as i64))
}

pub(crate) fn setuid(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let uid = id_arg(call.args[0]);
    change(ctx, call, |id| id.setuid(uid).map(|()| 0))
}

pub(crate) fn setgid(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let gid = id_arg(call.args[0]);
    change(ctx, call, |id| id.setgid(gid).map(|()| 0))
}

pub(crate) fn setreuid(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let [r, e] = [id_arg(call.args[0]), id_arg(call.args[1])];
    change(ctx, call, |id| id.setreuid(r, e).map(|()| 0))
}

pub(crate) fn setregid(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let [r, e] = [id_arg(call.args[0]), id_arg(call.args[1])];
    change(ctx, call, |id| id.setregid(r, e).map(|()| 0))
}

pub(crate) fn setresuid(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let [r, e, s] = [id_arg(call.args[0]), id_arg(call.args[1]), id_arg(call.args[2])];
    change(ctx, call, |id| id.setresuid(r, e, s).map(|()| 0))
}

pub(crate) fn setresgid(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let [r, e, s] = [id_arg(call.args[0]), id_arg(call.args[1]), id_arg(call.args[2])];
    change(ctx, call, |id| id.setresgid(r, e, s).map(|()| 0))
}

pub(crate) fn setfsuid(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let uid = id_arg(call.args[0]);
    change(ctx, call, |id| Ok(i64::from(id.setfsuid(uid))))
}

pub(crate) fn setfsgid(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let gid = id_arg(call.args[0]);
    change(ctx, call, |id| Ok(i64::from(id.setfsgid(gid))))
}

pub(crate) fn setgroups(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    if ctx.world.fake.is_none() {
        return super::process::credentials(ctx, call);
    }
    let size = call.args[0] as i32;
    if size < 0 || size as u64 > NGROUPS_MAX {
        return Err(Errno::EINVAL);
    }
    // Read once, before the identity's lock: the guest's list may change under us.
    let list = GuestPtr::<u32>::new(call.args[1]);
    let mut groups = Vec::with_capacity(size as usize);
    for i in 0..size as u64 {
        groups.push(ctx.mem.read(list.element(i)?)?);
    }
    change(ctx, call, |id| id.setgroups(groups).map(|()| 0))
}

/// `struct __user_cap_header_struct`.
#[repr(C)]
#[derive(Clone, Copy)]
struct CapHeader {
    version: u32,
    pid: i32,
}
// SAFETY: two 32-bit fields, no padding.
unsafe impl crate::memory::Pod for CapHeader {}

/// `struct __user_cap_data_struct`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}
// SAFETY: three 32-bit fields, no padding.
unsafe impl crate::memory::Pod for CapData {}

const CAP_V1: u32 = 0x1998_0330;
const CAP_V2: u32 = 0x2007_1026;
const CAP_V3: u32 = 0x2008_0522;

/// The header's version, as the kernel checks it: how many data structs go with it; for an
/// unknown one the kernel writes the version it prefers into the header and says EINVAL.
fn cap_words(ctx: &SyscallCtx<'_>, header: GuestPtr<CapHeader>) -> Result<(CapHeader, u64), Errno> {
    let h: CapHeader = ctx.mem.read(header)?;
    match h.version {
        CAP_V1 => Ok((h, 1)),
        CAP_V2 | CAP_V3 => Ok((h, 2)),
        _ => {
            ctx.mem.write(GuestPtr::<u32>::new(header.addr()), &CAP_V3)?;
            Err(Errno::EINVAL)
        }
    }
}

pub(crate) fn capget(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let Some(mine) = ctx.identity() else {
        return Ok(Outcome::Continue);
    };
    let data = GuestPtr::<CapData>::new(call.args[1]);
    let (h, words) = match cap_words(ctx, GuestPtr::new(call.args[0])) {
        // No data: only the version was asked for.
        Err(Errno::EINVAL) if data.is_null() => return Ok(Outcome::Return(0)),
        other => other?,
    };
    if data.is_null() {
        return Ok(Outcome::Return(0));
    }
    if h.pid < 0 {
        return Err(Errno::EINVAL);
    }
    let id = if h.pid == 0 || h.pid == ctx.tgid || h.pid == ctx.tid {
        mine
    } else {
        let p = ctx.world.process_of(h.pid).ok_or(Errno::ESRCH)?;
        let s = p.state();
        s.identity.clone().unwrap_or(mine)
    };
    for w in 0..words {
        let part = |v: u64| (v >> (32 * w)) as u32;
        let d = CapData {
            effective: part(id.effective),
            permitted: part(id.permitted),
            inheritable: part(id.inheritable),
        };
        ctx.mem.write(data.element(w)?, &d)?;
    }
    Ok(Outcome::Return(0))
}

pub(crate) fn capset(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    if ctx.world.fake.is_none() {
        return super::process::credentials(ctx, call);
    }
    let (h, words) = cap_words(ctx, GuestPtr::new(call.args[0]))?;
    if h.pid != 0 && h.pid != ctx.tgid && h.pid != ctx.tid {
        return Err(Errno::EPERM);
    }
    let data = GuestPtr::<CapData>::new(call.args[1]);
    let (mut e, mut p, mut i) = (0u64, 0u64, 0u64);
    for w in 0..words {
        let d: CapData = ctx.mem.read(data.element(w)?)?;
        e |= u64::from(d.effective) << (32 * w);
        p |= u64::from(d.permitted) << (32 * w);
        i |= u64::from(d.inheritable) << (32 * w);
    }
    change(ctx, call, |id| id.capset(e, p, i).map(|()| 0))
}

const PR_GET_KEEPCAPS: u64 = 7;
const PR_SET_KEEPCAPS: u64 = 8;
const PR_SET_SECCOMP: u64 = 22;
const PR_CAPBSET_READ: u64 = 23;
const PR_CAPBSET_DROP: u64 = 24;
const PR_GET_SECUREBITS: u64 = 27;
const PR_SET_SECUREBITS: u64 = 28;
const PR_SET_NO_NEW_PRIVS: u64 = 38;
const PR_GET_NO_NEW_PRIVS: u64 = 39;
const PR_CAP_AMBIENT: u64 = 47;

/// The prctl options `prctl` below looks at; every other one it lets run as the guest made it,
/// so the filter lets those through without stopping (filter.rs, the prctl split).
pub const PRCTL_OPTIONS_SEEN: [u64; 10] = [
    PR_GET_KEEPCAPS,
    PR_SET_KEEPCAPS,
    PR_SET_SECCOMP,
    PR_CAPBSET_READ,
    PR_CAPBSET_DROP,
    PR_GET_SECUREBITS,
    PR_SET_SECUREBITS,
    PR_SET_NO_NEW_PRIVS,
    PR_GET_NO_NEW_PRIVS,
    PR_CAP_AMBIENT,
];

/// prctl: a fake root's capability and securebits options answer from its identity; every
/// other option (and every option without a fake root) runs natively.
pub(crate) fn prctl(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let [option, a2, a3, a4, a5, _] = call.args;
    // The kernel's option is an int: the high half of the register is not looked at.
    let option = u64::from(option as u32);
    match option {
        PR_SET_NO_NEW_PRIVS if a2 != 1 || a3 != 0 || a4 != 0 || a5 != 0 => return Err(Errno::EINVAL),
        // The process has it for real already (lxrun's filter needs it): the guest's is kept.
        PR_SET_NO_NEW_PRIVS => {
            ctx.set_no_new_privs();
            return Ok(Outcome::Return(0));
        }
        PR_GET_NO_NEW_PRIVS if a2 != 0 || a3 != 0 || a4 != 0 || a5 != 0 => return Err(Errno::EINVAL),
        PR_GET_NO_NEW_PRIVS => return Ok(Outcome::Return(i64::from(ctx.no_new_privs()))),
        PR_SET_SECCOMP if a2 == SECCOMP_MODE_FILTER => return may_add_filter(ctx),
        // prctl_set_seccomp ignores the other arguments of strict mode.
        PR_SET_SECCOMP if a2 == SECCOMP_MODE_STRICT => {
            return enter_strict(ctx, [(0, PR_SET_SECCOMP), (1, SECCOMP_MODE_FILTER)])
        }
        _ => {}
    }
    if ctx.world.fake.is_none() {
        return Ok(Outcome::Continue);
    }
    let last = identity::last_cap();
    let cap = |c: u64| u32::try_from(c).ok().filter(|&c| c <= last).ok_or(Errno::EINVAL);
    let keep = identity::SECBIT_KEEP_CAPS;
    let r = match option {
        PR_GET_KEEPCAPS => ctx.with_identity(|id| Ok(i64::from(id.securebits & keep != 0))),
        PR_SET_KEEPCAPS if a2 > 1 => return Err(Errno::EINVAL),
        PR_SET_KEEPCAPS => ctx.with_identity(|id| {
            // SECBIT_KEEP_CAPS_LOCKED.
            if id.securebits & (keep << 1) != 0 {
                return Err(Errno::EPERM);
            }
            id.securebits = if a2 == 1 {
                id.securebits | keep
            } else {
                id.securebits & !keep
            };
            Ok(0)
        }),
        PR_CAPBSET_READ => {
            let c = cap(a2)?;
            ctx.with_identity(|id| Ok(i64::from(id.bounding & (1 << c) != 0)))
        }
        PR_CAPBSET_DROP => {
            let c = cap(a2)?;
            ctx.with_identity(|id| id.drop_bounding(c).map(|()| 0))
        }
        PR_GET_SECUREBITS => ctx.with_identity(|id| Ok(i64::from(id.securebits))),
        PR_SET_SECUREBITS => ctx.with_identity(|id| id.set_securebits(a2 as u32).map(|()| 0)),
        PR_CAP_AMBIENT => {
            const IS_SET: u64 = 1;
            const RAISE: u64 = 2;
            const LOWER: u64 = 3;
            const CLEAR_ALL: u64 = 4;
            match a2 {
                CLEAR_ALL if a3 != 0 || a4 != 0 || a5 != 0 => return Err(Errno::EINVAL),
                CLEAR_ALL => ctx.with_identity(|id| {
                    id.ambient = 0;
                    Ok(0)
                }),
                _ if a4 != 0 || a5 != 0 => return Err(Errno::EINVAL),
                IS_SET => {
                    let c = cap(a3)?;
                    ctx.with_identity(|id| Ok(i64::from(id.ambient & (1 << c) != 0)))
                }
                RAISE | LOWER => {
                    let c = cap(a3)?;
                    ctx.with_identity(|id| id.set_ambient(c, a2 == RAISE).map(|()| 0))
                }
                _ => return Err(Errno::EINVAL),
            }
        }
        _ => return Ok(Outcome::Continue),
    };
    r.unwrap_or(Ok(0)).map(Outcome::Return)
}

const SECCOMP_MODE_FILTER: u64 = 2;
const SECCOMP_MODE_STRICT: u64 = 1;
const SECCOMP_SET_MODE_FILTER: u64 = 1;
const CAP_SYS_ADMIN: u32 = 21;

/// seccomp(2): a filter may be added only by a process that set no_new_privs or holds
/// CAP_SYS_ADMIN (EACCES otherwise), as the kernel rules; every guest process has no_new_privs
/// for real (lxrun's own filter needs it), so the guest's own setting is what counts. The
/// filter itself is the kernel's to check and install.
pub(crate) fn seccomp(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    const SECCOMP_SET_MODE_STRICT: u64 = 0;
    match call.args[0] {
        SECCOMP_SET_MODE_FILTER => may_add_filter(ctx),
        // do_seccomp: no flags (an unsigned int), no args.
        SECCOMP_SET_MODE_STRICT if call.args[1] as u32 != 0 || call.args[2] != 0 => Err(Errno::EINVAL),
        SECCOMP_SET_MODE_STRICT => enter_strict(ctx, [(0, SECCOMP_SET_MODE_FILTER), (1, 0)]),
        _ => Ok(Outcome::Continue),
    }
}

/// The ptrace modes' strict mode (systrap mode's is the stub's): the guest's call becomes its
/// own adding of `filter::strict_mode`, the two given arguments set so (seccomp's op and flags,
/// or prctl's mode), the program in its memory.
fn enter_strict(ctx: &SyscallCtx<'_>, set: [(usize, u64); 2]) -> Result<Outcome, Errno> {
    strict_for_stub(ctx)?;
    let prog = crate::filter::strict_mode();
    let program: Vec<u8> = prog
        .iter()
        .flat_map(|f| {
            let mut b = [0u8; 8];
            b[..2].copy_from_slice(&f.code.to_ne_bytes());
            b[2] = f.jt;
            b[3] = f.jf;
            b[4..].copy_from_slice(&f.k.to_ne_bytes());
            b
        })
        .collect();
    // struct sock_fprog: the count, padding, the program's address (at 8).
    let mut fprog = vec![0u8; 16];
    fprog[..2].copy_from_slice(&(prog.len() as u16).to_ne_bytes());
    ctx.process.state().strict = true;
    let mut args: Vec<(usize, NewArg)> = set.iter().map(|&(i, v)| (i, NewArg::Int(v))).collect();
    args.push((
        2,
        NewArg::Struct {
            bytes: fprog,
            pointers: vec![(8, program)],
        },
    ));
    Ok(Outcome::Rewrite(args))
}

fn may_add_filter(ctx: &SyscallCtx<'_>) -> Result<Outcome, Errno> {
    if ctx.no_new_privs() || has_cap(ctx, CAP_SYS_ADMIN) {
        ctx.process.state().guest_filter = true;
        Ok(Outcome::Continue)
    } else {
        Err(Errno::EACCES)
    }
}

/// Systrap mode's SYS_LXRUN_STRICT: strict mode is the guest's to enter unless it has a filter
/// of its own, or lxrun itself runs under one (the kernel allows one mode: EINVAL).
pub(crate) fn strict_for_stub(ctx: &SyscallCtx<'_>) -> Result<Outcome, Errno> {
    static HOST_FILTER: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let host = *HOST_FILTER.get_or_init(|| {
        std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
            s.lines()
                .any(|l| l.strip_prefix("Seccomp:").is_some_and(|v| v.trim() != "0"))
        })
    });
    if host || ctx.process.state().guest_filter {
        return Err(Errno::EINVAL);
    }
    Ok(Outcome::Return(0))
}

/// Whether the calling thread's effective capabilities hold `cap`: a fake root's by its ids,
/// any other's by the kernel's (its status file).
pub(crate) fn has_cap(ctx: &SyscallCtx<'_>, cap: u32) -> bool {
    if let Some(has) = ctx.with_identity(|id| id.effective & (1 << cap) != 0) {
        return has;
    }
    crate::creds::Status::of(ctx.tid).is_some_and(|s| s.has_cap(cap))
}
