/* mounts DIR: the guest's own mounts, as LTP's mount, umount2 and
 * read-only-filesystem cases use them, in DIR (fresh and empty), each call's
 * result printed by errno name. Run as root in a private mount namespace
 * natively (the oracle), as root under lxrun; the last case drops to nobody
 * and must be refused.
 *
 * Every mount is undone at the end; paths are printed relative to DIR. */
#include "common.h"
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define TMPFS_MAGIC 0x01021994

static const char *dir;

static char *at(const char *name)
{
    static char buf[8][4096];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

static void show(const char *what, int rc)
{
    printf("%-34s %s\n", what, rc == 0 ? "OK" : errno_name(errno));
}

static int touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

/* The /proc/self/mounts line of mount point `name` (DIR shown as D), or "missing". */
static void mounts_line(const char *label, const char *name)
{
    char want[4096], line[8192];
    snprintf(want, sizeof want, " %s ", at(name));
    FILE *f = fopen("/proc/self/mounts", "r");
    const char *found = NULL;
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, want))
            found = line;
    if (found) {
        /* source, D/name, type, options */
        char src[256], point[4096], type[64], opts[1024];
        if (sscanf(found, "%255s %4095s %63s %1023s", src, point, type, opts) == 4)
            printf("%-34s %s D/%s %s %s\n", label, src, name, type, opts);
    } else {
        printf("%-34s missing\n", label);
    }
    if (f)
        fclose(f);
}

static int is_tmpfs(const char *path)
{
    struct statfs st;
    return statfs(path, &st) == 0 && st.f_type == TMPFS_MAGIC;
}

/* The new mount API by number: musl has no wrappers. */
#define NR_open_tree 428
#define NR_move_mount 429
#define NR_fsopen 430
#define NR_fsconfig 431
#define NR_fsmount 432
#define NR_fspick 433
#define NR_mount_setattr 442
#define FSCONFIG_SET_STRING_ 1
#define FSCONFIG_CMD_CREATE_ 6
#define FSCONFIG_CMD_RECONFIGURE_ 7
#define MOVE_MOUNT_F_EMPTY_PATH_ 4
#define OPEN_TREE_CLONE_ 1
#define MOUNT_ATTR_RDONLY_ 1
#define AT_RECURSIVE_ 0x8000

struct attr_v0 {
    unsigned long long set, clr, propagation, userns_fd;
};

/* A result that is a descriptor: OK (closed unless kept) or the errno's name. */
static long fd_result(const char *what, long fd, int keep)
{
    show(what, fd < 0 ? -1 : 0);
    if (fd >= 0 && !keep) {
        close((int)fd);
        return -1;
    }
    return fd;
}

