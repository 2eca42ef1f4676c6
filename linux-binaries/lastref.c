/* lastref DIR: a file the guest is given is the guest's alone once the call returns. Each way
 * of opening DIR/f takes an flock on the new descriptor and closes it; at once a second open
 * must be able to lock the file. If anything else still held the first open file (a copy of
 * the supervisor's, closed after the guest ran on), the lock would outlive the guest's close:
 * the race behind EBUSY at umount, ETXTBSY at exec and a removed file opening by handle. */
#include "common.h"
#include <fcntl.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ROUNDS 300
#define NR_name_to_handle_at 303
#define NR_open_by_handle_at 304
#define NR_openat2 437

struct handle {
    unsigned int bytes;
    int type;
    unsigned char f[128];
};

struct how {
    unsigned long long flags, mode, resolve;
};

static char path[4096], link_path[4096];
static int dir_fd;
static struct handle handle;

static int plain(void) { return open(path, O_RDONLY); }
static int through_link(void) { return open(link_path, O_RDONLY); }
static int by_openat2(void)
{
    struct how how = {O_RDONLY, 0, 0};
    return (int)syscall(NR_openat2, dir_fd, "f", &how, sizeof how);
}
static int by_handle(void) { return (int)syscall(NR_open_by_handle_at, dir_fd, &handle, O_RDONLY); }

static void rounds(const char *what, int (*opener)(void))
{
    int held = 0;
    for (int i = 0; i < ROUNDS; i++) {
        int fd = opener();
        if (fd < 0) {
            printf("%-28s %s\n", what, errno_name(errno));
            return;
        }
        if (flock(fd, LOCK_EX) != 0) {
            printf("%-28s flock: %s\n", what, errno_name(errno));
            return;
        }
        close(fd);
        int again = open(path, O_RDONLY);
        if (flock(again, LOCK_EX | LOCK_NB) != 0)
            held++;
        close(again);
    }
    printf("%-28s still locked after close: %d of %d\n", what, held, ROUNDS);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: lastref DIR\n");
        return 2;
    }
    snprintf(path, sizeof path, "%s/f", argv[1]);
    snprintf(link_path, sizeof link_path, "%s/link", argv[1]);
    int f = open(path, O_WRONLY | O_CREAT, 0644);
    close(f);
    if (symlink("f", link_path) != 0)
        return 3;
    dir_fd = open(argv[1], O_RDONLY | O_DIRECTORY);
    int mnt = 0;
    handle.bytes = sizeof handle.f;
    if (syscall(NR_name_to_handle_at, AT_FDCWD, path, &handle, &mnt, 0) != 0)
        return 4;
    rounds("open", plain);
    rounds("open through a symlink", through_link);
    rounds("openat2", by_openat2);
    rounds("open_by_handle_at", by_handle);
    return 0;
}
