//! The kernel's statmount and listmount as lxrun calls them for itself, and a statmount
//! answer taken apart so that its mount point can be given in the guest's words.

use crate::Errno;

pub(super) const SYS_STATMOUNT: libc::c_long = 457;
pub(super) const SYS_LISTMOUNT: libc::c_long = 458;
/// `struct statmount` without its strings (the same on every kernel since 6.8).
pub(super) const HEAD: usize = 512;
/// `struct mnt_id_req` (MNT_ID_REQ_SIZE_VER1), as lxrun passes it.
pub(super) const REQ_SIZE: usize = 32;
/// MNT_ID_REQ_SIZE_VER0: the smallest request the kernel takes.
pub(super) const REQ_VER0: u32 = 24;
pub(super) const STATMOUNT_MNT_POINT: u64 = 0x10;
pub(super) const STATMOUNT_SUPPORTED_MASK: u64 = 0x1000;
/// The request bits lxrun knows (those of Linux 6.18): a newer kernel's others hold strings
/// lxrun could not place, so they are not asked for, as an older kernel ignores them.
pub(super) const KNOWN_MASK: u64 = 0x7fff;
/// listmount's parent meaning the caller's root.
pub(super) const LSMT_ROOT: u64 = u64::MAX;

/// Each string of the answer: where its offset (into the strings) sits in the head, and its
/// request bit.
const STRINGS: [(usize, u64); 10] = [
    (4, 0x80),  // mnt_opts
    (36, 0x20), // fs_type
    (104, 0x8), // mnt_root
    (108, STATMOUNT_MNT_POINT),
    (120, 0x100),  // fs_subtype
    (124, 0x200),  // sb_source
    (132, 0x400),  // opt_array
    (140, 0x800),  // opt_sec_array
    (156, 0x2000), // mnt_uidmap
    (164, 0x4000), // mnt_gidmap
];
const MASK_AT: usize = 8;
const SUPPORTED_AT: usize = 144;

/// A request as the kernel's copy_mnt_id_req leaves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Request {
    /// The mount namespace's descriptor (`mnt_ns_fd`, once `spare`).
    pub ns_fd: u32,
    pub mnt_id: u64,
    /// statmount's request mask, listmount's last id.
    pub param: u64,
    pub ns_id: u64,
}

impl Request {
    /// From the guest's bytes (`size` of them, already checked to be VER0 or more).
    pub fn parse(bytes: &[u8]) -> Request {
        let mut b = [0u8; REQ_SIZE];
        let n = bytes.len().min(REQ_SIZE);
        b[..n].copy_from_slice(&bytes[..n]);
        let u64_at = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i..i + 8]);
            u64::from_ne_bytes(w)
        };
        Request {
            ns_fd: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
            mnt_id: u64_at(8),
            param: u64_at(16),
            ns_id: u64_at(24),
        }
    }

    pub fn bytes(&self) -> [u8; REQ_SIZE] {
        let mut b = [0u8; REQ_SIZE];
        b[..4].copy_from_slice(&(REQ_SIZE as u32).to_ne_bytes());
        b[4..8].copy_from_slice(&self.ns_fd.to_ne_bytes());
        b[8..16].copy_from_slice(&self.mnt_id.to_ne_bytes());
        b[16..24].copy_from_slice(&self.param.to_ne_bytes());
        b[24..32].copy_from_slice(&self.ns_id.to_ne_bytes());
        b
    }
}

