/* clone3: the ways glibc, container tools and test suites call it, with the kernel's answers.
 *
 * A process copy that clears the signal handlers (CLONE_CLEAR_SIGHAND, as posix_spawn asks)
 * and then makes calls lxrun may catch; CLONE_PIDFD; a thread on a stack of its own; a vfork
 * child on a stack of its own (posix_spawn's shape); posix_spawn and pthread_create
 * themselves; and clone3's argument errors. Prints outcomes only; exits 0 only if every
 * outcome matched. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"

struct clone_args_v2 {
    unsigned long long flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
        set_tid_size, cgroup;
};

#define CLONE_CLEAR_SIGHAND_ 0x100000000ULL
#define CLONE_PIDFD_ 0x1000ULL

static int failures;

static void expect(const char *what, long got, long want)
{
    printf("%s: %ld", what, got);
    if (got != want) {
        printf("  MISMATCH (want %ld)", want);
        failures++;
    }
    printf("\n");
    fflush(stdout);
}

static void expect_errno(const char *what, long r, int want)
{
    printf("%s: %s", what, r < 0 ? errno_name(errno) : "success");
    if (!(r < 0 && errno == want)) {
        printf("  MISMATCH (want %s)", errno_name(want));
        failures++;
    }
    printf("\n");
    fflush(stdout);
}

static long sys_clone3(struct clone_args_v2 *a, size_t size)
{
    return syscall(435, a, size);
}

/* clone3 whose child runs fn(arg) on the stack the arguments give, then exits with its result
 * (raw calls only: the child has no C frame to return to). */
static long clone3_run(struct clone_args_v2 *a, size_t size, int (*fn)(void *), void *arg)
{
    register long rax __asm__("rax") = 435;
    register void *rdi __asm__("rdi") = a;
    register size_t rsi __asm__("rsi") = size;
    register int (*r12)(void *) __asm__("r12") = fn;
    register void *r13 __asm__("r13") = arg;
    __asm__ volatile("syscall\n\t"
                     "test %%rax, %%rax\n\t"
                     "jnz 1f\n\t"
                     "mov %%r13, %%rdi\n\t"
                     "call *%%r12\n\t"
                     "mov %%rax, %%rdi\n\t"
                     "mov $60, %%eax\n\t"
                     "syscall\n\t"
                     "ud2\n"
                     "1:"
                     : "+r"(rax)
                     : "r"(rdi), "r"(rsi), "r"(r12), "r"(r13)
                     : "rcx", "r11", "memory");
    if (rax < 0) {
        errno = (int)-rax;
        return -1;
    }
    return rax;
}

static void on_usr1(int sig) { (void)sig; }

/* In a child: 0 if SIGUSR1's handler was cleared and calls lxrun may catch still work. */
static int cleared_child_status(void)
{
    struct sigaction sa;
    sigaction(SIGUSR1, NULL, &sa);
    struct stat st;
    sigset_t none;
    sigemptyset(&none);
    int ok = sa.sa_handler == SIG_DFL && chdir(".") == 0 && stat("/", &st) == 0 &&
             sigprocmask(SIG_SETMASK, &none, NULL) == 0;
    return ok ? 0 : 1;
}

