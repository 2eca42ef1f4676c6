//! A real foreign userland: a Debian root of a newer suite than the host's (built once by
//! tests/debian-root.sh), run under `lxrun --root`, against `chroot` in a private mount
//! namespace (with /proc and /dev mounted) as the oracle: stdout and status must match.

mod common;

use common::*;

/// Each case runs in a fresh temporary directory of the guest's /tmp, removed afterwards, so
/// the oracle and lxrun see the same starting state.
fn wrapped(script: &str) -> String {
    format!("d=$(mktemp -d) && cd \"$d\" && {{\n{script}\n}}; s=$?; cd /; rm -rf \"$d\"; exit $s")
}

/// The oracle: chroot in a private mount namespace with /proc and /dev mounted.
fn chroot_cmd(script: &str) -> Cmd {
    chroot_oracle(
        debian_root(),
        "mount -t proc proc '{r}/proc' && mount --rbind /dev '{r}/dev'",
        &wrapped(script),
    )
}

fn lxrun_cmd(backend: &str, script: &str) -> Cmd {
    Cmd::new(lxrun())
        .args(["--backend", backend, "--root"])
        .arg(debian_root())
        .args(["--", "/bin/bash", "-c", &wrapped(script)])
}

fn check(cases: &[(&str, &str)]) {
    if needs_root("the chroot oracle") {
        return;
    }
    let mut failures = Vec::new();
    for (name, script) in cases {
        let native = run_native(&chroot_cmd(script).env("HOME", "/root"));
        if !native.success() {
            failures.push(format!("{name}: the chroot oracle itself failed: {native}"));
            continue;
        }
        for backend in backends() {
            let lx = run_native(&lxrun_cmd(backend, script).env("HOME", "/root"));
            if let Err(e) = compare(&format!("{name} [{backend}]"), &native, &lx) {
                failures.push(e);
            }
        }
    }
    assert_no_failures(&failures);
}

#[test]
fn the_guest_userland_is_the_roots() {
    check(&[
        ("debian_version", "cat /etc/debian_version"),
        ("glibc of the guest", "ldd --version | head -1"),
        ("python version", "python3 -c 'import sys; print(sys.version_info[:2])'"),
        (
            "interpreter in maps",
            "grep -o ' /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2' /proc/self/maps | sort -u",
        ),
        ("exe link", "readlink /proc/self/exe; readlink /proc/$$/exe"),
        (
            "cwd and root links",
            "readlink /proc/self/cwd | sed \"s|$d|D|\"; readlink /proc/self/root",
        ),
    ]);
}

#[test]
fn shells_and_coreutils() {
    check(&[
        ("bash arithmetic", "echo $((6*7)); a=(x y z); echo ${#a[@]} ${a[1]}"),
        ("pipes", "seq 1 100 | sort -rn | head -3 | tr '\\n' ' '; echo"),
        ("ls of the root", "ls / | grep -v -e proc -e dev -e sys | tr '\\n' ' '; echo"),
        ("find and xargs", "mkdir -p a/b c && touch a/b/f c/g && find . -type f | sort | xargs -n1 basename"),
        ("stat", "echo hi > f && stat -c '%s %F %a' f && chmod 600 f && stat -c %a f"),
        ("cp -a", "mkdir -p src/x && echo 1 > src/x/f && ln -s x/f src/l && cp -a src dst && ls -l dst/l | sed 's/.*-> //' && cat dst/x/f"),
        ("perl", "perl -e 'print join(\",\", map { $_ * 2 } 1..5), \"\\n\"'"),
        ("busybox", "busybox echo from busybox && busybox sh -c 'echo nested $((1+1))'"),
    ]);
}

#[test]
fn links_and_lookups() {
    check(&[
        ("hard links", "echo a > h1 && ln h1 h2 && stat -c %h h1 && echo b >> h2 && cat h1"),
        ("symlink loop", "ln -s l1 l2 && ln -s l2 l1; cat l1; echo status $?"),
        ("dotdot through symlinks", "mkdir -p x/y && ln -s x/y s && cd s/.. && pwd -P | sed \"s|$d|D|\" && cd -P s/.. && pwd | sed \"s|$d|D|\""),
        ("absolute symlinks are the guest's", "ln -s /etc/debian_version v && cat v"),
        ("dangling create", "ln -s made target && echo x > target && cat made"),
        ("dirfd-relative calls", "mkdir sub && echo q > sub/file && python3 -c \"import os; fd=os.open('sub', os.O_RDONLY); print(os.stat('file', dir_fd=fd).st_size, os.readlink('/proc/self/fd/%d' % fd).endswith('/sub'))\""),
        ("rename and unlink", "echo 1 > a && mv a b && ls && rm b && ls | wc -l"),
        ("fifo", "mkfifo p && (echo through the fifo > p &) && cat p"),
        ("unix socket", "python3 -c \"import socket,os; s=socket.socket(socket.AF_UNIX); s.bind('sock'); s.listen(1); c=socket.socket(socket.AF_UNIX); c.connect(os.path.abspath('sock')); a,_=s.accept(); c.send(b'ping'); print(a.recv(4).decode(), s.getsockname().endswith('/sock'), os.path.exists('sock'))\""),
        ("unix datagrams", "python3 -c \"import socket; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind('d'); c=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); c.sendto(b'to', 'd'); c.sendmsg([b'msg'], [], 0, 'd'); print(s.recv(9), s.recv(9))\""),
        // Calls performed on a thread's behalf borrow its descriptors (here the socket).
        ("unix socket from a thread", "python3 -c \"import socket,threading; r=[]; t=threading.Thread(target=lambda: r.append(socket.socket(socket.AF_UNIX).bind('t.sock'))); t.start(); t.join(); import os; print(r, os.path.exists('t.sock'))\""),
        // accept's peer address is the client's name as the guest bound it (none: unnamed).
        ("unix socket peers through accept", "mkdir sub && python3 -c \"import socket, os, ctypes\ns = socket.socket(socket.AF_UNIX); s.bind('srv'); s.listen(4)\nc = socket.socket(socket.AF_UNIX); c.connect('srv'); print('unnamed', s.accept()[1])\nc = socket.socket(socket.AF_UNIX); c.bind('sub/cli'); c.connect('srv'); a, addr = s.accept(); print('relative', addr, a.getpeername())\nc = socket.socket(socket.AF_UNIX); c.bind(os.path.abspath('abs')); c.connect('srv'); print('absolute', s.accept()[1] == os.path.abspath('abs'))\nhere = os.getcwd(); os.makedirs('l' * 60 + '/' + 'l' * 60); os.chdir('l' * 60 + '/' + 'l' * 60)\nc = socket.socket(socket.AF_UNIX); c.bind('c'); c.connect(here + '/srv'); os.chdir(here); print('long directory', s.accept()[1])\nc = socket.socket(socket.AF_UNIX); c.bind('sub/short'); c.connect('srv'); buf = ctypes.create_string_buffer(8); n = ctypes.c_uint32(8)\nprint('small buffer', ctypes.CDLL(None).accept4(s.fileno(), buf, ctypes.byref(n), 0x80000) > 0, n.value, buf.raw)\""),
        ("long unix socket path", "p=$(printf 'd%.0s' $(seq 1 60)) && mkdir -p $p/$p && cd $p/$p && python3 -c \"import socket; s=socket.socket(socket.AF_UNIX); s.bind('s'); s.listen(1); c=socket.socket(socket.AF_UNIX); c.connect('s'); print('connected')\""),
    ]);
}

