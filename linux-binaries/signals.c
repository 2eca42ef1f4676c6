/* signals: signal delivery, masks, alternate stacks, SIGCHLD, SA_RESTART.
 *
 * Prints outcomes only (never timings or addresses); exits 0 only if every
 * outcome matched the expectation. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"

static int failures;

static void expect(const char *what, long got, long want)
{
    printf("%s: %ld", what, got);
    if (got != want) {
        printf("  MISMATCH (want %ld)", want);
        failures++;
    }
    printf("\n");
}

static void install(int sig, void (*handler)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) != 0) {
        printf("sigaction(%d) failed: %s\n", sig, errno_name(errno));
        exit(2);
    }
}

static void set_blocked(int sig, int how)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(how, &set, NULL);
}

static volatile sig_atomic_t usr1_count, usr2_count, chld_count, alrm_count;
static volatile sig_atomic_t on_alt_stack, alt_flag_seen;
static volatile pid_t writer_pid;
static char alt_stack[256 * 1024];

static void on_usr1(int sig) { (void)sig; usr1_count++; }
static void on_usr2(int sig) { (void)sig; usr2_count++; }
static void on_chld(int sig) { (void)sig; chld_count++; }
static void noop(int sig) { (void)sig; }

static void on_segv_alt(int sig)
{
    char local;
    stack_t cur;
    uintptr_t lo = (uintptr_t)alt_stack, hi = lo + sizeof alt_stack;
    (void)sig;
    on_alt_stack = (uintptr_t)&local >= lo && (uintptr_t)&local < hi;
    if (sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_ONSTACK))
        alt_flag_seen = 1;
}

/* SIGALRM handler: counts, then tells the writer child to write to the pipe
 * (so the write always happens after the read was interrupted). */
static void on_alrm(int sig)
{
    (void)sig;
    alrm_count++;
    if (writer_pid > 0)
        kill(writer_pid, SIGUSR1);
}

/* Forks a child that waits for SIGUSR1 and then writes one byte to fd. */
static pid_t start_writer(int fd)
{
    sigset_t wait_mask;
    pid_t pid;

    install(SIGUSR1, noop, 0);
    set_blocked(SIGUSR1, SIG_BLOCK);
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        sigprocmask(SIG_SETMASK, NULL, &wait_mask);
        sigdelset(&wait_mask, SIGUSR1);
        sigsuspend(&wait_mask);
        if (write(fd, "x", 1) != 1)
            _exit(3);
        _exit(0);
    }
    set_blocked(SIGUSR1, SIG_UNBLOCK);
    return pid;
}

static void restart_test(const char *name, int flags, long want_ret,
                         int want_errno)
{
    int pfd[2];
    char c;
    ssize_t r;
    int e, status;
    struct itimerval it;

    if (pipe(pfd) != 0) {
        printf("pipe failed\n");
        exit(2);
    }
    alrm_count = 0;
    install(SIGALRM, on_alrm, flags);
    writer_pid = start_writer(pfd[1]);

    memset(&it, 0, sizeof it);
    it.it_value.tv_usec = 150 * 1000;
    setitimer(ITIMER_REAL, &it, NULL);
    r = read(pfd[0], &c, 1);
    e = errno;
    printf("%s: read returned %ld%s%s\n", name, (long)r, r < 0 ? " " : "",
           r < 0 ? errno_name(e) : "");
    expect("  read result", r, want_ret);
    if (r < 0)
        expect("  errno is expected", e == want_errno, 1);
    expect("  alarm handler calls", alrm_count, 1);

    waitpid(writer_pid, &status, 0);
    writer_pid = 0;
    expect("  writer exit status", WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);
    close(pfd[0]);
    close(pfd[1]);
    install(SIGALRM, SIG_DFL, 0);
}

static volatile sig_atomic_t nested_count;

static void on_alrm_masking(int sig)
{
    sigset_t set, old;
    (void)sig;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, &old);
    sigprocmask(SIG_SETMASK, &old, NULL);
    nested_count++;
}

