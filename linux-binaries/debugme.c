/* debugme: ptrace between processes, and a program for debuggers to look at.
 *
 *   debugme crash       main -> outer -> crash_here, which writes through NULL (SIGSEGV)
 *   debugme hello       prints a line and exits 3 (what the other modes exec)
 *   debugme forkexec    fork; the child execs "debugme hello"; the parent waits
 *   debugme traceme     gVisor's pattern: the child PTRACE_TRACEME + raise(SIGSTOP); the
 *                       parent peeks and pokes its memory, follows one getppid through its
 *                       entry and exit stops, reads the registers and lets it exit
 *   debugme traceexec   the child PTRACE_TRACEME + execs "debugme hello": one SIGTRAP stop at
 *                       the new program, then every syscall stop to its exit, listed by number;
 *                       again with PTRACE_O_TRACEEXEC
 *   debugme attach      PTRACE_ATTACH/DETACH and PTRACE_SEIZE/INTERRUPT of a running child
 *   debugme forkevent   PTRACE_O_TRACEFORK: the event, its message, the grandchild's first
 *                       stop and its exit reported to the tracer that is not its parent
 *   debugme canptrace   PTRACE_SEIZE of a child: OK, or the errno (lxrun's systrap mode refuses)
 *   debugme idle        waits in idle() (pause) until a signal ends it: for a debugger to
 *                       attach to
 *
 * Prints only what is the same natively and under lxrun (no pids, no addresses). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"

static volatile long secret = 7;
static int *volatile nowhere;

__attribute__((noinline)) static void crash_here(void)
{
    *nowhere = 1;
}

__attribute__((noinline)) static void idle(void)
{
    pause();
}

__attribute__((noinline)) static void outer(void)
{
    crash_here();
    printf("not reached\n");
}

static void describe(const char *what, int status)
{
    printf("%s: ", what);
    if (WIFEXITED(status))
        printf("exited %d\n", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        printf("killed by %s\n", strsignal(WTERMSIG(status)));
    else if (WIFSTOPPED(status))
        printf("stopped sig=%d event=%d\n", WSTOPSIG(status), status >> 16);
    else
        printf("status 0x%x\n", status);
}

static int wait_for(const char *what, pid_t pid)
{
    int status = 0;
    pid_t r = waitpid(pid, &status, __WALL);
    if (r != pid) {
        printf("%s: waitpid: %s\n", what, errno_name(errno));
        exit(1);
    }
    describe(what, status);
    return status;
}

static void check(const char *what, long r)
{
    if (r < 0)
        printf("%s: %s\n", what, errno_name(errno));
}

static int traceme(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        raise(SIGSTOP);
        getppid();
        _exit((int)secret);
    }
    wait_for("after raise", pid);
    siginfo_t si;
    check("GETSIGINFO", ptrace(PTRACE_GETSIGINFO, pid, 0, &si));
    printf("siginfo signo=%d\n", si.si_signo);
    errno = 0;
    long word = ptrace(PTRACE_PEEKDATA, pid, (void *)&secret, 0);
    printf("peek: %ld (%s)\n", word, errno_name(errno));
    check("POKEDATA", ptrace(PTRACE_POKEDATA, pid, (void *)&secret, (void *)42));
    errno = 0;
    printf("peek after poke: %ld\n", ptrace(PTRACE_PEEKDATA, pid, (void *)&secret, 0));
    printf("PEEKDATA of NULL: %s\n",
           ptrace(PTRACE_PEEKDATA, pid, 0, 0) == -1 ? errno_name(errno) : "no error");
    struct user_regs_struct regs;
    int entries = 0;
    /* Up to getppid's entry: raise's own return path may make calls first. */
    for (int i = 0; i < 20; i++) {
        check("SYSCALL", ptrace(PTRACE_SYSCALL, pid, 0, 0));
        int status = 0;
        waitpid(pid, &status, __WALL);
        check("GETREGS", ptrace(PTRACE_GETREGS, pid, 0, &regs));
        if (WIFSTOPPED(status) && WSTOPSIG(status) == SIGTRAP && regs.orig_rax == SYS_getppid) {
            if (entries++ == 0) {
                describe("getppid entry", status);
                printf("entry rax is -ENOSYS: %s\n", (long)regs.rax == -38 ? "yes" : "no");
            } else {
                describe("getppid exit", status);
                printf("exit rax is the tracer: %s\n", (pid_t)regs.rax == getpid() ? "yes" : "no");
                break;
            }
        }
    }
    check("CONT", ptrace(PTRACE_CONT, pid, 0, 0));
    wait_for("end", pid);
    printf("wait again: %s\n", waitpid(pid, 0, WNOHANG) < 0 ? errno_name(errno) : "a child");
    return 0;
}

