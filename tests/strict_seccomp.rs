//! seccomp's strict mode (linux-binaries/strict): entered by seccomp(SECCOMP_SET_MODE_STRICT)
//! and by prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT), read, write, exit and rt_sigreturn run,
//! anything else kills with SIGKILL, and the kernel's EINVAL for bad arguments or a filter the
//! process has already; compared with the native run, in the host's tree and in a foreign
//! root (where the stub's handler answers path calls in the process).

mod common;

use common::*;

/// The backends that emulate strict mode (systrap mode, `seccomp`); the ptrace modes still
/// answer EINVAL, as for a process with a filter (docs/architecture.md).
fn emulating() -> Vec<&'static str> {
    backends().into_iter().filter(|b| *b == "seccomp").collect()
}

#[test]
fn strict_mode_as_natively() {
    ensure_built();
    let mut failures = Vec::new();
    for variant in VARIANTS {
        let exe = binary(variant, "strict");
        let native = run_native(&Cmd::new(&exe));
        if !native.success() {
            failures.push(format!(
                "strict/{variant} [native]: the test program failed natively\n{native}"
            ));
            continue;
        }
        for backend in emulating() {
            let plain = run_lxrun(backend, &Cmd::new(&exe));
            if let Err(e) = compare(&format!("strict/{variant} [{backend}]"), &native, &plain) {
                failures.push(e);
            }
            let bound = run_lxrun_with(backend, &["-b", "/tmp:/tmp"], &Cmd::new(&exe));
            if let Err(e) = compare(&format!("strict/{variant} [{backend}, a bind]"), &native, &bound) {
                failures.push(e);
            }
        }
    }
    assert_no_failures(&failures);
}
