//! A fake root's credentials (`--fake-root`, `--fake-id`): the ids and capabilities a guest
//! process has as far as it can tell, kept by lxrun, changed by the set*id calls and capset by
//! the kernel's own rules (kernel/sys.c, security/commoncap.c), inherited across fork and exec.
//! The host runs every guest process as the user who started lxrun; what the guest may do with
//! its fake ids is decided here, and against the recorded owners and modes (`lxrun_vfs::meta`).

use crate::Errno;

/// The capabilities lxrun grants a fake root: its own bounding set, which is what real root
/// would get from execve here.
pub fn all_caps() -> u64 {
    static BOUNDING: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *BOUNDING.get_or_init(|| {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                let v = s.lines().find_map(|l| l.strip_prefix("CapBnd:"))?;
                u64::from_str_radix(v.trim(), 16).ok()
            })
            .unwrap_or(0)
    })
}

/// The highest capability number this kernel knows.
pub fn last_cap() -> u32 {
    static LAST: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *LAST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(40)
    })
}

pub const CAP_CHOWN: u32 = 0;
pub const CAP_DAC_OVERRIDE: u32 = 1;
pub const CAP_DAC_READ_SEARCH: u32 = 2;
pub const CAP_FOWNER: u32 = 3;
pub const CAP_FSETID: u32 = 4;
pub const CAP_SETGID: u32 = 6;
pub const CAP_SETUID: u32 = 7;
pub const CAP_SETPCAP: u32 = 8;
pub const CAP_MKNOD: u32 = 27;
/// The capabilities a change of the filesystem uid to or from 0 moves (CAP_FS_MASK).
const FS_CAPS: u64 = (1 << CAP_CHOWN)
    | (1 << CAP_DAC_OVERRIDE)
    | (1 << CAP_DAC_READ_SEARCH)
    | (1 << CAP_FOWNER)
    | (1 << CAP_FSETID)
    | (1 << 9) // CAP_LINUX_IMMUTABLE
    | (1 << CAP_MKNOD)
    | (1 << 32); // CAP_MAC_OVERRIDE

/// -1 as an id argument: "leave this one".
pub const KEEP: u32 = u32::MAX;

/// One guest process's credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Real, effective, saved and filesystem user ids.
    pub uid: [u32; 4],
    /// Real, effective, saved and filesystem group ids.
    pub gid: [u32; 4],
    pub groups: Vec<u32>,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub bounding: u64,
    pub ambient: u64,
    /// prctl(PR_SET_SECUREBITS) bits (SECBIT_KEEP_CAPS, SECBIT_NO_SETUID_FIXUP, ...).
    pub securebits: u32,
    /// prctl(PR_SET_NO_NEW_PRIVS) as the guest set it: set-id bits then give nothing.
    pub no_new_privs: bool,
}

/// SECBIT_NO_SETUID_FIXUP: uid changes leave the capabilities alone.
const SECBIT_NO_SETUID_FIXUP: u32 = 1 << 2;
/// SECBIT_KEEP_CAPS: leaving uid 0 keeps the permitted set (cleared by execve).
pub const SECBIT_KEEP_CAPS: u32 = 1 << 4;

const R: usize = 0;
const E: usize = 1;
const S: usize = 2;
const FS: usize = 3;

impl Identity {
    /// A process that runs as `uid:gid` (with every capability for uid 0, as root has).
    pub fn new(uid: u32, gid: u32) -> Identity {
        let caps = if uid == 0 { all_caps() } else { 0 };
        Identity {
            uid: [uid; 4],
            gid: [gid; 4],
            groups: Vec::new(),
            effective: caps,
            permitted: caps,
            inheritable: 0,
            bounding: all_caps(),
            ambient: 0,
            securebits: 0,
            no_new_privs: false,
        }
    }

    pub fn capable(&self, cap: u32) -> bool {
        self.effective & (1u64 << cap) != 0
    }

    /// Whether `gid` is the filesystem gid or a supplementary group (in_group_p).
    pub fn in_group(&self, gid: u32) -> bool {
        self.gid[FS] == gid || self.groups.contains(&gid)
    }

