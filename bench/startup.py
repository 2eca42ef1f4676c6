#!/usr/bin/env python3
"""Where lxrun's start-up goes: runs `lxrun [ARGS] -- PROGRAM` (default /bin/true) N times with
LXRUN_LOG=startup=debug and prints, per phase lxrun logs (target "startup"), the median time
since the phase before it, then the median wall time of the whole run and of PROGRAM natively,
interleaved run by run. Measures; asserts nothing.

    bench/startup.py                      # this tree's lxrun, 40 runs
    bench/startup.py --runs 80 --lxrun /tmp/lx-before -- --root /var/cache/... -- /bin/true
"""
import argparse
import os
import re
import statistics
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT = os.path.join(HERE, "..", "target", "x86_64-unknown-linux-gnu", "release", "lxrun")
STAMP = re.compile(r"T(\d+):(\d+):(\d+\.\d+)Z\s+DEBUG\s+(.*?)(?: tid=\d+)?$")
COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def phases(stderr):
    """(phase, seconds since the phase before) for each startup event after the first."""
    out, prev = [], None
    for line in stderr.splitlines():
        m = STAMP.search(COLOUR.sub("", line))
        if not m:
            continue
        t = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
        if prev is not None:
            out.append((m.group(4), t - prev))
        prev = t
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=40)
    p.add_argument("--lxrun", default=DEFAULT)
    p.add_argument("args", nargs="*", help="lxrun's arguments (default: -- /bin/true)")
    a = p.parse_args()
    args = a.args or ["--", "/bin/true"]
    program = args[args.index("--") + 1:] if "--" in args else args[-1:]
    env = dict(os.environ, LXRUN_LOG="startup=debug")
    per, wall, native = {}, [], []
    for _ in range(a.runs):
        s = time.perf_counter()
        subprocess.run(program, stdout=subprocess.DEVNULL)
        native.append(time.perf_counter() - s)
        s = time.perf_counter()
        r = subprocess.run([a.lxrun] + args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall.append(time.perf_counter() - s)
        for name, dt in phases(r.stderr):
            per.setdefault(name, []).append(dt)
    ms = lambda v: statistics.median(v) * 1000
    for name, v in per.items():
        print(f"{ms(v):7.3f} ms  until: {name}")
    print(f"{ms(wall):7.3f} ms  the whole run (median of {a.runs}); natively {ms(native):.3f} ms")


if __name__ == "__main__":
    main()
