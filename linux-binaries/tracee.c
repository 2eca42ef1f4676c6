/* tracee DIR: a deterministic mix of syscalls for comparing `lxrun --trace` with `strace -f`.
 *
 * Every call is made through its libc wrapper or syscall(2) with fixed arguments, so the
 * trace is the same on every run except for addresses, pids and times (which the test
 * normalizes). DIR must be an empty directory; the program works inside it. Exits 0. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
    (void)sig;
    got_usr1 = 1;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    if (chdir(argv[1]) != 0)
        return 3;

    /* Files: create, write (short, long and escaped data), read back, stat. */
    int fd = openat(AT_FDCWD, "data.txt", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return 4;
    write(fd, "hello\n", 6);
    write(fd, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ", 46);
    write(fd, "tab\there \"q\" back\\slash \001\002\177\3007", 30);
    close(fd);
    fd = open("data.txt", O_RDONLY);
    char buf[256];
    read(fd, buf, 4);
    lseek(fd, 0, SEEK_SET);
    pread(fd, buf, 10, 2);
    struct stat st;
    fstat(fd, &st);
    close(fd);
    stat("data.txt", &st);
    lstat("/nonexistent/file", &st);
    access("data.txt", R_OK | W_OK);
    access("missing", F_OK);
    openat(AT_FDCWD, "missing", O_RDONLY | O_DIRECTORY);
    mkdir("sub", 0755);
    symlink("data.txt", "link");
    readlink("link", buf, sizeof buf);
    rename("link", "link2");
    unlink("link2");
    rmdir("sub");
    getcwd(buf, sizeof buf);
    truncate("data.txt", 100);
    struct iovec iov[2] = { { "ab", 2 }, { "cd", 2 } };
    fd = open("data.txt", O_RDWR | O_APPEND);
    writev(fd, iov, 2);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    fcntl(fd, F_GETFL);
    int fd2 = dup(fd);
    dup2(fd, 10);
    close(10);
    close(fd2);
    close(fd);
    close(99);

    /* Memory. */
    void *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mprotect(p, 4096, PROT_READ);
    madvise(p, 8192, MADV_DONTNEED);
    munmap(p, 8192);

    /* Flags in strace's order (all fail: nothing is created). */
    openat(AT_FDCWD, "/nonexistent/a", O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_DIRECTORY | O_NOFOLLOW | O_NOATIME);
    openat(AT_FDCWD, "/nonexistent/b",
           O_WRONLY | O_CREAT | O_EXCL | O_NOCTTY | O_APPEND | O_SYNC | O_DIRECT | O_ASYNC | O_LARGEFILE, 0600);
    openat(AT_FDCWD, "/nonexistent/c", O_PATH | O_CLOEXEC);
    openat(AT_FDCWD, "/nonexistent", O_TMPFILE | O_RDWR, 0600);
    openat(AT_FDCWD, "/nonexistent/d", O_RDWR | O_DSYNC | O_TRUNC);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    close(ep);

    /* Pipes and identity. */
    int pfd[2];
    pipe2(pfd, O_CLOEXEC);
    write(pfd[1], "x", 1);
    struct pollfd pl = { .fd = pfd[0], .events = POLLIN | POLLPRI };
    poll(&pl, 1, 0);
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(pfd[0], &rd);
    select(pfd[0] + 1, &rd, NULL, NULL, NULL);
    getpeername(pfd[0], (struct sockaddr *)buf, &(socklen_t){ 16 });
    read(pfd[0], buf, sizeof buf);
    close(pfd[0]);
    close(pfd[1]);
    getpid();
    getuid();
    struct utsname u;
    uname(&u);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    umask(022);

    /* Sockets. */
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    strcpy(sun.sun_path, "/nonexistent/socket");
    connect(s, (struct sockaddr *)&sun, sizeof sun);
    close(s);
    s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(9) };
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sendto(s, "ping", 4, 0, (struct sockaddr *)&sin, sizeof sin);
    close(s);

    /* Signals: a handler, a mask, a signal to ourselves. */
    struct sigaction sa = { .sa_handler = on_usr1 };
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGTERM);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    struct sigaction all = { .sa_handler = on_usr1 }, old;
    sigemptyset(&all.sa_mask);
    all.sa_flags = SA_NOCLDSTOP | SA_NOCLDWAIT | SA_SIGINFO | SA_ONSTACK | SA_RESTART | SA_NODEFER | SA_RESETHAND;
    sigaction(SIGURG, &all, &old);
    sigaction(SIGURG, &old, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    sigprocmask(SIG_SETMASK, &set, NULL);
    kill(getpid(), SIGUSR1);
    signal(SIGUSR1, SIG_DFL);

    /* A child that exits 3, and one killed by SIGTERM. SIGCHLD stays blocked, so that its
     * delivery (shown by tracers) does not land at a different place on every run. */
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    pid_t pid = fork();
    if (pid == 0)
        _exit(3);
    int status;
    wait4(pid, &status, 0, NULL);
    pid = fork();
    if (pid == 0) {
        kill(getpid(), SIGTERM);
        _exit(0);
    }
    waitpid(pid, &status, 0);

    syscall(SYS_getppid);
    syscall(SYS_exit_group, 0);
    return 0;
}