    /// setuid(2).
    pub fn setuid(&mut self, uid: u32) -> Result<(), Errno> {
        if uid == KEEP {
            return Err(Errno::EINVAL);
        }
        let old = self.uid;
        if self.capable(CAP_SETUID) {
            self.uid = [uid; 4];
        } else if uid == old[R] || uid == old[S] {
            self.uid[E] = uid;
            self.uid[FS] = uid;
        } else {
            return Err(Errno::EPERM);
        }
        self.uid_changed(old);
        Ok(())
    }

    /// setreuid(2).
    pub fn setreuid(&mut self, ruid: u32, euid: u32) -> Result<(), Errno> {
        let old = self.uid;
        let cap = self.capable(CAP_SETUID);
        let mut new = old;
        if ruid != KEEP {
            if !(cap || ruid == old[R] || ruid == old[E]) {
                return Err(Errno::EPERM);
            }
            new[R] = ruid;
        }
        if euid != KEEP {
            if !(cap || euid == old[R] || euid == old[E] || euid == old[S]) {
                return Err(Errno::EPERM);
            }
            new[E] = euid;
        }
        if ruid != KEEP || (euid != KEEP && euid != old[R]) {
            new[S] = new[E];
        }
        new[FS] = new[E];
        self.uid = new;
        self.uid_changed(old);
        Ok(())
    }

    /// setresuid(2).
    pub fn setresuid(&mut self, ruid: u32, euid: u32, suid: u32) -> Result<(), Errno> {
        let old = self.uid;
        let allowed = |id: u32| id == KEEP || self.capable(CAP_SETUID) || old[..3].contains(&id);
        if !(allowed(ruid) && allowed(euid) && allowed(suid)) {
            return Err(Errno::EPERM);
        }
        for (i, id) in [ruid, euid, suid].into_iter().enumerate() {
            if id != KEEP {
                self.uid[i] = id;
            }
        }
        self.uid[FS] = self.uid[E];
        self.uid_changed(old);
        Ok(())
    }

    /// setfsuid(2): the previous filesystem uid, whether the change was allowed or not.
    pub fn setfsuid(&mut self, uid: u32) -> u32 {
        let old = self.uid;
        if uid != KEEP && (self.capable(CAP_SETUID) || old.contains(&uid)) {
            self.uid[FS] = uid;
            self.uid_changed(old);
        }
        old[FS]
    }

    /// setgid(2).
    pub fn setgid(&mut self, gid: u32) -> Result<(), Errno> {
        if gid == KEEP {
            return Err(Errno::EINVAL);
        }
        if self.capable(CAP_SETGID) {
            self.gid = [gid; 4];
        } else if gid == self.gid[R] || gid == self.gid[S] {
            self.gid[E] = gid;
            self.gid[FS] = gid;
        } else {
            return Err(Errno::EPERM);
        }
        Ok(())
    }

    /// setregid(2).
    pub fn setregid(&mut self, rgid: u32, egid: u32) -> Result<(), Errno> {
        let old = self.gid;
        let cap = self.capable(CAP_SETGID);
        let mut new = old;
        if rgid != KEEP {
            if !(cap || rgid == old[R] || rgid == old[E]) {
                return Err(Errno::EPERM);
            }
            new[R] = rgid;
        }
        if egid != KEEP {
            if !(cap || egid == old[R] || egid == old[E] || egid == old[S]) {
                return Err(Errno::EPERM);
            }
            new[E] = egid;
        }
        if rgid != KEEP || (egid != KEEP && egid != old[R]) {
            new[S] = new[E];
        }
        new[FS] = new[E];
        self.gid = new;
        Ok(())
    }

