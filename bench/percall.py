#!/usr/bin/env python3
"""Per-call cost of path calls in the Debian test root, timed inside the guest (so no runner
pays any set-up in the timed region): stat, lstat, open+close, access, readlink, getxattr and
listxattr of a plain path and of a path through a symlink, natively (chroot in a namespace made
outside the timing) and under lxrun with each backend, interleaved round by round; prints the
median microseconds per call and the ratio to native. A benchmark, never a test.

  bench/percall.py [--rounds N] [--calls N] [--backends B,...] [--lxrun LABEL=PATH ...] [--markdown]

--lxrun adds another lxrun build (e.g. `--lxrun before=/tmp/old/lxrun`) run with every
backend beside this tree's. Needs root (chroot).
"""
import argparse, glob, os, statistics, subprocess, sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LXRUN = os.path.join(REPO, "target", "x86_64-unknown-linux-gnu", "release", "lxrun")
BACKENDS = ["seccomp", "seccomp-ptrace", "ptrace"]

# Runs inside the guest: one line per case, "name microseconds".
GUEST = r'''
import os, sys, time
n = int(sys.argv[1])
plain = "/usr/lib/os-release"            # three components, no symlink
link = "/etc/os-release"                 # a symlink to ../usr/lib/os-release
deep = "/lib/x86_64-linux-gnu/libc.so.6" # through merged /usr's /lib symlink
def t(f, p):
    f(p)
    s = time.perf_counter()
    for _ in range(n):
        f(p)
    return (time.perf_counter() - s) / n * 1e6
def tryx(f):
    def g(p):
        try:
            f(p)
        except OSError:
            pass
    return g
cases = [
    ("stat", os.stat), ("lstat", os.lstat), ("open+close", lambda p: os.close(os.open(p, os.O_RDONLY))),
    ("access", lambda p: os.access(p, os.R_OK)), ("readlink", tryx(os.readlink)),
    ("getxattr", tryx(lambda p: os.getxattr(p, "user.x"))), ("listxattr", tryx(os.listxattr)),
]
for name, f in cases:
    for tag, p in (("plain", plain), ("symlink", link), ("/lib symlink", deep)):
        print(f"{name} ({tag})", round(t(f, p), 3))
'''


def native_argv(root, cmd):
    setup = f"mount -t proc proc '{root}/proc' && exec /usr/sbin/chroot '{root}' /bin/sh -c \"$0\""
    return ["unshare", "-m", "--propagation", "private", "--", "/bin/sh", "-c", setup, cmd]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--lxrun", action="append", default=[], help="LABEL=PATH of another lxrun build")
    ap.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated subset of " + ",".join(BACKENDS))
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    root = sorted(glob.glob("/var/cache/lxrun-tests/debian-*/"))[0].rstrip("/")
    with open(os.path.join(root, "tmp", "lxrun-percall.py"), "w") as f:
        f.write(GUEST)
    cmd = f"python3 /tmp/lxrun-percall.py {a.calls}"
    runners = {"native": native_argv(root, cmd)}
    builds = [("", LXRUN)] + [tuple(x.split("=", 1)) for x in a.lxrun]
    for label, path in builds:
        for b in a.backends.split(","):
            name = f"{label + ' ' if label else ''}{b}"
            runners[name] = [path, "--backend", b, "--root", root, "--", "/bin/sh", "-c", cmd]
    times = {r: {} for r in runners}
    for _ in range(a.rounds):
        for r, argv in runners.items():
            out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
            for line in out.splitlines():
                case, us = line.rsplit(" ", 1)
                times[r].setdefault(case, []).append(float(us))
    cases = list(times["native"])
    names = list(runners)
    if a.markdown:
        print("| call | " + " | ".join(names) + " |")
        print("|---|" + "---|" * len(names))
    else:
        print(f"{'call':<26}" + "".join(f"{n:>22}" for n in names))
    for c in cases:
        nat = statistics.median(times["native"][c])
        cells = []
        for r in names:
            m = statistics.median(times[r][c])
            cells.append(f"{m:.2f}" if r == "native" else f"{m:.2f} ({m / nat:.1f}x)")
        if a.markdown:
            print(f"| {c} | " + " | ".join(cells) + " |")
        else:
            print(f"{c:<26}" + "".join(f"{x:>22}" for x in cells))
    print(f"\n(µs per call, median of {a.rounds} rounds of {a.calls} calls each, timed in the guest)")


if __name__ == "__main__":
    main()