static int exit_code(pid_t pid)
{
    int status;
    if (waitpid(pid, &status, __WALL) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static volatile int thread_ran;

static int thread_fn(void *arg)
{
    struct stat st;
    thread_ran = (chdir(".") == 0 && stat("/", &st) == 0) ? 1 : 2;
    (void)arg;
    return 0;
}

static int vfork_fn(void *arg)
{
    (void)arg;
    syscall(SYS_exit_group, cleared_child_status() == 0 ? 7 : 8);
    return 0;
}

static void *pthread_fn(void *arg)
{
    struct stat st;
    *(int *)arg = chdir(".") == 0 && stat("/", &st) == 0;
    return NULL;
}

int main(void)
{
    signal(SIGUSR1, on_usr1);

    struct clone_args_v2 a;
    memset(&a, 0, sizeof a);
    a.flags = CLONE_CLEAR_SIGHAND_;
    a.exit_signal = SIGCHLD;
    long pid = sys_clone3(&a, sizeof a);
    if (pid == 0)
        syscall(SYS_exit_group, cleared_child_status());
    expect("process copy, handlers cleared: child's status", pid > 0 ? exit_code(pid) : -1, 0);

    int pidfd = -1;
    memset(&a, 0, sizeof a);
    a.flags = CLONE_PIDFD_;
    a.pidfd = (unsigned long long)(unsigned long)&pidfd;
    a.exit_signal = SIGCHLD;
    pid = sys_clone3(&a, 64);
    if (pid == 0)
        syscall(SYS_exit_group, 3);
    expect("CLONE_PIDFD: a close-on-exec pidfd", pidfd >= 0 && (fcntl(pidfd, F_GETFD) & FD_CLOEXEC), 1);
    expect("CLONE_PIDFD: child's status", pid > 0 ? exit_code(pid) : -1, 3);

    size_t size = 256 * 1024;
    char *stack = malloc(size);
    volatile int tid_word = 1;
    memset(&a, 0, sizeof a);
    a.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
              CLONE_CHILD_CLEARTID;
    a.child_tid = (unsigned long long)(unsigned long)&tid_word;
    a.stack = (unsigned long long)(unsigned long)stack;
    a.stack_size = size;
    long tid = clone3_run(&a, sizeof a, thread_fn, NULL);
    for (int i = 0; tid > 0 && tid_word != 0 && i < 5000; i++)
        usleep(1000);
    expect("thread on its own stack: ran and made calls", tid > 0 ? thread_ran : -1, 1);

    memset(&a, 0, sizeof a);
    a.flags = CLONE_VM | CLONE_VFORK | CLONE_CLEAR_SIGHAND_;
    a.exit_signal = SIGCHLD;
    a.stack = (unsigned long long)(unsigned long)stack;
    a.stack_size = size;
    pid = clone3_run(&a, sizeof a, vfork_fn, NULL);
    expect("vfork child on its own stack, handlers cleared: status", pid > 0 ? exit_code(pid) : -1, 7);
    free(stack);

    char *argv[] = {"true", NULL};
    pid_t spawned;
    int r = posix_spawn(&spawned, "/bin/true", NULL, NULL, argv, NULL);
    expect("posix_spawn /bin/true: status", r == 0 ? exit_code(spawned) : -1, 0);

    int made_calls = 0;
    pthread_t t;
    if (pthread_create(&t, NULL, pthread_fn, &made_calls) == 0)
        pthread_join(t, NULL);
    expect("pthread_create: the thread made calls", made_calls, 1);

    memset(&a, 0, sizeof a);
    a.exit_signal = SIGCHLD;
    expect_errno("size 0", sys_clone3(&a, 0), EINVAL);
    expect_errno("size 63", sys_clone3(&a, 63), EINVAL);
    expect_errno("size past a page", sys_clone3(&a, 8192), E2BIG);
    unsigned char big[128];
    memset(big, 0, sizeof big);
    memcpy(big, &a, sizeof a);
    big[100] = 1;
    expect_errno("nonzero bytes past the known fields", sys_clone3((struct clone_args_v2 *)big, sizeof big), E2BIG);
    expect_errno("unreadable arguments", sys_clone3((struct clone_args_v2 *)8, 64), EFAULT);
    a.flags = CLONE_SIGHAND | CLONE_CLEAR_SIGHAND_;
    expect_errno("CLONE_SIGHAND with CLONE_CLEAR_SIGHAND", sys_clone3(&a, sizeof a), EINVAL);
    a.flags = 0;
    a.stack = 4096;
    expect_errno("a stack without a size", sys_clone3(&a, sizeof a), EINVAL);

    printf("%s\n", failures ? "FAILED" : "all outcomes matched");
    return failures ? 1 : 0;
}