static void new_api(void)
{
    fd_result("fsopen of an unknown type", syscall(NR_fsopen, "nosuchfs", 0), 0);
    fd_result("fsopen with unknown flags", syscall(NR_fsopen, "tmpfs", 2), 0);
    long fs = fd_result("fsopen tmpfs", syscall(NR_fsopen, "tmpfs", 1), 1);
    show("fsconfig size=32k", syscall(NR_fsconfig, fs, FSCONFIG_SET_STRING_, "size", "32k", 0));
    show("fsconfig create", syscall(NR_fsconfig, fs, FSCONFIG_CMD_CREATE_, NULL, NULL, 0));
    long mnt = fd_result("fsmount", syscall(NR_fsmount, fs, 1, 0), 1);
    show("move_mount to n", syscall(NR_move_mount, mnt, "", AT_FDCWD, at("n"), MOVE_MOUNT_F_EMPTY_PATH_));
    printf("%-34s %d\n", "n is tmpfs", is_tmpfs(at("n")));
    mounts_line("/proc/self/mounts n", "n");
    if (mnt >= 0)
        close((int)mnt);
    if (fs >= 0)
        close((int)fs);

    long pick = fd_result("fspick n", syscall(NR_fspick, AT_FDCWD, at("n"), 1), 1);
    show("fsconfig size=64k", syscall(NR_fsconfig, pick, FSCONFIG_SET_STRING_, "size", "64k", 0));
    show("fsconfig reconfigure", syscall(NR_fsconfig, pick, FSCONFIG_CMD_RECONFIGURE_, NULL, NULL, 0));
    mounts_line("/proc/self/mounts n reconfigured", "n");
    if (pick >= 0)
        close((int)pick);
    fd_result("fspick of c (no mount)", syscall(NR_fspick, AT_FDCWD, at("c"), 1), 0);

    struct attr_v0 ro = {MOUNT_ATTR_RDONLY_, 0, 0, 0};
    show("mount_setattr n read-only", syscall(NR_mount_setattr, AT_FDCWD, at("n"), 0, &ro, sizeof ro));
    show("create n/x", touch(at("n/x")));
    show("mount_setattr with a short attr", syscall(NR_mount_setattr, AT_FDCWD, at("n"), 0, &ro, 8));
    show("mount_setattr of c (no mount)", syscall(NR_mount_setattr, AT_FDCWD, at("c"), 0, &ro, sizeof ro));
    show("umount2 n", umount2(at("n"), 0));

    long tree = fd_result("open_tree src", syscall(NR_open_tree, AT_FDCWD, at("src"), 0), 1);
    struct stat st;
    printf("%-34s %d\n", "open_tree's fd is a directory", tree >= 0 && fstat((int)tree, &st) == 0 && S_ISDIR(st.st_mode));
    if (tree >= 0)
        close((int)tree);
    long clone = fd_result("open_tree clone src", syscall(NR_open_tree, AT_FDCWD, at("src"), OPEN_TREE_CLONE_ | O_CLOEXEC), 1);
    show("move_mount clone to c", syscall(NR_move_mount, clone, "", AT_FDCWD, at("c"), MOVE_MOUNT_F_EMPTY_PATH_));
    printf("%-34s %d\n", "c/file seen", access(at("c/file"), F_OK) == 0);
    if (clone >= 0)
        close((int)clone);
    show("umount2 c", umount2(at("c"), 0));
    fd_result("open_tree recursive, no clone", syscall(NR_open_tree, AT_FDCWD, at("src"), AT_RECURSIVE_), 0);
    show("move_mount of c (no mount)", syscall(NR_move_mount, AT_FDCWD, at("c"), AT_FDCWD, at("d"), 0));
    show("move_mount from a missing path", syscall(NR_move_mount, AT_FDCWD, at("nothere"), AT_FDCWD, at("d"), 0));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mounts DIR\n");
        return 2;
    }
    dir = argv[1];
    const char *names[] = {"a", "src", "b", "c", "d", "n", "ro", "dir", "link"};
    for (unsigned i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(names[i], "link") != 0)
            mkdir(at(names[i]), 0755);
    symlink("dir", at("link"));
    touch(at("src/file"));

    /* A new tmpfs, its options, what statfs and /proc say. */
    show("mount tmpfs a", mount("none", at("a"), "tmpfs", 0, "size=64k,mode=0700"));
    struct stat st;
    printf("%-34s %o\n", "mode of a", stat(at("a"), &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0);
    printf("%-34s %d\n", "a is tmpfs", is_tmpfs(at("a")));
    show("create a/f", touch(at("a/f")));
    mounts_line("/proc/self/mounts a", "a");
    show("remount a size=128k", mount("none", at("a"), "tmpfs", MS_REMOUNT, "size=128k,mode=0700"));
    mounts_line("/proc/self/mounts a again", "a");

    /* Refusals of a new mount. */
    show("mount on a missing dir", mount("none", at("nothere"), "tmpfs", 0, NULL));
    show("mount without a type", mount("none", at("c"), NULL, 0, NULL));
    show("mount of an unknown type", mount("none", at("c"), "nosuchfs", 0, NULL));
    show("mount with MS_NOUSER", mount("none", at("c"), "tmpfs", MS_NOUSER, NULL));
    show("mount with an empty target", mount("none", "", "tmpfs", 0, NULL));

    /* A bind, made read-only: EROFS through it, the source still writable. */
    show("bind src on b", mount(at("src"), at("b"), NULL, MS_BIND, NULL));
    printf("%-34s %d\n", "b/file seen", access(at("b/file"), F_OK) == 0);
    show("bind without a source", mount(NULL, at("c"), NULL, MS_BIND, NULL));
    show("bind of a missing source", mount(at("nothere"), at("c"), NULL, MS_BIND, NULL));
    show("remount b read-only", mount(NULL, at("b"), NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL));
    show("create b/new", touch(at("b/new")));
    show("open b/file for writing", open(at("b/file"), O_WRONLY) < 0 ? -1 : 0);
    show("mkdir b/d", mkdir(at("b/d"), 0755));
    show("create src/new", touch(at("src/new")));
    show("remount c (no mount)", mount(NULL, at("c"), NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL));

    /* A read-only tmpfs. */
    show("mount tmpfs ro read-only", mount("none", at("ro"), "tmpfs", MS_RDONLY, NULL));
    show("mkdir ro/x", mkdir(at("ro/x"), 0755));

    /* Propagation changes. */
    show("make a private", mount(NULL, at("a"), NULL, MS_PRIVATE, NULL));
    show("make a shared, recursively", mount(NULL, at("a"), NULL, MS_SHARED | MS_REC, NULL));
    show("make c private (no mount)", mount(NULL, at("c"), NULL, MS_PRIVATE, NULL));

    /* Through a symlink: mount follows it, UMOUNT_NOFOLLOW does not. */
    show("mount tmpfs on link", mount("none", at("link"), "tmpfs", 0, NULL));
    printf("%-34s %d\n", "dir is tmpfs", is_tmpfs(at("dir")));
    show("umount2 link NOFOLLOW", umount2(at("link"), UMOUNT_NOFOLLOW));
    show("umount2 link", umount2(at("link"), 0));
    printf("%-34s %d\n", "dir is tmpfs after", is_tmpfs(at("dir")));

    /* Moving a mount. */
    show("move b to d", mount(at("b"), at("d"), NULL, MS_MOVE, NULL));
    printf("%-34s %d\n", "d/file seen", access(at("d/file"), F_OK) == 0);
    show("umount2 b (moved away)", umount2(at("b"), 0));
    show("move c (no mount)", mount(at("c"), at("b"), NULL, MS_MOVE, NULL));

    /* Unmounting: refusals, a busy mount, a lazy one. */
    show("umount2 with unknown flags", umount2(at("a"), 0x100));
    show("umount2 of a missing path", umount2(at("nothere"), 0));
    show("umount2 of c (no mount)", umount2(at("c"), 0));
    int busy = open(at("a/f"), O_RDONLY);
    show("umount2 a while open", umount2(at("a"), 0));
    show("umount2 a MNT_DETACH", umount2(at("a"), MNT_DETACH));
    close(busy);
    printf("%-34s %d\n", "a is tmpfs after", is_tmpfs(at("a")));
    mounts_line("/proc/self/mounts a after", "a");
    show("umount2 d", umount2(at("d"), 0));
    show("umount2 ro", umount2(at("ro"), 0));
    printf("%-34s %d\n", "d/file after", access(at("d/file"), F_OK) == 0);

    new_api();

    /* Without CAP_SYS_ADMIN: EPERM, after the target's lookup (of paths nobody may walk:
     * DIR's parents need not be). */
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(3);
        show("nobody: mount tmpfs /tmp", mount("none", "/tmp", "tmpfs", 0, NULL));
        show("nobody: mount on a missing dir", mount("none", "/nonexistent-lxrun", "tmpfs", 0, NULL));
        show("nobody: bind / on /tmp", mount("/", "/tmp", NULL, MS_BIND, NULL));
        show("nobody: umount2 /tmp", umount2("/tmp", 0));
        fd_result("nobody: fsopen tmpfs", syscall(NR_fsopen, "tmpfs", 1), 0);
        fd_result("nobody: open_tree clone /tmp", syscall(NR_open_tree, AT_FDCWD, "/tmp", OPEN_TREE_CLONE_), 0);
        fd_result("nobody: open_tree /tmp", syscall(NR_open_tree, AT_FDCWD, "/tmp", 0), 0);
        fflush(stdout);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    printf("%-34s %d\n", "nobody's status", status);
    return 0;
}