    /// setresgid(2).
    pub fn setresgid(&mut self, rgid: u32, egid: u32, sgid: u32) -> Result<(), Errno> {
        let old = self.gid;
        let allowed = |id: u32| id == KEEP || self.capable(CAP_SETGID) || old[..3].contains(&id);
        if !(allowed(rgid) && allowed(egid) && allowed(sgid)) {
            return Err(Errno::EPERM);
        }
        for (i, id) in [rgid, egid, sgid].into_iter().enumerate() {
            if id != KEEP {
                self.gid[i] = id;
            }
        }
        self.gid[FS] = self.gid[E];
        Ok(())
    }

    /// setfsgid(2): the previous filesystem gid.
    pub fn setfsgid(&mut self, gid: u32) -> u32 {
        let old = self.gid[FS];
        if gid != KEEP && (self.capable(CAP_SETGID) || self.gid.contains(&gid)) {
            self.gid[FS] = gid;
        }
        old
    }

    /// setgroups(2).
    pub fn setgroups(&mut self, groups: Vec<u32>) -> Result<(), Errno> {
        if !self.capable(CAP_SETGID) {
            return Err(Errno::EPERM);
        }
        let mut groups = groups;
        groups.sort_unstable();
        self.groups = groups;
        Ok(())
    }

    /// capset(2) on the process itself: permitted may only shrink, effective stays within
    /// permitted, inheritable within the old inheritable and permitted (or the bounding set,
    /// all of it, with CAP_SETPCAP).
    pub fn capset(&mut self, effective: u64, permitted: u64, inheritable: u64) -> Result<(), Errno> {
        let all = all_caps();
        let inheritable_limit = if self.capable(CAP_SETPCAP) {
            all
        } else {
            self.inheritable | self.permitted
        } & (self.inheritable | self.bounding);
        if inheritable & !inheritable_limit != 0 || permitted & !self.permitted != 0 || effective & !permitted != 0 {
            return Err(Errno::EPERM);
        }
        self.effective = effective;
        self.permitted = permitted;
        self.inheritable = inheritable;
        // Ambient capabilities stay within permitted and inheritable.
        self.ambient &= permitted & inheritable;
        Ok(())
    }

    /// What an execve does: the file's setuid and setgid bits (its recorded owner and group)
    /// take effect unless no_new_privs is set, and the capabilities are root's, or the ambient
    /// ones, as for a file without file capabilities (cap_bprm_creds_from_file). True when the
    /// new program runs with ids it did not have (AT_SECURE).
    pub fn exec(&mut self, setuid: Option<u32>, setgid: Option<u32>) -> bool {
        let gains = !self.no_new_privs;
        if let Some(uid) = setuid.filter(|_| gains) {
            self.uid[E] = uid;
        }
        if let Some(gid) = setgid.filter(|_| gains) {
            self.gid[E] = gid;
        }
        self.uid[S] = self.uid[E];
        self.uid[FS] = self.uid[E];
        self.gid[S] = self.gid[E];
        self.gid[FS] = self.gid[E];
        let setid = self.uid[E] != self.uid[R] || self.gid[E] != self.gid[R];
        if setid {
            self.ambient = 0;
        }
        if self.uid[E] == 0 || self.uid[R] == 0 {
            self.permitted = (self.inheritable | self.bounding) & self.bounding;
            self.effective = if self.uid[E] == 0 { self.permitted } else { 0 };
        } else {
            self.permitted = self.ambient;
            self.effective = self.ambient;
        }
        self.securebits &= !SECBIT_KEEP_CAPS;
        setid
    }

    /// prctl(PR_CAPBSET_DROP).
    pub fn drop_bounding(&mut self, cap: u32) -> Result<(), Errno> {
        if !self.capable(CAP_SETPCAP) {
            return Err(Errno::EPERM);
        }
        self.bounding &= !(1u64 << cap);
        Ok(())
    }

    /// prctl(PR_CAP_AMBIENT, RAISE or LOWER).
    pub fn set_ambient(&mut self, cap: u32, raise: bool) -> Result<(), Errno> {
        let bit = 1u64 << cap;
        if raise {
            if self.permitted & self.inheritable & bit == 0 {
                return Err(Errno::EPERM);
            }
            self.ambient |= bit;
        } else {
            self.ambient &= !bit;
        }
        Ok(())
    }

