/* handles DIR: name_to_handle_at and open_by_handle_at (LTP's name_to_handle_at01,
 * open_by_handle_at01/02 style) on files in DIR (fresh, empty): sizes, EOVERFLOW, the
 * objects a handle opens, the refusals; the last cases run as nobody (EPERM to open). */
#include "common.h"
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NR_name_to_handle_at 303
#define NR_open_by_handle_at 304
#define AT_SYMLINK_FOLLOW_ 0x400
#define AT_EMPTY_PATH_ 0x1000

struct handle {
    unsigned int bytes;
    int type;
    unsigned char f[128];
};

static const char *dir;

static char *at(const char *name) { return path_in(dir, name); }

static void show(const char *what, long rc)
{
    printf("%-40s %s\n", what, rc < 0 ? errno_name(errno) : "OK");
}

static long to_handle(int dfd, const char *path, struct handle *h, int flags)
{
    int mnt = 0;
    h->bytes = sizeof h->f;
    return syscall(NR_name_to_handle_at, dfd, path, h, &mnt, flags);
}

/* What the handle opens: its first bytes, or the errno's name. */
static void opened(const char *what, int mount_fd, struct handle *h, int flags)
{
    long fd = syscall(NR_open_by_handle_at, mount_fd, h, flags);
    if (fd < 0) {
        printf("%-40s %s\n", what, errno_name(errno));
        return;
    }
    struct stat st;
    char buf[16] = {0};
    fstat((int)fd, &st);
    if (S_ISREG(st.st_mode))
        (void)!read((int)fd, buf, sizeof buf - 1);
    printf("%-40s %s %s\n", what, S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "file" : "other", buf);
    close((int)fd);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: handles DIR\n");
        return 2;
    }
    dir = argv[1];
    int f = open(at("f"), O_WRONLY | O_CREAT, 0644);
    (void)!write(f, "hello", 5);
    close(f);
    mkdir(at("d"), 0755);
    symlink("f", at("link"));
    int mount_fd = open(dir, O_RDONLY | O_DIRECTORY);

    struct handle h;
    int mnt = 0;
    h.bytes = 0;
    show("name_to_handle_at, no room", syscall(NR_name_to_handle_at, AT_FDCWD, at("f"), &h, &mnt, 0));
    printf("%-40s %d\n", "needed room given", h.bytes > 0 && h.bytes <= 128);
    show("name_to_handle_at f", to_handle(AT_FDCWD, at("f"), &h, 0));
    opened("open_by_handle_at f", mount_fd, &h, O_RDONLY);
    opened("open_by_handle_at f, AT_FDCWD", AT_FDCWD, &h, O_RDONLY);
    show("name_to_handle_at d", to_handle(AT_FDCWD, at("d"), &h, 0));
    opened("open_by_handle_at d", mount_fd, &h, O_RDONLY | O_DIRECTORY);
    show("name_to_handle_at link, followed", to_handle(AT_FDCWD, at("link"), &h, AT_SYMLINK_FOLLOW_));
    opened("open_by_handle_at link's target", mount_fd, &h, O_RDONLY);
    int fd = open(at("f"), O_RDONLY);
    show("name_to_handle_at of an fd", to_handle(fd, "", &h, AT_EMPTY_PATH_));
    opened("open_by_handle_at of it", mount_fd, &h, O_RDONLY);
    show("empty path without AT_EMPTY_PATH", to_handle(fd, "", &h, 0));
    close(fd);
    show("name_to_handle_at, unknown flags", to_handle(AT_FDCWD, at("f"), &h, 0x4));
    show("name_to_handle_at, missing", to_handle(AT_FDCWD, at("nothere"), &h, 0));
    struct handle bad = h;
    bad.bytes = 0;
    opened("open_by_handle_at, empty handle", mount_fd, &bad, O_RDONLY);
    bad.bytes = 200;
    opened("open_by_handle_at, oversized handle", mount_fd, &bad, O_RDONLY);
    show("name_to_handle_at f again", to_handle(AT_FDCWD, at("f"), &h, 0));
    opened("open_by_handle_at, bad mount fd", 999, &h, O_RDONLY);
    unlink(at("f"));
    opened("open_by_handle_at of a removed file", mount_fd, &h, O_RDONLY);

    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        struct handle own;
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(3);
        show("nobody: name_to_handle_at /", to_handle(AT_FDCWD, "/", &own, 0));
        opened("nobody: open_by_handle_at /", AT_FDCWD, &own, O_RDONLY | O_DIRECTORY);
        own.bytes = 0;
        opened("nobody: an empty handle", AT_FDCWD, &own, O_RDONLY);
        own.bytes = 8;
        opened("nobody: a bad mount fd", 999, &own, O_RDONLY);
        fflush(stdout);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    printf("%-40s %d\n", "nobody's status", status);
    return 0;
}
