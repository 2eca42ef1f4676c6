//! seccomp's strict mode (linux-binaries/strict): entered by seccomp(SECCOMP_SET_MODE_STRICT)
//! and by prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT), read, write, exit and rt_sigreturn run,
//! anything else kills with SIGKILL, and the kernel's EINVAL for bad arguments or a filter the
//! process has already; compared with the native run on every backend, plainly and with a
//! bind (so that path calls trap: a trapped call is strict mode's too).

mod common;

use common::*;

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
        for backend in backends() {
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