#[test]
fn toolchains_and_programs() {
    check(&[
        ("gcc compile and run", "printf '#include <stdio.h>\\nint main(){puts(\"compiled in the guest\");return 3;}\\n' > t.c && gcc -o t t.c && ./t; echo $?"),
        ("make -j", "printf 'all: a b c d\\na b c d:\\n\\t@echo $@ > $@\\n' > Makefile && make -s -j4 && cat a b c d"),
        ("git", "export HOME=$PWD GIT_AUTHOR_DATE=2000-01-01T00:00:00 GIT_COMMITTER_DATE=2000-01-01T00:00:00 && git init -q r && cd r && git config user.email a@b && git config user.name n && echo x > f && git add f && git commit -qm m && git status --short && git log --format=%s"),
        ("python venv", "python3 -m venv v && v/bin/python -c 'import sys; print(sys.prefix != sys.base_prefix)'"),
        ("python subprocess and threads", "python3 -c \"import subprocess, threading; r=[]; t=[threading.Thread(target=lambda i=i: r.append(i)) for i in range(4)]; [x.start() for x in t]; [x.join() for x in t]; print(sorted(r), subprocess.run(['echo','sub'],capture_output=True,text=True).stdout.strip())\""),
        // O_PATH descriptors (which user notification cannot hand over) by open, openat and openat2.
        ("O_PATH opens", "python3 -c \"import os, ctypes, struct; a=os.open('/etc/passwd', os.O_PATH); b=os.open('/etc', os.O_PATH|os.O_DIRECTORY); c=os.open('hostname', os.O_PATH, dir_fd=b); libc=ctypes.CDLL(None, use_errno=True); how=struct.pack('QQQ', os.O_PATH, 0, 0); d=libc.syscall(437, -100, b'/etc/os-release', how, 24); print([os.fstat(x).st_size > 0 for x in (a, c, d)], os.path.samestat(os.fstat(b), os.stat('/etc')), os.readlink('/proc/self/fd/%d' % c))\""),
        // readlink and access as the in-process fast path answers them: symlinks, plain
        // files, missing names, sizes (checked before the path), mount points, /proc, relative
        // and dirfd-relative names, the NOFOLLOW and EACCESS flags.
        ("readlink and access, every answer", "chmod 755 . && mkdir -p d && ln -s d/x l && ln -s /etc/hostname abs && touch d/f && chmod 0 d/f && python3 -c \"import os, ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\ndef rl(p, n=100, fd=-100):\n  b = ctypes.create_string_buffer(200); r = libc.readlinkat(fd, p, b, n); return b.raw[:r] if r >= 0 else -ctypes.get_errno()\ndef ac(p, m, f=0, fd=-100):\n  r = libc.syscall(439, fd, p, m, f); return r if r == 0 else -ctypes.get_errno()\nd = os.open('d', os.O_RDONLY)\nfor p in (b'l', b'abs', b'd', b'd/f', b'nope', b'nope/x', b'd/f/x', b'/bin', b'/etc/resolv.conf', b'/proc/self/status', b'/lib64/ld-linux-x86-64.so.2'):\n  print(p, rl(p), rl(p, 3), rl(p, 0), rl(p, -1), [ac(p, m, f) for m in (0, 4, 2, 1, 8) for f in (0, 0x100, 0x200)])\nprint(rl(b'/proc/self') == str(os.getpid()).encode(), rl(b'/proc/self/cwd') == os.getcwd().encode(), [ac(b'/proc/self', m, f) for m in (0, 2) for f in (0, 0x100)])\nprint(rl(b'f', fd=d), ac(b'f', 4, fd=d), ac(b'f', 0, fd=d), ac(b'x', 0, fd=d), os.readlink('l'))\nos.setgid(65534); os.setuid(65534)\nprint([ac(p, m) for p in (b'/etc/shadow', b'/root', b'/tmp', b'd/f', b'abs') for m in (4, 2, 1)])\""),
        // statx and listxattr as the in-process fast path answers them: files with and without
        // xattrs, directories, symlinks (followed or not, dangling), FIFOs, a file nobody may
        // read, missing names, sizes 0 and too small, /proc and /dev.
        ("statx and listxattr, every answer", "chmod 755 . && mkfifo fifo && mkdir dir && echo x > f && ln -s f l && ln -s nowhere dangling && echo s > unread && chmod 0 unread && python3 -c \"import os; os.setxattr('f', 'user.a', b'1'); os.setxattr('dir', 'user.b', b'22'); os.setxattr('unread', 'user.c', b'3')\" && cat > lx.py <<'PY'
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
def lx(p, follow, n=256):
    b = ctypes.create_string_buffer(300)
    r = (libc.listxattr if follow else libc.llistxattr)(p, b, n)
    return sorted(b.raw[:r].split(b'\\0')) if r > 0 and n else (r if r >= 0 else -ctypes.get_errno())
for p in (b'f', b'dir', b'l', b'dangling', b'fifo', b'unread', b'nope', b'f/x', b'dir/', b'/etc', b'/proc/self/status', b'/dev/null'):
    print(p, lx(p, True), lx(p, False), lx(p, True, 0), lx(p, True, 1))
PY
python3 lx.py && setpriv --reuid=65534 --regid=65534 --clear-groups python3 lx.py && stat -c '%n %F %a %s %h %u' f dir l dangling fifo unread /etc /bin /dev/null && stat -L -c '%n %F %s' l /bin && stat -c %n nope f/x 2>&1; python3 -c \"import ctypes; l = ctypes.CDLL(None, use_errno=True); b = ctypes.create_string_buffer(256); st = lambda p, f, m=0xfff: l.statx(-100, p, f, m, b) and -ctypes.get_errno()\nprint([st(p, f) for p in (b'f', b'l', b'nope', b'') for f in (0, 0x100, 0x2000, 0x6000, 0x1000, 0x8000)], st(b'f', 0, 0x80000000))\""),
        // lxrun's own descriptor in each process (the guest root's directory, for the fast
        // path) is not listed: the directory listings are the kernel's, then filtered.
        ("readlinkat of the empty path", "ln -s target-x rlx && python3 -c \"import os, ctypes\nlibc = ctypes.CDLL(None, use_errno=True); buf = ctypes.create_string_buffer(100)\nfor fd in (os.open('rlx', os.O_PATH | os.O_NOFOLLOW), os.open('.', os.O_RDONLY)):\n  n = libc.readlinkat(fd, b'', buf, 100); print(n, ctypes.get_errno() if n < 0 else buf.value)\""),
        (
            "paths through symlinks",
            r#"mkdir -p d/sub && echo f > d/sub/file && ln -s d/sub rel && ln -s $PWD/d/sub abs && ln -s rel chain && ln -s loop1 loop2 && ln -s loop2 loop1 && ln -s nowhere dangling && ln -s /proc/self procself && ln -s /dev/null devnull && ln -s sub/../sub d/back && ln -s file d/sub/flink && for i in $(seq 1 41); do ln -s l$((i-1)) l$i; done && ln -s d/sub/file l0 && python3 - <<'PY'
import os
def e(f):
    try:
        r = f()
        return r if isinstance(r, (bool, int, str)) else 'ok'
    except OSError as x:
        return x.errno
for p in ('rel/file', 'abs/file', 'chain/file', 'chain/flink', 'rel/flink/', 'd/back/file', 'rel/../sub/file', 'rel/nope', 'loop1/x', 'loop1', 'dangling', 'dangling/x', 'procself/status', 'devnull', 'l40', 'l41', 'rel/file/', os.getcwd() + '/chain/file', '/lib/x86_64-linux-gnu/libc.so.6', '/bin/../etc/hostname'):
    out = [e(lambda: os.stat(p).st_size if not os.path.isdir(p) else 'dir'), e(lambda: os.lstat(p).st_mode >> 12), e(lambda: os.access(p, os.R_OK)), e(lambda: os.readlink(p))]
    out.append(e(lambda: os.close(os.open(p, os.O_RDONLY))))
    out.append(e(lambda: os.close(os.open(p, os.O_RDONLY | os.O_NOFOLLOW))))
    out.append(e(lambda: os.close(os.open(p, os.O_PATH | os.O_NOFOLLOW))))
    print(p.replace(os.getcwd(), 'CWD'), out)
PY"#,
        ),
        (
            "no_new_privs and adding a seccomp filter",
            r#"python3 -c "
import os, ctypes, struct
libc = ctypes.CDLL(None, use_errno=True)
def call(*a):
    r = libc.syscall(*[ctypes.c_long(x) if isinstance(x, int) else x for x in a]); return r if r >= 0 else -ctypes.get_errno()
allow = struct.pack('HBBI', 6, 0, 0, 0x7fff0000)
buf = ctypes.create_string_buffer(allow)
prog = struct.pack('HxxxxxxQ', 1, ctypes.addressof(buf))
pbuf = ctypes.create_string_buffer(prog)
print('nnp', call(157, 39, 0, 0, 0, 0))
print('filter as root', call(317, 1, 0, ctypes.addressof(pbuf)))
k = os.fork()
if k == 0:
    print('nnp set with the option in the low half', call(157, (1 << 32) | 38, 1, 0, 0, 0), call(157, 39, 0, 0, 0, 0), flush=True); os._exit(0)
os.waitpid(k, 0)
pid = os.fork()
if pid == 0:
    os.setgroups([]); os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)
    print('nobody, no nnp: seccomp', call(317, 1, 0, ctypes.addressof(pbuf)), 'prctl', call(157, 22, 2, ctypes.addressof(pbuf), 0, 0), flush=True)
    print('set nnp', call(157, 38, 1, 0, 0, 0), 'bad args', call(157, 38, 2, 0, 0, 0), 'nnp', call(157, 39, 0, 0, 0, 0), flush=True)
    print('nobody with nnp: seccomp', call(317, 1, 0, ctypes.addressof(pbuf)), 'prctl', call(157, 22, 2, ctypes.addressof(pbuf), 0, 0), flush=True)
    c = os.fork()
    if c == 0:
        print('child nnp', call(157, 39, 0, 0, 0, 0), flush=True); os._exit(0)
    os.waitpid(c, 0); os._exit(0)
os.waitpid(pid, 0)
print('parent nnp', call(157, 39, 0, 0, 0, 0))
""#,
        ),
        ("lxrun's descriptor cannot be closed, copied or replaced", "python3 -c \"import os, subprocess\ndef ls(): return sorted(int(x) for x in os.listdir('/proc/self/fd'))\nprint(ls())\nfor f in (lambda: os.close(1023), lambda: os.close(1022), lambda: os.dup2(1023, 50)):\n  try: f(); print('done')\n  except OSError as e: print(e.errno)\nr, w = os.pipe(); os.dup2(r, 1023); print(ls(), os.readlink('/proc/self/fd/1023')[:5], os.path.exists('/usr/bin/ls'))\nos.close(1023); print(ls())\nos.closerange(3, 2000); print(ls(), open('/etc/debian_version').read() != '', subprocess.run(['ls', '/'], capture_output=True).stdout[:8])\""),
        ("names of deleted and O_TMPFILE files", "mkdir gone && touch f && python3 -c \"import os\nt = os.open('.', os.O_TMPFILE | os.O_RDWR, 0o600); g = os.open('gone', os.O_RDONLY); h = os.open('f', os.O_RDONLY)\nos.rmdir('gone'); os.unlink('f')\nl = os.readlink('/proc/self/fd/%d' % t); print(l == '%s/#%d (deleted)' % (os.getcwd(), os.fstat(t).st_ino))\nfor fd in (g, h): print(os.readlink('/proc/self/fd/%d' % fd)[len(os.getcwd()):])\""),
        ("lxrun's descriptors are not listed", "ls /proc/self/fd && ls -l /proc/$$/fd > listing && wc -l < listing && find /proc/self/fd/ -maxdepth 1 | wc -l && python3 -c \"import os, threading\nprint(sorted(os.listdir('/proc/self/fd')), sorted(os.listdir('/proc/%d/fd' % os.getpid())), len(os.listdir('/usr/lib')) > 10)\nr = []\nt = threading.Thread(target=lambda: r.append(sorted(os.listdir('/proc/thread-self/fd')))); t.start(); t.join(); print(r)\nd = os.open('/proc/self/fd', os.O_RDONLY | os.O_DIRECTORY); print(sorted(os.listdir(d)))\""),
        // access(2) answers for the real ids, faccessat(AT_EACCESS) for the effective ones.
        ("access after dropping privileges", "for ids in '--reuid=65534 --regid=65534' '--euid=65534 --egid=65534'; do setpriv $ids --clear-groups python3 -c \"import os; print([os.access(p, m, effective_ids=e) for p in ('/root', '/etc/shadow', '/etc/passwd') for m in (os.R_OK, os.W_OK, os.X_OK) for e in (False, True)])\"; done"),
        ("privileges dropped", "echo s > ro && chmod 600 ro && chmod 755 . && python3 -c \"import os\nos.setgid(65534); os.setuid(65534)\nfor f in (lambda: open('ro'), lambda: os.mkdir('d'), lambda: open('new', 'w')):\n  try: f(); print('allowed')\n  except OSError as e: print('denied', e.errno)\""),
        ("16 threads of translated calls", "for i in $(seq 16); do mkdir d$i && echo $i > d$i/f && ln -s d$i/f l$i; done && python3 -c \"import os, threading\nbad = []\ndef work(i):\n  for _ in range(200):\n    if open('l%d' % i).read() != '%d\\n' % i or os.readlink('l%d' % i) != 'd%d/f' % i or os.stat('d%d' % i).st_nlink != 2: bad.append(i)\n    os.close(os.open('d%d/f' % i, os.O_RDONLY))\nts = [threading.Thread(target=work, args=(i,)) for i in range(1, 17)]\n[t.start() for t in ts]; [t.join() for t in ts]\nprint('bad', len(bad))\""),
        ("clone with CLONE_FS shares the cwd", "mkdir sub && python3 -c \"import ctypes, os\nlibc = ctypes.CDLL(None)\npid = libc.syscall(56, 0x200 | 17, 0, 0, 0, 0)\nif pid == 0:\n  os.chdir('sub'); os._exit(0)\nos.waitpid(pid, 0); print(os.path.basename(os.getcwd()), os.path.exists('../sub'))\npid = os.fork()\nif pid == 0:\n  os.chdir('/'); os._exit(0)\nos.waitpid(pid, 0); print(os.path.basename(os.getcwd()))\""),
        ("openat2 confined to a dirfd", "mkdir d && echo inside > d/f && echo outside > f && ln -s /f d/abs && python3 -c \"import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nclass How(ctypes.Structure): _fields_ = [('flags', ctypes.c_uint64), ('mode', ctypes.c_uint64), ('resolve', ctypes.c_uint64)]\nd = os.open('d', os.O_RDONLY)\nfor path, res in ((b'abs', 0x10), (b'../f', 0x10), (b'/f', 0x10), (b'/f', 0x08), (b'f', 0x08)):\n  fd = libc.syscall(437, d, path, ctypes.byref(How(0, 0, res)), 24)\n  print(path, res, os.read(fd, 20) if fd >= 0 else -ctypes.get_errno())\""),
        // RESOLVE_BENEATH fails with EXDEV wherever the lookup would leave the dirfd (absolute
        // paths and symlinks, `..` at the dirfd, also through a symlink); RESOLVE_IN_ROOT
        // stays inside; both at once is EINVAL.
        ("openat2 beneath a dirfd", "mkdir -p d/sub && echo inside > d/f && echo outside > f && ln -s /f d/abs && ln -s ../f d/up && ln -s sub/.. d/back && python3 -c \"import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nclass How(ctypes.Structure): _fields_ = [('flags', ctypes.c_uint64), ('mode', ctypes.c_uint64), ('resolve', ctypes.c_uint64)]\nd = os.open('d', os.O_RDONLY)\nfor res in (0x08, 0x10, 0x18):\n  for path in (b'f', b'/f', b'../f', b'..', b'sub/..', b'sub/../..', b'abs', b'up', b'back/f', b'nope/../..', b'f/..'):\n    fd = libc.syscall(437, d, path, ctypes.byref(How(0, 0, res)), 24)\n    print(path, res, os.readlink('/proc/self/fd/%d' % fd).endswith('/d' + ('/f' if path.endswith(b'f') else '')) if fd >= 0 else -ctypes.get_errno())\""),
        // openat2's open_how past its first version: zeros accepted, anything else E2BIG, too
        // short EINVAL, over a page E2BIG, whether or not the lookup is confined.
        ("openat2 open_how sizes", "python3 -c \"import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nd = os.open('/etc', os.O_RDONLY)\nfor res in (0, 0x10, 0x08):\n  for size, tail in ((24, b''), (32, bytes(8)), (32, b'\\\\1' + bytes(7)), (16, b''), (8192, bytes(8168))):\n    buf = ctypes.create_string_buffer(bytes(24) + tail, max(size, 24) + 8)\n    ctypes.memmove(ctypes.addressof(buf) + 16, ctypes.byref(ctypes.c_uint64(res)), 8)\n    fd = libc.syscall(437, d, b'hostname', buf, size)\n    print(res, size, tail[:1], 'ok' if fd >= 0 else -ctypes.get_errno())\""),
        ("sqlite3", "sqlite3 db 'create table t(x); insert into t values (1),(2); select sum(x) from t;'"),
        ("tar and xz", "mkdir z && echo data > z/f && tar cJf z.tar.xz z && rm -r z && tar xJf z.tar.xz && cat z/f"),
    ]);
}