/// The kernel's statmount for lxrun, into `buf`.
pub(super) fn statmount(req: &Request, buf: &mut [u8]) -> Result<(), Errno> {
    let r = req.bytes();
    // SAFETY: a request of ours and a buffer we own of the length given.
    let rc = unsafe { libc::syscall(SYS_STATMOUNT, r.as_ptr(), buf.as_mut_ptr(), buf.len(), 0) };
    if rc < 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// What the kernel answers `req` with a buffer no process may have (the kernel's half of the
/// address space) of `size` bytes: its refusal at the point where it checks the buffer, or
/// an earlier one. Nothing is written.
pub(super) fn statmount_unwritable(req: &Request, size: u64) -> Errno {
    let r = req.bytes();
    // SAFETY: access_ok refuses the address before anything is written there.
    let rc = unsafe { libc::syscall(SYS_STATMOUNT, r.as_ptr(), 1u64 << 63, size, 0) };
    if rc < 0 {
        Errno::last()
    } else {
        Errno::EFAULT
    }
}

/// The kernel's answer to flags alone (no request): EINVAL for flags it does not know.
pub(super) fn flags_known(nr: libc::c_long, flags: u64) -> bool {
    // SAFETY: NULL pointers with zero sizes; the kernel checks the flags first.
    let rc = unsafe { libc::syscall(nr, 0usize, 0usize, 0usize, flags) };
    !(rc < 0 && Errno::last() == Errno::EINVAL)
}

/// The kernel's statmount answer for lxrun, in a buffer that grows until it fits (up to a
/// limit past which the guest's own buffer could not hold it either).
pub(super) fn statmount_whole(req: &Request, start: usize, limit: u64) -> Result<Answer, Errno> {
    let mut size = start.max(HEAD);
    loop {
        let mut buf = vec![0u8; size];
        match statmount(req, &mut buf) {
            Ok(()) => return Ok(Answer::from_kernel(&buf)),
            Err(e) if e == Errno::EOVERFLOW && size > HEAD && (size as u64) < limit && size < 16 << 20 => {
                size *= 2;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Every mount the kernel lists for lxrun below `parent` (or its root), in the kernel's
/// order (ascending ids).
pub(super) fn listmount_all(parent: u64, ns: &Request) -> Result<Vec<u64>, Errno> {
    let mut all = Vec::new();
    let mut chunk = vec![0u64; 1024];
    loop {
        let req = Request {
            mnt_id: parent,
            param: all.last().copied().unwrap_or(0),
            ..*ns
        };
        let n = listmount(&req, &mut chunk)?;
        all.extend_from_slice(&chunk[..n]);
        if n < chunk.len() {
            return Ok(all);
        }
    }
}

/// The kernel's listmount for lxrun into `ids` (empty: only the kernel's checks).
pub(super) fn listmount(req: &Request, ids: &mut [u64]) -> Result<usize, Errno> {
    let r = req.bytes();
    let ptr = if ids.is_empty() {
        std::ptr::null_mut()
    } else {
        ids.as_mut_ptr()
    };
    // SAFETY: a request of ours and a buffer we own of the count given.
    let rc = unsafe { libc::syscall(SYS_LISTMOUNT, r.as_ptr(), ptr, ids.len(), 0) };
    if rc < 0 {
        return Err(Errno::last());
    }
    Ok(rc as usize)
}

/// A statmount answer: the head and the strings the kernel laid out behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Answer {
    head: [u8; HEAD],
    strings: Vec<u8>,
}

impl Answer {
    /// From a buffer of at least HEAD bytes the kernel filled (its `size` says how much).
    fn from_kernel(buf: &[u8]) -> Answer {
        let mut head = [0u8; HEAD];
        head.copy_from_slice(&buf[..HEAD]);
        let size = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        let end = size.clamp(HEAD, buf.len());
        Answer {
            head,
            strings: buf[HEAD..end].to_vec(),
        }
    }

    fn u32_at(&self, i: usize) -> u32 {
        u32::from_ne_bytes([self.head[i], self.head[i + 1], self.head[i + 2], self.head[i + 3]])
    }

    fn set_u32(&mut self, i: usize, v: u32) {
        self.head[i..i + 4].copy_from_slice(&v.to_ne_bytes());
    }

    pub fn mask(&self) -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&self.head[MASK_AT..MASK_AT + 8]);
        u64::from_ne_bytes(w)
    }

    fn set_mask(&mut self, mask: u64) {
        self.head[MASK_AT..MASK_AT + 8].copy_from_slice(&mask.to_ne_bytes());
    }

    /// The bytes of string field `bit` up to its NUL, when the kernel gave it.
    fn field(&self, bit: u64) -> Option<(usize, usize)> {
        let (at, _) = STRINGS.iter().find(|(_, b)| *b == bit)?;
        if self.mask() & bit == 0 {
            return None;
        }
        let start = self.u32_at(*at) as usize;
        let len = self.strings.get(start..)?.iter().position(|&c| c == 0)?;
        Some((start, len))
    }

    /// The mount point the kernel named (lxrun's view: a host path).
    pub fn mount_point(&self) -> Option<&[u8]> {
        let (start, len) = self.field(STATMOUNT_MNT_POINT)?;
        Some(&self.strings[start..start + len])
    }

    /// Puts `point` in place of the mount point, or leaves it out (`None`, as the kernel does
    /// for one outside the caller's root), moving the strings behind it.
    pub fn replace_mount_point(&mut self, point: Option<&[u8]>) {
        let Some((start, len)) = self.field(STATMOUNT_MNT_POINT) else {
            return;
        };
        let new: Vec<u8> = match point {
            Some(p) => p.iter().copied().chain([0]).collect(),
            None => Vec::new(),
        };
        let old_end = start + len + 1;
        let delta = new.len() as i64 - (len + 1) as i64;
        self.strings.splice(start..old_end, new);
        for (at, bit) in STRINGS {
            let off = self.u32_at(at) as usize;
            if self.mask() & bit != 0 && bit != STATMOUNT_MNT_POINT && off >= old_end {
                self.set_u32(at, (off as i64 + delta) as u32);
            }
        }
        self.set_u32(0, (HEAD + self.strings.len()) as u32);
        if point.is_none() {
            self.set_u32(108, 0);
            self.set_mask(self.mask() & !STATMOUNT_MNT_POINT);
        }
    }

    /// Reports no more than lxrun knows how to answer.
    pub fn limit_supported(&mut self) {
        if self.mask() & STATMOUNT_SUPPORTED_MASK != 0 {
            let mut w = [0u8; 8];
            w.copy_from_slice(&self.head[SUPPORTED_AT..SUPPORTED_AT + 8]);
            let known = u64::from_ne_bytes(w) & KNOWN_MASK;
            self.head[SUPPORTED_AT..SUPPORTED_AT + 8].copy_from_slice(&known.to_ne_bytes());
        }
    }

    /// Whether the answer overflows a buffer of `bufsize` bytes by the kernel's rule: each
    /// string written must leave room for its NUL (statmount_string), so the last one decides.
    pub fn overflows(&self, bufsize: u64) -> bool {
        let written = STRINGS.iter().any(|(_, bit)| self.mask() & bit != 0);
        written && (HEAD + self.strings.len()) as u64 > bufsize
    }

    /// What the kernel copies to a buffer of `bufsize` bytes: the strings (at HEAD, even past
    /// a smaller buffer, as copy_statmount_to_user does) and as much of the head as fits.
    pub fn to_guest(&self, bufsize: u64) -> (Vec<u8>, &[u8]) {
        let copied = bufsize.min(HEAD as u64) as usize;
        let mut head = self.head;
        head[..4].copy_from_slice(&((copied + self.strings.len()) as u32).to_ne_bytes());
        (head[..copied].to_vec(), &self.strings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer laid out as the kernel lays it: a reserved NUL, then each string with its NUL.
    fn answer(fields: &[(u64, &[u8])]) -> Answer {
        let mut head = [0u8; HEAD];
        let mut strings = vec![0u8];
        let mut mask = 0;
        for (bit, s) in fields {
            let (at, _) = STRINGS.iter().find(|(_, b)| b == bit).unwrap();
            head[*at..*at + 4].copy_from_slice(&(strings.len() as u32).to_ne_bytes());
            strings.extend_from_slice(s);
            strings.push(0);
            mask |= bit;
        }
        head[MASK_AT..MASK_AT + 8].copy_from_slice(&mask.to_ne_bytes());
        head[..4].copy_from_slice(&((HEAD + strings.len()) as u32).to_ne_bytes());
        Answer { head, strings }
    }

    #[test]
    fn a_mount_point_is_replaced_and_the_strings_after_it_move() {
        let host = answer(&[
            (0x20, b"tmpfs"),
            (0x8, b"/"),
            (0x10, b"/srv/root/mnt"),
            (0x80, b"size=64k"),
        ]);
        let mut a = host.clone();
        a.replace_mount_point(Some(b"/mnt"));
        assert_eq!(
            a,
            answer(&[(0x20, b"tmpfs"), (0x8, b"/"), (0x10, b"/mnt"), (0x80, b"size=64k")])
        );
        assert_eq!(host.mount_point(), Some(&b"/srv/root/mnt"[..]));
        let mut gone = host.clone();
        gone.replace_mount_point(None);
        let mut want = answer(&[(0x20, b"tmpfs"), (0x8, b"/"), (0x80, b"size=64k")]);
        // The kernel never wrote the field: no offset, no bit.
        want.head[108..112].copy_from_slice(&[0; 4]);
        assert_eq!(gone, want);
    }

    #[test]
    fn the_last_string_needs_room_for_its_nul() {
        let a = answer(&[(0x20, b"ext4")]);
        let size = (HEAD + a.strings.len()) as u64;
        assert!(!a.overflows(size));
        assert!(a.overflows(size - 1));
        // No string written (the reserved NUL only): the kernel checks nothing.
        let mut empty = answer(&[]);
        empty.set_mask(0);
        assert!(!empty.overflows(100));
        let (head, strings) = empty.to_guest(100);
        assert_eq!((head.len(), strings.len()), (100, 1));
        assert_eq!(u32::from_ne_bytes([head[0], head[1], head[2], head[3]]), 101);
    }

    #[test]
    fn requests_round_trip() {
        let r = Request {
            ns_fd: 3,
            mnt_id: 1 << 31 | 5,
            param: 0x30,
            ns_id: 0,
        };
        assert_eq!(Request::parse(&r.bytes()), r);
        // A VER0 request has no namespace id: zero, as the kernel fills it.
        assert_eq!(Request::parse(&r.bytes()[..24]).ns_id, 0);
    }
}