static void nested_mask_test(void)
{
    struct itimerval every = {{0, 1000}, {0, 1000}}, off = {{0, 0}, {0, 0}};
    sigset_t set, old;
    install(SIGALRM, on_alrm_masking, SA_RESTART);
    setitimer(ITIMER_REAL, &every, NULL);
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    for (long i = 0; i < 20000000 && nested_count < 200; i++) {
        sigprocmask(SIG_BLOCK, &set, &old);
        sigprocmask(SIG_SETMASK, &old, NULL);
    }
    setitimer(ITIMER_REAL, &off, NULL);
    install(SIGALRM, SIG_DFL, 0);
    expect("masking handler ran 200 times amid masking", nested_count >= 200, 1);
}

int main(void)
{
    sigset_t pending, mask;
    stack_t ss;
    pid_t pid;
    int status;

    /* 1. handler + raise */
    install(SIGUSR1, on_usr1, 0);
    raise(SIGUSR1);
    raise(SIGUSR1);
    raise(SIGUSR1);
    expect("SIGUSR1 handler count after 3 raises", usr1_count, 3);

    /* 2. blocking, pending, unblocking */
    install(SIGUSR2, on_usr2, 0);
    set_blocked(SIGUSR2, SIG_BLOCK);
    raise(SIGUSR2);
    expect("SIGUSR2 count while blocked", usr2_count, 0);
    sigpending(&pending);
    expect("SIGUSR2 pending", sigismember(&pending, SIGUSR2), 1);
    expect("SIGUSR1 pending", sigismember(&pending, SIGUSR1), 0);
    set_blocked(SIGUSR2, SIG_UNBLOCK);
    expect("SIGUSR2 count after unblock", usr2_count, 1);
    sigpending(&pending);
    expect("SIGUSR2 pending after unblock", sigismember(&pending, SIGUSR2), 0);
    sigprocmask(SIG_SETMASK, NULL, &mask);
    expect("SIGUSR2 still blocked", sigismember(&mask, SIGUSR2), 0);

    /* 3. alternate signal stack */
    memset(&ss, 0, sizeof ss);
    ss.ss_sp = alt_stack;
    ss.ss_size = sizeof alt_stack;
    expect("sigaltstack", sigaltstack(&ss, NULL), 0);
    install(SIGURG, on_segv_alt, SA_ONSTACK);
    raise(SIGURG);
    expect("handler ran on alt stack", on_alt_stack, 1);
    expect("SS_ONSTACK seen in handler", alt_flag_seen, 1);
    sigaltstack(NULL, &ss);
    expect("SS_ONSTACK outside handler", (ss.ss_flags & SS_ONSTACK) != 0, 0);
    install(SIGURG, SIG_DFL, 0);

    /* 4. SIGCHLD */
    install(SIGCHLD, on_chld, 0);
    set_blocked(SIGCHLD, SIG_BLOCK);
    fflush(stdout);
    pid = fork();
    if (pid == 0)
        _exit(0);
    sigprocmask(SIG_SETMASK, NULL, &mask);
    sigdelset(&mask, SIGCHLD);
    while (chld_count == 0)
        sigsuspend(&mask);
    set_blocked(SIGCHLD, SIG_UNBLOCK);
    expect("SIGCHLD handler fired", chld_count, 1);
    expect("waitpid after SIGCHLD", waitpid(pid, &status, 0) == pid, 1);
    expect("child exit status", WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);
    install(SIGCHLD, SIG_DFL, 0);

    /* 5. child killed by SIGTERM */
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        for (;;)
            pause();
    }
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    expect("child WIFSIGNALED", WIFSIGNALED(status), 1);
    expect("child WTERMSIG", WIFSIGNALED(status) ? WTERMSIG(status) : -1, SIGTERM);

    /* 6. SA_RESTART vs EINTR on a pipe read interrupted by SIGALRM */
    restart_test("with SA_RESTART", SA_RESTART, 1, 0);
    restart_test("without SA_RESTART", 0, -1, EINTR);

    /* 7. a handler that changes the mask, run while the interrupted code changes it too (a
     * layer catching rt_sigprocmask in a signal handler of its own must let signals nest) */
    nested_mask_test();

    printf("failures: %d\n", failures);
    return failures ? 1 : 0;
}
