/* forkexec: process creation and execution.
 *
 * fork/vfork/posix_spawn/execve with exit statuses and signals, execve
 * error cases (ENOENT, EACCES, ENOEXEC) after which the process continues,
 * and re-execution of itself through /proc/self/exe.  "forkexec child" is
 * the mode used by the re-exec: it prints "child ran" and exits 5.
 * Exits 0 only if every result matched. */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"

extern char **environ;
static int failures;

static void describe(char *buf, size_t len, int status)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "exited %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(buf, len, "status 0x%x", status);
}

static void expect_status(const char *what, pid_t pid, const char *want)
{
    int status;
    char got[64];
    pid_t r = waitpid(pid, &status, 0);

    if (r != pid) {
        printf("%s: waitpid failed %s  MISMATCH\n", what, errno_name(errno));
        failures++;
        return;
    }
    describe(got, sizeof got, status);
    printf("%s: %s", what, got);
    if (strcmp(got, want) != 0) {
        printf("  MISMATCH (want %s)", want);
        failures++;
    }
    printf("\n");
}

static void expect_exec_errno(const char *what, const char *path, int want)
{
    char *args[] = { (char *)path, NULL };
    int e;

    execve(path, args, environ);
    e = errno;
    printf("%s: %s", what, errno_name(e));
    if (e != want) {
        printf("  MISMATCH (want %s)", errno_name(want));
        failures++;
    }
    printf("\n");
}

/* Creates a file with the given content and mode in $TMPDIR or /tmp. */
static void make_file(char *path, size_t len, const char *content, mode_t mode)
{
    const char *tmp = getenv("TMPDIR");
    int fd;

    snprintf(path, len, "%s/forkexec.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    fd = mkstemp(path);
    if (fd < 0) {
        printf("mkstemp failed: %s\n", errno_name(errno));
        exit(2);
    }
    if (write(fd, content, strlen(content)) < 0) {
        printf("write failed: %s\n", errno_name(errno));
        exit(2);
    }
    fchmod(fd, mode);
    close(fd);
}

int main(int argc, char **argv)
{
    pid_t pid;
    char buf[4096], path[4096];
    ssize_t n;
    int err;

    if (argc > 1 && strcmp(argv[1], "child") == 0) {
        printf("child ran (argv[0]=%s)\n", argv[0]);
        return 5;
    }

    n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n < 0) {
        printf("readlink /proc/self/exe: %s\n", errno_name(errno));
        failures++;
    } else {
        buf[n] = '\0';
        printf("/proc/self/exe basename: %s\n",
               strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf);
    }

    fflush(stdout);
    pid = fork();
    if (pid == 0)
        _exit(7);
    expect_status("fork+_exit(7)", pid, "exited 7");

    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        kill(getpid(), SIGKILL);
        _exit(99);
    }
    expect_status("fork+SIGKILL self", pid, "killed by signal 9");

    fflush(stdout);
    pid = vfork();
    if (pid == 0)
        _exit(3);
    expect_status("vfork+_exit(3)", pid, "exited 3");

    {
        char *true_args[] = { "true", NULL };
        err = posix_spawn(&pid, "/bin/true", NULL, NULL, true_args, environ);
        if (err) {
            printf("posix_spawn /bin/true: %s  MISMATCH\n", errno_name(err));
            failures++;
        } else {
            expect_status("posix_spawn /bin/true", pid, "exited 0");
        }
    }
    {
        char *sh_args[] = { "sh", "-c", "exit 3", NULL };
        err = posix_spawn(&pid, "/bin/sh", NULL, NULL, sh_args, environ);
        if (err) {
            printf("posix_spawn /bin/sh: %s  MISMATCH\n", errno_name(err));
            failures++;
        } else {
            expect_status("posix_spawn sh -c 'exit 3'", pid, "exited 3");
        }
    }

    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        char *args[] = { "forkexec", "child", NULL };
        execv("/proc/self/exe", args);
        printf("execv /proc/self/exe failed: %s\n", errno_name(errno));
        fflush(stdout);
        _exit(99);
    }
    expect_status("fork+execv /proc/self/exe child", pid, "exited 5");

    expect_exec_errno("execve nonexistent", "/nonexistent/forkexec-no-such-file",
                      ENOENT);

    make_file(path, sizeof path, "#!/bin/sh\necho should not run\n", 0644);
    expect_exec_errno("execve mode 0644 file", path, EACCES);
    unlink(path);

    make_file(path, sizeof path, "\001\002\003 this is not a program\n", 0755);
    expect_exec_errno("execve garbage mode 0755 file", path, ENOEXEC);
    unlink(path);

    expect_exec_errno("execve directory", "/", EACCES);

    printf("still running after failed execs\n");
    printf("failures: %d\n", failures);
    return failures ? 1 : 0;
}