static int traceexec(const char *self, int options)
{
    pid_t pid = fork();
    if (pid == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        if (options)
            raise(SIGSTOP);
        execl(self, "debugme", "hello", (char *)0);
        _exit(99);
    }
    int status;
    if (options) {
        wait_for("raise", pid);
        check("SETOPTIONS", ptrace(PTRACE_SETOPTIONS, pid, 0, options));
        check("CONT", ptrace(PTRACE_CONT, pid, 0, 0));
    }
    status = wait_for("exec stop", pid);
    if (status >> 16 == PTRACE_EVENT_EXEC) {
        unsigned long msg = 0;
        check("GETEVENTMSG", ptrace(PTRACE_GETEVENTMSG, pid, 0, &msg));
        printf("event message is the pid: %s\n", (pid_t)msg == pid ? "yes" : "no");
    }
    struct user_regs_struct regs;
    check("GETREGS", ptrace(PTRACE_GETREGS, pid, 0, &regs));
    printf("at exec: orig_rax=%lld rax=%lld rdx=%lld\n", (long long)regs.orig_rax,
           (long long)regs.rax, (long long)regs.rdx);
    printf("syscalls:");
    int in = 0;
    for (;;) {
        check("SYSCALL", ptrace(PTRACE_SYSCALL, pid, 0, 0));
        if (waitpid(pid, &status, __WALL) != pid || !WIFSTOPPED(status))
            break;
        if (!in) {
            ptrace(PTRACE_GETREGS, pid, 0, &regs);
            printf(" %lld", (long long)regs.orig_rax);
        }
        in = !in;
    }
    printf("\n");
    describe("end", status);
    return 0;
}

static int attach(void)
{
    int p[2];
    if (pipe(p) != 0)
        return 1;
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        if (write(p[1], "x", 1) != 1)
            _exit(2);
        for (;;)
            pause();
    }
    char c;
    close(p[1]);
    if (read(p[0], &c, 1) != 1)
        return 1;
    check("ATTACH", ptrace(PTRACE_ATTACH, pid, 0, 0));
    wait_for("attached", pid);
    siginfo_t si;
    check("GETSIGINFO", ptrace(PTRACE_GETSIGINFO, pid, 0, &si));
    printf("siginfo signo=%d\n", si.si_signo);
    printf("ATTACH again: %s\n", ptrace(PTRACE_ATTACH, pid, 0, 0) < 0 ? errno_name(errno) : "OK");
    check("DETACH", ptrace(PTRACE_DETACH, pid, 0, 0));
    printf("GETREGS after DETACH: %s\n",
           ptrace(PTRACE_GETREGS, pid, 0, &si) < 0 ? errno_name(errno) : "OK");
    check("SEIZE", ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_TRACESYSGOOD));
    printf("GETREGS while running: %s\n",
           ptrace(PTRACE_GETREGS, pid, 0, &si) < 0 ? errno_name(errno) : "OK");
    check("INTERRUPT", ptrace(PTRACE_INTERRUPT, pid, 0, 0));
    wait_for("interrupted", pid);
    printf("LISTEN outside a group-stop: %s\n",
           ptrace(PTRACE_LISTEN, pid, 0, 0) < 0 ? errno_name(errno) : "OK");
    check("CONT", ptrace(PTRACE_CONT, pid, 0, 0));
    kill(pid, SIGKILL);
    wait_for("killed", pid);
    return 0;
}

static int forkevent(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        raise(SIGSTOP);
        pid_t g = fork();
        if (g == 0)
            _exit(4);
        int status;
        waitpid(g, &status, 0);
        _exit(WIFEXITED(status) ? 10 + WEXITSTATUS(status) : 1);
    }
    wait_for("raise", pid);
    check("SETOPTIONS", ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACEFORK));
    check("CONT", ptrace(PTRACE_CONT, pid, 0, 0));
    wait_for("fork event", pid);
    unsigned long g = 0;
    check("GETEVENTMSG", ptrace(PTRACE_GETEVENTMSG, pid, 0, &g));
    wait_for("grandchild", (pid_t)g);
    check("CONT grandchild", ptrace(PTRACE_CONT, (pid_t)g, 0, 0));
    wait_for("grandchild end", (pid_t)g);
    int status = 0, sig = 0;
    do {
        check("CONT", ptrace(PTRACE_CONT, pid, 0, sig));
        status = wait_for("child", pid);
        sig = WIFSTOPPED(status) ? WSTOPSIG(status) : 0;
    } while (WIFSTOPPED(status));
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    setvbuf(stdout, 0, _IONBF, 0);
    if (strcmp(mode, "crash") == 0) {
        outer();
        return 0;
    }
    if (strcmp(mode, "hello") == 0) {
        printf("hello from the new program\n");
        return 3;
    }
    if (strcmp(mode, "canptrace") == 0) {
        pid_t pid = fork();
        if (pid == 0) {
            for (;;)
                pause();
        }
        printf("SEIZE: %s\n", ptrace(PTRACE_SEIZE, pid, 0, 0) < 0 ? errno_name(errno) : "OK");
        kill(pid, SIGKILL);
        wait_for("child", pid);
        return 0;
    }
    if (strcmp(mode, "idle") == 0) {
        for (;;)
            idle();
    }
    if (strcmp(mode, "forkexec") == 0) {
        pid_t pid = fork();
        if (pid == 0) {
            execl("/proc/self/exe", "debugme", "hello", (char *)0);
            _exit(99);
        }
        wait_for("child", pid);
        return 0;
    }
    if (strcmp(mode, "traceme") == 0)
        return traceme();
    if (strcmp(mode, "traceexec") == 0) {
        traceexec(argv[0], 0);
        return traceexec(argv[0], PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEEXEC);
    }
    if (strcmp(mode, "attach") == 0)
        return attach();
    if (strcmp(mode, "forkevent") == 0)
        return forkevent();
    fprintf(stderr, "usage: debugme crash|hello|canptrace|idle|forkexec|traceme|traceexec|attach|forkevent\n");
    return 2;
}