    /// prctl(PR_SET_SECUREBITS): CAP_SETPCAP, and a locked bit stays as it is.
    pub fn set_securebits(&mut self, bits: u32) -> Result<(), Errno> {
        // Each bit's lock is the bit above it (SECBIT_*_LOCKED); a lock is never undone.
        const LOCKS: u32 = 0xaa;
        let old = self.securebits;
        let frozen = (old & LOCKS) >> 1;
        if !self.capable(CAP_SETPCAP) || frozen & (old ^ bits) != 0 || old & LOCKS & !bits != 0 || bits & !0xff != 0 {
            return Err(Errno::EPERM);
        }
        self.securebits = bits;
        Ok(())
    }

    /// The capability rules for a change of uids (cap_emulate_setxuid, cap_task_fix_setuid).
    fn uid_changed(&mut self, old: [u32; 4]) {
        if self.securebits & SECBIT_NO_SETUID_FIXUP != 0 {
            return;
        }
        let root_before = old[..3].contains(&0);
        let root_after = self.uid[..3].contains(&0);
        if root_before && !root_after && self.securebits & SECBIT_KEEP_CAPS == 0 {
            self.permitted = 0;
            self.effective = 0;
            self.ambient = 0;
        }
        if old[E] == 0 && self.uid[E] != 0 {
            self.effective = 0;
        }
        if old[E] != 0 && self.uid[E] == 0 {
            self.effective = self.permitted;
        }
        if old[FS] == 0 && self.uid[FS] != 0 {
            self.effective &= !FS_CAPS;
        }
        if old[FS] != 0 && self.uid[FS] == 0 {
            self.effective |= self.permitted & FS_CAPS;
        }
    }

    /// /proc/PID/status with this identity's lines in place of the host's.
    pub fn status(&self, host: &str) -> String {
        let ids = |v: &[u32; 4]| v.iter().map(u32::to_string).collect::<Vec<_>>().join("\t");
        let mut out = String::with_capacity(host.len());
        for line in host.lines() {
            let key = line.split(':').next().unwrap_or_default();
            let new = match key {
                "Uid" => format!("Uid:\t{}", ids(&self.uid)),
                "Gid" => format!("Gid:\t{}", ids(&self.gid)),
                "Groups" => {
                    let g: Vec<String> = self.groups.iter().map(u32::to_string).collect();
                    format!("Groups:\t{} ", g.join(" "))
                }
                "CapInh" => format!("CapInh:\t{:016x}", self.inheritable),
                "CapPrm" => format!("CapPrm:\t{:016x}", self.permitted),
                "CapEff" => format!("CapEff:\t{:016x}", self.effective),
                "CapBnd" => format!("CapBnd:\t{:016x}", self.bounding),
                "CapAmb" => format!("CapAmb:\t{:016x}", self.ambient),
                "NoNewPrivs" => format!("NoNewPrivs:\t{}", u8::from(self.no_new_privs)),
                _ => line.to_string(),
            };
            out.push_str(&new);
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_drops_to_a_user_for_good() {
        let mut id = Identity::new(0, 0);
        id.setgroups(vec![]).unwrap();
        id.setresgid(42, 42, 42).unwrap();
        id.setresuid(42, 42, 42).unwrap();
        assert_eq!((id.uid, id.gid, id.effective, id.permitted), ([42; 4], [42; 4], 0, 0));
        assert_eq!(id.setuid(0), Err(Errno::EPERM));
        assert_eq!(id.setresuid(KEEP, 0, KEEP), Err(Errno::EPERM));
        assert_eq!(id.setfsuid(0), 42);
        assert_eq!(id.uid[FS], 42);
    }

    #[test]
    fn a_saved_root_can_come_back() {
        let mut id = Identity::new(0, 0);
        id.setresuid(KEEP, 1000, KEEP).unwrap();
        assert_eq!(id.effective, 0);
        assert_ne!(id.permitted, 0);
        id.setresuid(KEEP, 0, KEEP).unwrap();
        assert_eq!(id.effective, all_caps());
    }
}