/// Calls the seccomp backend performs with more than a path translated: sendmsg to a named
/// socket (with descriptors, credentials and several iovecs) and the `*xattrat` calls.
#[test]
fn messages_and_extended_attributes() {
    check(&[
        (
            "file_getattr and file_setattr on guest paths",
            r#"mkdir d && touch d/f && ln -s f d/l && python3 - <<'PY'
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
buf = ctypes.create_string_buffer(24)
for p, fl in [(b'd/f', 0), (b'd', 0), (b'd/l', 0), (b'd/l', 0x100), (b'nothere', 0), (b'/etc/passwd', 0)]:
    r = libc.syscall(468, -100, p, buf, 24, fl)
    print(p, r, ctypes.get_errno() if r < 0 else buf.raw[:8].hex())
print('set', libc.syscall(469, -100, b'd/f', buf, 24, 0), ctypes.get_errno())
print('too small', libc.syscall(468, -100, b'd/f', buf, 8, 0), ctypes.get_errno())
PY"#,
        ),
        (
            "sendmsg passes descriptors over a socketpair",
            r#"echo in a file > f && python3 - <<'PY'
import array, os, socket
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
r, w = os.pipe(); os.write(w, b'in a pipe')
f = os.open('f', os.O_RDONLY)
print(a.sendmsg([b'two ', b'fds'], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', [r, f]))]))
msg, anc, flags, addr = b.recvmsg(64, socket.CMSG_SPACE(8))
fds = array.array('i', anc[0][2])
print(msg, len(fds), os.read(fds[0], 9), os.read(fds[1], 20))
PY"#,
        ),
        (
            "sendmsg passes descriptors to a named datagram socket",
            r#"echo in a file > f && python3 - <<'PY'
import array, os, socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind('d')
c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
r, w = os.pipe(); os.write(w, b'in a pipe')
f = os.open('f', os.O_RDONLY)
rights = lambda fds: [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', fds))]
print(c.sendmsg([b'three', b' ', b'iovecs'], [], 0, 'd'), s.recv(64))
print(c.sendmsg([b'two ', b'', b'fds'], rights([r, f]), 0, os.path.abspath('d')))
msg, anc, flags, addr = s.recvmsg(64, socket.CMSG_SPACE(8))
fds = array.array('i', anc[0][2])
print(msg, len(fds), os.read(fds[0], 9), os.read(fds[1], 20), flags)
# Two control messages, and the same descriptor twice.
print(c.sendmsg([b'again'], rights([w]) + rights([f, f]), 0, 'd'))
msg, anc, flags, addr = s.recvmsg(64, 2 * socket.CMSG_SPACE(8))
print(msg, [len(data) for level, kind, data in anc])
for fds in ([999], [r, 999], [r] * 254):
    try: c.sendmsg([b'x'], rights(fds), 0, 'd')
    except OSError as e: print('refused', e.errno)
try: c.sendmsg([b'x'], [], 0, 'nothing here')
except OSError as e: print('no such socket', e.errno)
s.setblocking(False)
try: print(s.recv(64))
except BlockingIOError: print('nothing more was sent')
PY"#,
        ),
        (
            "sendmsg credentials to a named socket",
            r#"chmod 777 . && cat > creds.py <<'PY'
import os, socket, struct
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind('d%d' % os.getuid())
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
me = (os.getpid(), os.getuid(), os.getgid())
def creds(pid, uid, gid): return [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, struct.pack('iII', pid, uid, gid))]
for name, anc in (('none', []), ('mine', creds(*me)), ('pid 1', creds(1, *me[1:])), ('uid 0', creds(me[0], 0, me[2]))):
    try: c.sendmsg([name.encode()], anc, 0, 'd%d' % os.getuid())
    except OSError as e: print(name, 'refused', e.errno); continue
    msg, anc, flags, addr = s.recvmsg(64, socket.CMSG_SPACE(12))
    pid, uid, gid = struct.unpack('iII', anc[0][2])
    print(msg, pid == os.getpid(), pid if pid == 1 else '', uid, gid)
PY
python3 creds.py && setpriv --reuid=65534 --regid=65534 --clear-groups python3 creds.py"#,
        ),
        (
            "sendmsg to a named socket refuses what the kernel refuses",
            r#"python3 - <<'PY'
import ctypes, socket, os
libc = ctypes.CDLL(None, use_errno=True)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind('d')
c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
class Msg(ctypes.Structure): _fields_ = [('name', ctypes.c_void_p), ('namelen', ctypes.c_uint32), ('iov', ctypes.c_void_p), ('iovlen', ctypes.c_size_t), ('control', ctypes.c_void_p), ('controllen', ctypes.c_size_t), ('flags', ctypes.c_int)]
name = b'\x01\x00d\x00'
nb = ctypes.create_string_buffer(name, len(name))
data = ctypes.create_string_buffer(b'hello', 5)
class Iov(ctypes.Structure): _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]
iov = (Iov * 2)(Iov(ctypes.addressof(data), 5), Iov(ctypes.addressof(data), 3))
def send(**kw):
    m = Msg(ctypes.addressof(nb), len(name), ctypes.addressof(iov), 2, None, 0, 0)
    for k, v in kw.items(): setattr(m, k, v)
    r = libc.sendmsg(c.fileno(), ctypes.byref(m), 0)
    print(sorted(kw), r if r >= 0 else -ctypes.get_errno())
send()
print(s.recv(20))
send(iov=8)
send(iovlen=2000)
iov2 = (Iov * 1)(Iov(8, 5)); send(iov=ctypes.addressof(iov2), iovlen=1)
iov3 = (Iov * 1)(Iov(ctypes.addressof(data), 1 << 63)); send(iov=ctypes.addressof(iov3), iovlen=1)
iov4 = (Iov * 1)(Iov(0, 0)); send(iov=ctypes.addressof(iov4), iovlen=1)
print(s.recv(20))
send(control=8, controllen=16)
cb = ctypes.create_string_buffer(b'\x0c' + b'\x00' * 15, 16); send(control=ctypes.addressof(cb), controllen=16)
send(controllen=1 << 40)
send(iovlen=0)
print(s.recv(20))
PY"#,
        ),
        (
            "the *xattrat calls",
            r#"python3 - <<'PY'
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
class Args(ctypes.Structure): _fields_ = [('value', ctypes.c_uint64), ('size', ctypes.c_uint32), ('flags', ctypes.c_uint32)]
SET, GET, LIST, REMOVE, AT_FDCWD, NOFOLLOW, EMPTY = 463, 464, 465, 466, -100, 0x100, 0x1000
def call(*a):
    r = libc.syscall(*a)
    return r if r >= 0 else -ctypes.get_errno()
def args(buf, size, flags=0, usize=16):
    return ctypes.byref(Args(ctypes.addressof(buf) if buf is not None else 0, size, flags)), ctypes.c_size_t(usize)
open('f', 'w').close(); os.symlink('f', 'l'); os.mkdir('d')
v = ctypes.create_string_buffer(b'a value', 7)
out = ctypes.create_string_buffer(64)
print('set', call(SET, AT_FDCWD, b'l', 0, b'user.k', *args(v, 7)))
print('set on a symlink', call(SET, AT_FDCWD, b'l', NOFOLLOW, b'user.k', *args(v, 7)))
print('create again', call(SET, AT_FDCWD, b'f', 0, b'user.k', *args(v, 7, 1)))
print('set relative to a dirfd', call(SET, os.open('d', os.O_RDONLY), b'../f', 0, b'user.j', *args(v, 3)))
print('get', call(GET, AT_FDCWD, b'l', 0, b'user.k', *args(out, 64)), out.raw[:7])
print('get its size', call(GET, AT_FDCWD, b'f', 0, b'user.k', *args(None, 0)))
print('too small', call(GET, AT_FDCWD, b'f', 0, b'user.k', *args(out, 2)))
print('flags', call(GET, AT_FDCWD, b'f', 0, b'user.k', *args(out, 64, 1)))
print('short args', call(GET, AT_FDCWD, b'f', 0, b'user.k', *args(out, 64, 0, 8)))
print('long args', call(GET, AT_FDCWD, b'f', 0, b'user.k', *args(out, 64, 0, 8192)))
print('no such attribute', call(GET, AT_FDCWD, b'f', 0, b'user.none', *args(out, 64)))
print('no such file', call(GET, AT_FDCWD, b'none', 0, b'user.k', *args(out, 64)))
print('on a descriptor', call(GET, os.open('f', os.O_RDONLY), b'', EMPTY, b'user.j', *args(out, 64)), out.raw[:3])
names = ctypes.create_string_buffer(256)
n = call(LIST, AT_FDCWD, b'l', 0, names, ctypes.c_size_t(256)); print('list', n, sorted(names.raw[:max(n, 0)].split(b'\0')))
print('list its size', call(LIST, AT_FDCWD, b'f', 0, None, ctypes.c_size_t(0)))
print('list too small', call(LIST, AT_FDCWD, b'f', 0, names, ctypes.c_size_t(3)))
print('remove', call(REMOVE, AT_FDCWD, b'l', 0, b'user.k'), call(REMOVE, AT_FDCWD, b'f', 0, b'user.k'))
print('listed after', call(LIST, AT_FDCWD, b'f', 0, names, ctypes.c_size_t(256)))
print('getxattr', os.getxattr('f', 'user.j'))
PY"#,
        ),
    ]);
}

/// What "VFS on descriptors" promises, against chroot: every path call with a trailing slash
/// on a file, a directory, a missing name and a dangling symlink; a cwd renamed under the
/// process; a cwd deeper than PATH_MAX reached by relative paths.
#[test]
fn trailing_slashes_renamed_and_deep_cwds() {
    check(&[
        // Mount points are busy: no rmdir, rename or unlink of one (or rename onto one). The
        // rename is python's, which does not fall back to copying as mv does on EXDEV.
        ("mount points are busy", "mkdir d && python3 -c \"import os\nfor name, f in (('rmdir', lambda: os.rmdir('/proc')), ('rename', lambda: os.rename('/proc', 'p2')), ('rename onto', lambda: os.rename('d', '/dev')), ('mkdir', lambda: os.mkdir('/proc')), ('unlink', lambda: os.unlink('/proc')), ('rename across', lambda: os.rename('/proc', '/dev/x')), ('unlinkat dir', lambda: os.rmdir('/dev'))):\n  try: f(); print(name, 'done')\n  except OSError as e: print(name, e.errno)\" && ls -d /proc /dev d"),
        (
            "trailing slashes",
            r#"touch f && mkdir d && ln -s nope dangling && ln -s d dl && python3 - <<'PY'
import os
def e(f):
    try:
        r = f()
        return 'ok' if r is None or isinstance(r, int) else type(r).__name__
    except OSError as x:
        return x.errno
for n in ('f/', 'd/', 'new/', 'dangling/', 'dl/'):
    out = []
    out.append(e(lambda: os.close(os.open(n, os.O_RDONLY))))
    out.append(e(lambda: os.close(os.open(n, os.O_CREAT | os.O_WRONLY, 0o644))))
    out.append(e(lambda: os.stat(n)))
    out.append(e(lambda: os.lstat(n)))
    out.append(e(lambda: os.access(n, os.F_OK)))
    out.append(e(lambda: os.mkfifo(n)))
    out.append(e(lambda: os.symlink('x', n)))
    out.append(e(lambda: os.link('f', n)))
    out.append(e(lambda: os.mkdir(n)))
    out.append(e(lambda: os.chmod(n, 0o755)))
    out.append(e(lambda: os.listdir(n)))
    out.append(e(lambda: os.rename('f', n)))
    print(n, out, sorted(os.listdir('.')))
    for x in os.listdir('.'):
        if x not in ('f', 'd', 'dangling', 'dl'):
            (os.rmdir if os.path.isdir(x) and not os.path.islink(x) else os.unlink)(x)
    if not os.path.exists('f'):
        open('f', 'w').close()
print(e(lambda: os.rename('d/', 'e/')), e(lambda: os.rename('e', 'd/')), e(lambda: os.unlink('f/')), e(lambda: os.rmdir('d/')))
PY"#,
        ),
        (
            "a cwd renamed under the process",
            "mkdir -p rn/b && cd rn/b && mv ../b ../c && /bin/pwd | sed \"s|^$d||\" && python3 -c 'import os, sys; print(os.getcwd()[len(sys.argv[1]):], os.listdir(\"..\"))' \"$d\" && cd .. && rmdir c && cd c 2>/dev/null; echo $?",
        ),
        (
            "the parent of a deleted directory through /proc/self/fd",
            "mkdir -p p/gone && python3 -c \"import os\nfd = os.open('p/gone', os.O_RDONLY); os.rmdir('p/gone'); here = os.getcwd()\nfor path in ('/proc/self/fd/%d/..' % fd, '/proc/self/fd/%d' % fd, '/proc/self/fd/%d/x' % fd, '/proc/self/fd/%d/../..' % fd):\n  try: os.chdir(path); print('ok', os.getcwd()[len(here):])\n  except OSError as e: print(e.errno)\n  os.chdir(here)\nprint(os.listdir('/proc/self/fd/%d/..' % fd))\"",
        ),
        (
            "a deleted cwd",
            "mkdir gone && cd gone && rmdir ../gone && python3 -c 'import os\ntry: os.getcwd()\nexcept OSError as e: print(e.errno)\nprint(os.listdir(\".\"))'",
        ),
        (
            "chroot, then exec",
            r#"mkdir -p cr/sub && cat > hi.c <<'EOF'
static long sys(long n, long a, long b, long c) { long r; __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory"); return r; }
void _start(void) {
    char buf[256];
    long n = sys(79, (long)buf, sizeof buf - 1, 0);
    if (n > 0) { buf[n - 1] = '\n'; sys(1, 1, (long)buf, n); }
    char c[3] = {sys(21, (long)"/etc/passwd", 0, 0) == 0 ? 'y' : 'n', sys(21, (long)"/hi", 0, 0) == 0 ? 'y' : 'n', '\n'};
    sys(1, 1, (long)c, 3);
    sys(60, 0, 0, 0);
}
EOF
gcc -nostdlib -static -O1 -fno-stack-protector -o cr/hi hi.c && /usr/sbin/chroot cr /hi && cd cr/sub && /usr/sbin/chroot .. /hi && python3 -c "import os; os.chroot('..'); print(os.getcwd()); os.execv('/hi', ['/hi'])""#,
        ),
        (
            "search permission through a symlink after a privilege drop",
            "mkdir -p priv/x && echo hi > priv/x/f && chmod 700 priv && ln -s priv/x lnk && ln -s $PWD/priv/x abs && chmod 755 . && \
             python3 -c \"import os\nos.setgroups([]); os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)\nfor p in ('priv/x/f', 'lnk/f', 'abs/f', 'lnk', 'priv'):\n  try: print(p, open(p).read().strip() if not os.path.isdir(p) else os.listdir(p))\n  except OSError as e: print(p, e.errno)\n  print(p, os.access(p, os.R_OK), os.path.exists(p + '/f'))\"",
        ),
        (
            "files lxrun makes get the guest's umask",
            "for m in 0 077 022; do umask $m; mkdir u$m; touch t$m; mkfifo p$m; python3 -c \"import os; os.mknod('n$m', 0o10666); os.symlink('x', 's$m'); os.close(os.open('o$m', os.O_CREAT | os.O_WRONLY, 0o666))\"; done; stat -c '%a %n' u* t* p* n* o*",
        ),
        (
            "a cwd deeper than PATH_MAX",
            "python3 -c \"import os\nn = 'd' * 200\nfor i in range(25):\n  os.mkdir(n); os.chdir(n)\nopen('f', 'w').write('deep')\nprint(open('f').read(), os.stat('..').st_nlink, len(os.listdir('.')))\nimport ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nbuf = ctypes.create_string_buffer(8192)\nprint('getcwd', libc.syscall(79, buf, 8192), ctypes.get_errno())\nprint('libc getcwd', len(os.getcwd()))\nup = os.open('..', os.O_RDONLY, dir_fd=os.open('.', os.O_RDONLY))\nprint('up', os.listdir(up) == [n], os.stat(up).st_ino == os.stat('..').st_ino)\nos.mkdir('x', dir_fd=up); os.rmdir('x', dir_fd=up)\nos.chdir('../' * 24 + '..')\nprint(os.path.exists(n))\" && rm -rf dd* && ls",
        ),
    ]);
}

/// execve's checks as the kernel makes them for the calling task: MAY_EXEC with its
/// filesystem ids and groups (root: any execute bit), search permission on the way, the same
/// for a `#!` interpreter (LTP execve02). Each exec runs in a child that first drops from root
/// to nobody; an errno comes back as its exit status (plus 100). (Every program here is readable
/// by whoever may run it: under ptrace the loader stub opens the program by name, which an
/// execute-only file refuses.)
#[test]
fn exec_with_the_callers_credentials() {
    check(&[(
        "execve after a privilege drop",
        r#"chmod 755 . && cp /bin/true p700 && chmod 700 p700 && cp /bin/true p705 && chmod 705 p705 && cp /bin/true p750 && chown 0:65534 p750 && chmod 750 p750 && cp /bin/true p600 && chmod 600 p600 && cp /bin/true p100 && chmod 100 p100 && mkdir -m 700 d && cp /bin/true d/p && mkdir -m 711 x && cp /bin/true x/p && printf '#!/bin/sh\necho script ran\n' > s700 && chmod 700 s700 && printf '#!%s/p700\n' "$PWD" > viap700 && chmod 755 viap700 && python3 -c "
import os, sys
def run(uid, path):
    pid = os.fork()
    if pid == 0:
        try:
            if uid:
                os.setgroups([]); os.setresgid(uid, uid, uid); os.setresuid(uid, uid, uid)
            os.execv(path, [path])
        except OSError as e:
            os._exit(100 + e.errno)
    _, st = os.waitpid(pid, 0)
    c = os.waitstatus_to_exitcode(st)
    return 'errno %d' % (c - 100) if c >= 100 else 'ran, status %d' % c
for uid in (0, 65534):
    print(uid, [(p, run(uid, p)) for p in ('p700', 'p705', 'p750', 'p600', 'p100', 'd/p', 'x/p', 's700', 'viap700')])
""#,
    )]);
}

/// execveat as the kernel answers it: AT_SYMLINK_NOFOLLOW on a final symlink is ELOOP (any
/// name form: relative, absolute, dirfd-relative, an O_PATH descriptor of the link), and a
/// `#!` script named through a close-on-exec descriptor (AT_EMPTY_PATH) or relative to a
/// close-on-exec dirfd is ENOENT at once: its interpreter could not open /dev/fd/N once the
/// exec had closed it (gVisor's InterpreterScriptWithCloexecFD / WithCloexecDirFD). An ELF,
/// or an absolute name, is not concerned. An errno comes back as the child's status plus 100.
#[test]
fn execveat_flags_and_close_on_exec_names() {
    check(&[(
        "execveat: AT_SYMLINK_NOFOLLOW and close-on-exec descriptors",
        r#"chmod 755 . && printf '#!/bin/sh\necho script ran\n' > s && chmod 755 s && ln -s s link && ln -s nowhere dangling && ln -s sub dlink && ln -s /bin/true tlink && ln -s $PWD/s alink && mkdir sub && cp s sub/s && ln -s ../s sub/up && python3 -c "
import os, ctypes
libc = ctypes.CDLL(None, use_errno=True)
def ea(dirfd, path, flags):
    pid = os.fork()
    if pid == 0:
        argv = (ctypes.c_char_p * 2)(b'x', None)
        envp = (ctypes.c_char_p * 1)(None)
        libc.syscall(322, dirfd, path, argv, envp, flags)
        os._exit(100 + ctypes.get_errno())
    _, st = os.waitpid(pid, 0)
    c = os.waitstatus_to_exitcode(st)
    return 'errno %d' % (c - 100) if c >= 100 else 'ran, status %d' % c
AT_EMPTY_PATH, NOFOLLOW = 0x1000, 0x100
print('nofollow script link', ea(-100, b'link', NOFOLLOW))
print('nofollow elf link', ea(-100, b'tlink', NOFOLLOW))
print('nofollow plain', ea(-100, b's', NOFOLLOW))
print('nofollow dangling', ea(-100, b'dangling', NOFOLLOW))
print('nofollow missing', ea(-100, b'nolink', NOFOLLOW))
print('nofollow dir link', ea(-100, b'dlink', NOFOLLOW))
print('nofollow through dir link', ea(-100, b'dlink/s', NOFOLLOW))
fd = os.open('s', os.O_RDONLY); os.set_inheritable(fd, True)
print('empty path script', ea(fd, b'', AT_EMPTY_PATH))
fd = os.open('s', os.O_RDONLY | os.O_CLOEXEC)
print('empty path script cloexec', ea(fd, b'', AT_EMPTY_PATH))
fd = os.open('/bin/true', os.O_RDONLY | os.O_CLOEXEC)
print('empty path elf cloexec', ea(fd, b'', AT_EMPTY_PATH))
fd = os.open('s', os.O_PATH | os.O_CLOEXEC)
print('empty path script opath cloexec', ea(fd, b'', AT_EMPTY_PATH))
d = os.open('sub', os.O_RDONLY | os.O_DIRECTORY); os.set_inheritable(d, True)
print('dirfd script', ea(d, b's', 0))
d = os.open('sub', os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
print('dirfd script cloexec', ea(d, b's', 0))
print('dirfd script cloexec abs', ea(d, os.path.abspath('s').encode(), 0))
print('dirfd elf cloexec', ea(d, b'/bin/true', 0))
fd = os.open('link', os.O_PATH | os.O_NOFOLLOW)
print('empty path on symlink opath', ea(fd, b'', AT_EMPTY_PATH))
E, N = 0x1000, 0x100
print('abs link', ea(-100, os.path.abspath('link').encode(), N))
print('abs alink', ea(-100, os.path.abspath('alink').encode(), N))
d = os.open('sub', os.O_RDONLY)
print('dirfd up', ea(d, b'up', N))
fd = os.open('link', os.O_PATH | os.O_NOFOLLOW); os.set_inheritable(fd, True)
print('empty+nofollow', ea(fd, b'', E | N))
print('empty', ea(fd, b'', E))
fd = os.open('s', os.O_PATH); os.set_inheritable(fd, True)
print('empty opath file', ea(fd, b'', E|N))
print('execve link', ea(-100, b'link', 0))
""#,
    )]);
}

/// Calls that reach into another process, between two guests as natively: a parent reads and
/// writes its child's memory (process_vm_readv/writev) and takes one of its descriptors
/// (pidfd_open + pidfd_getfd), in every mode (in systrap mode the child is a fork lxrun has
/// not met yet); a pid that does not exist, or no longer, is ESRCH (LTP process_vm01,
/// process_vm_readv02/03); bad flags EINVAL. (tests/escape.rs: towards lxrun or the host,
/// EPERM.)
#[test]
fn process_vm_and_pidfd_getfd_between_guests() {
    check(&[(
        "process_vm and pidfd_getfd of a child",
        r#"python3 -c "
import os, ctypes, struct, time
libc = ctypes.CDLL(None, use_errno=True)
def call(*a):
    r = libc.syscall(*[ctypes.c_long(x) if isinstance(x, int) else x for x in a]); return r if r >= 0 else -ctypes.get_errno()
class iovec(ctypes.Structure):
    _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]
buf = ctypes.create_string_buffer(b'parent memory!', 32)
addr = ctypes.addressof(buf)
r, w = os.pipe()
r2, w2 = os.pipe()
pid = os.fork()
if pid == 0:
    buf.value = b'child memory'
    fd = os.open('/etc/hostname', os.O_RDONLY)
    os.write(w, struct.pack('i', fd))
    os.read(r2, 1)
    print('child now holds', buf.value, flush=True)
    os._exit(0)
fd_in_child, = struct.unpack('i', os.read(r, 4))
out = ctypes.create_string_buffer(32)
local = iovec(ctypes.addressof(out), 12); remote = iovec(addr, 12)
print('readv child', call(310, pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0), out.value)
src = ctypes.create_string_buffer(b'WRITTEN', 32)
local = iovec(ctypes.addressof(src), 8); remote = iovec(addr, 8)
print('writev child', call(311, pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0))
print('readv self', call(310, os.getpid(), ctypes.byref(local), 1, ctypes.byref(iovec(addr, 8)), 1, 0))
print('readv no such pid', call(310, 4194000, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0))
print('writev no such pid', call(311, 4194000, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0))
print('readv bad flags', call(310, pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 1))
print('readv bad remote', call(310, pid, ctypes.byref(local), 1, ctypes.byref(iovec(8, 8)), 1, 0))
pidfd = call(434, pid, 0)
got = call(438, pidfd, fd_in_child, 0)
print('pidfd_getfd', got > 0, os.readlink('/proc/self/fd/%d' % got) if got > 0 else got, os.path.samestat(os.fstat(got), os.stat('/etc/hostname')) if got > 0 else '')
print('pidfd_getfd bad fd', call(438, pidfd, 999, 0), 'bad flags', call(438, pidfd, fd_in_child, 1), 'not a pidfd', call(438, 0, 0, 0))
os.write(w2, b'x'); os.waitpid(pid, 0)
print('pidfd_getfd of a reaped child', call(438, pidfd, fd_in_child, 0))
print('readv of a reaped child', call(310, pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0))
""#,
    )]);
}

/// In the root, where lxrun opens what the in-process fast path cannot (openat2, handles): the
/// guest's close ends the open file, as under chroot (linux-binaries/lastref.c).
#[test]
fn a_given_file_is_the_guests_alone() {
    if needs_root("the chroot oracle") {
        return;
    }
    let mut failures = Vec::new();
    InRoot::new("lastref").compare_runs("lastref", false, &mut failures, |_, _| {});
    assert_no_failures(&failures);
}
