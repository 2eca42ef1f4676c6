/* strict: seccomp's strict mode, entered by seccomp(SECCOMP_SET_MODE_STRICT)
 * and by prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT), each in a child: read,
 * write, exit and rt_sigreturn run, anything else kills with SIGKILL; the
 * kernel's EINVAL for bad arguments and for a process with a filter already.
 * Each child's status is printed by the parent; after strict mode the child
 * writes with write(2) only. */
#include "common.h"
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* seccomp's constants and a BPF instruction, by value: musl's headers have none. */
#define SECCOMP_SET_MODE_STRICT 0
#define SECCOMP_SET_MODE_FILTER 1
#define SECCOMP_MODE_STRICT 1
#define SECCOMP_RET_ALLOW 0x7fff0000U
struct bpf_insn_ {
    unsigned short code;
    unsigned char jt, jf;
    unsigned int k;
};
struct bpf_prog_ {
    unsigned short len;
    struct bpf_insn_ *filter;
};
#ifndef PR_SET_SECCOMP
#define PR_SET_SECCOMP 22
#endif
#ifndef SYS_seccomp
#define SYS_seccomp 317
#endif

static void say(const char *s)
{
    if (write(1, s, strlen(s)) < 0)
        syscall(SYS_exit, 9);
}

static long strict_by_seccomp(void)
{
    return syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, NULL);
}

static long strict_by_prctl(void)
{
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0);
}

static void status_of(const char *what, void (*child)(void))
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        child();
        syscall(SYS_exit, 0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (WIFSIGNALED(st))
        printf("%-40s killed by signal %d\n", what, WTERMSIG(st));
    else
        printf("%-40s exit %d\n", what, WEXITSTATUS(st));
}

static void getpid_after_prctl(void)
{
    if (strict_by_prctl() != 0) {
        printf("prctl strict: %s\n", errno_name(errno));
        return;
    }
    say("  in strict mode (prctl)\n");
    syscall(SYS_getpid);
    say("  getpid returned\n");
}

static void exit_after_seccomp(void)
{
    if (strict_by_seccomp() != 0) {
        printf("seccomp strict: %s\n", errno_name(errno));
        return;
    }
    say("  in strict mode (seccomp)\n");
    syscall(SYS_exit, 7);
}

static void exit_group_after_seccomp(void)
{
    if (strict_by_seccomp() == 0)
        syscall(SYS_exit_group, 0);
}

static void open_after_seccomp(void)
{
    if (strict_by_seccomp() != 0)
        return;
    say("  about to open\n");
    syscall(SYS_open, "/", O_RDONLY);
    say("  open returned\n");
}

static int pipe_fds[2];

static void read_after_seccomp(void)
{
    if (strict_by_seccomp() != 0)
        return;
    char buf[16];
    long n = read(pipe_fds[0], buf, sizeof buf);
    say(n == 5 && memcmp(buf, "data\n", 5) == 0 ? "  read the pipe\n" : "  read failed\n");
    syscall(SYS_exit, 3);
}

static void on_alarm(int sig)
{
    (void)sig;
    say("  SIGALRM handled\n");
}

static void signal_after_seccomp(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    int fds[2];
    if (pipe(fds) != 0)
        return;
    alarm(1);
    if (strict_by_seccomp() != 0)
        return;
    char c;
    long n = read(fds[0], &c, 1);
    say(n < 0 ? "  read interrupted\n" : "  read returned\n");
    syscall(SYS_exit, 4);
}

static void bad_arguments(void)
{
    int x = 0;
    printf("%-40s %s\n", "  seccomp strict with flags 1", syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 1, NULL) == 0 ? "OK" : errno_name(errno));
    printf("%-40s %s\n", "  seccomp strict with args", syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, &x) == 0 ? "OK" : errno_name(errno));
    fflush(stdout);
    /* prctl ignores its other arguments. */
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, &x, 5, 6) == 0) {
        say("  prctl strict with arguments: OK\n");
        syscall(SYS_exit, 0);
    }
    printf("  prctl strict with arguments: %s\n", errno_name(errno));
}

static void after_a_filter(void)
{
    struct bpf_insn_ allow[] = {{0x06, 0, 0, SECCOMP_RET_ALLOW}}; /* BPF_RET | BPF_K */
    struct bpf_prog_ prog = {1, allow};
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    printf("%-40s %s\n", "  a filter of its own", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0 ? "OK" : errno_name(errno));
    printf("%-40s %s\n", "  then seccomp strict", strict_by_seccomp() == 0 ? "OK" : errno_name(errno));
    printf("%-40s %s\n", "  then prctl strict", strict_by_prctl() == 0 ? "OK" : errno_name(errno));
    fflush(stdout);
}

int main(void)
{
    status_of("getpid after prctl strict", getpid_after_prctl);
    status_of("exit after seccomp strict", exit_after_seccomp);
    status_of("exit_group after seccomp strict", exit_group_after_seccomp);
    status_of("open after seccomp strict", open_after_seccomp);
    if (pipe(pipe_fds) != 0 || write(pipe_fds[1], "data\n", 5) != 5)
        return 1;
    status_of("read after seccomp strict", read_after_seccomp);
    status_of("a signal in strict mode", signal_after_seccomp);
    status_of("bad arguments", bad_arguments);
    status_of("strict after a filter", after_a_filter);
    return 0;
}
