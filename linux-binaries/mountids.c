/* mountids DIR: statmount and listmount as a guest sees them. First the
 * kernel's answers to bad requests, flags, sizes and buffers (in the kernel's
 * order of checks); then the listing itself: ascending, backwards, paged, every
 * listed mount described and found again at its mount point; then, as root,
 * mounts made in DIR (fresh and empty) listed and described, DIR shown as D.
 * The same output natively (the oracle) and under lxrun. */
#include "common.h"
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NR_statx 332
#define NR_statmount 457
#define NR_listmount 458
#define STATX_MNT_ID_ 0x1000
#define STATX_MNT_ID_UNIQUE_ 0x4000
#define AT_NO_AUTOMOUNT_ 0x800

#define SM_SB_BASIC 0x1
#define SM_MNT_BASIC 0x2
#define SM_MNT_ROOT 0x8
#define SM_MNT_POINT 0x10
#define SM_FS_TYPE 0x20
#define SM_MNT_NS_ID 0x40
#define SM_MNT_OPTS 0x80
#define SM_SB_SOURCE 0x200
#define SM_OPT_ARRAY 0x400
#define SM_SUPPORTED 0x1000
#define LSMT_ROOT_ 0xffffffffffffffffULL
#define LISTMOUNT_REVERSE_ 1
#define TOP 0x7ffffffff000ULL /* TASK_SIZE_MAX with 4-level page tables */

struct req {
    uint32_t size, ns_fd;
    uint64_t mnt_id, param, ns_id;
};

/* struct statmount's fixed fields (512 bytes in all), then its strings. */
struct sm {
    uint32_t size, mnt_opts;
    uint64_t mask;
    uint32_t sb_dev_major, sb_dev_minor;
    uint64_t sb_magic;
    uint32_t sb_flags, fs_type;
    uint64_t mnt_id, mnt_parent_id;
    uint32_t mnt_id_old, mnt_parent_id_old;
    uint64_t mnt_attr, mnt_propagation, mnt_peer_group, mnt_master, propagate_from;
    uint32_t mnt_root, mnt_point;
    uint64_t mnt_ns_id;
    uint32_t fs_subtype, sb_source, opt_num, opt_array, opt_sec_num, opt_sec_array;
    uint64_t supported_mask;
    uint32_t uidmap_num, uidmap, gidmap_num, gidmap;
    uint64_t spare[43];
    char str[];
};

static const char *dir;
static size_t dirlen;
static char big[1 << 16];
#define SM ((struct sm *)big)

static long sm(const void *r, void *buf, size_t size, unsigned flags)
{
    long rc = syscall(NR_statmount, r, buf, size, flags);
    return rc < 0 ? -errno : rc;
}

static long lm(const void *r, uint64_t *ids, size_t n, unsigned flags)
{
    long rc = syscall(NR_listmount, r, ids, n, flags);
    return rc < 0 ? -errno : rc;
}

static void show(const char *what, long rc)
{
    if (rc < 0)
        printf("%-44s %s\n", what, errno_name((int)-rc));
    else
        printf("%-44s OK %ld\n", what, rc);
}

/* A mount's unique id (or its old one), as statx gives it for `path`. */
static uint64_t id_of(const char *path, unsigned what)
{
    uint64_t b[32] = {0};
    if (syscall(NR_statx, AT_FDCWD, path, AT_NO_AUTOMOUNT_, what, b) != 0 || !(b[0] & what))
        return 0;
    return b[18]; /* stx_mnt_id, at byte 144 */
}

static char *at(const char *name) { return path_in(dir, name); }

/* A mount point as printed: under DIR as D/..., else as it is. */
static const char *shown(const char *p)
{
    static char buf[4096];
    if (strncmp(p, dir, dirlen) == 0 && (p[dirlen] == '/' || p[dirlen] == 0)) {
        snprintf(buf, sizeof buf, "D%s", p + dirlen);
        return buf;
    }
    return p;
}

static long describe(uint64_t id, uint64_t mask)
{
    struct req r = {sizeof r, 0, id, mask, 0};
    return sm(&r, big, sizeof big, 0);
}

static const char *str(uint32_t off, uint64_t bit)
{
    return (SM->mask & bit) ? SM->str + off : "(none)";
}

static size_t list_all(uint64_t parent, uint64_t *ids, size_t max, unsigned flags)
{
    struct req r = {sizeof r, 0, parent, 0, 0};
    long n = lm(&r, ids, max, flags);
    return n < 0 ? 0 : (size_t)n;
}

static int listed(const uint64_t *ids, size_t n, uint64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return (int)i + 1;
    return 0;
}

static void refusals(uint64_t proc)
{
    struct req r = {sizeof r, 0, proc, SM_MNT_BASIC, 0};
    show("statmount flags 2", sm(&r, big, sizeof big, 2));
    show("statmount flags 2, no request", sm(NULL, big, sizeof big, 2));
    show("statmount no request", sm(NULL, big, sizeof big, 0));
    struct req bad = r;
    bad.size = 0;
    show("statmount request size 0", sm(&bad, big, sizeof big, 0));
    bad.size = 23;
    show("statmount request size 23", sm(&bad, big, sizeof big, 0));
    bad.size = 24;
    show("statmount request size 24", sm(&bad, big, sizeof big, 0));
    bad.size = 4097;
    show("statmount request size 4097", sm(&bad, big, sizeof big, 0));
    char longer[64] = {0};
    memcpy(longer, &r, sizeof r);
    ((struct req *)longer)->size = 40;
    show("statmount request of 40, zeros", sm(longer, big, sizeof big, 0));
    longer[36] = 1;
    show("statmount request of 40, not zeros", sm(longer, big, sizeof big, 0));
    bad = r;
    bad.mnt_id = 5;
    show("statmount old-style id", sm(&bad, big, sizeof big, 0));
    bad.mnt_id = 0;
    show("statmount id 0", sm(&bad, big, sizeof big, 0));
    bad.mnt_id = 1ULL << 62;
    show("statmount missing id", sm(&bad, big, sizeof big, 0));
    show("statmount missing id, unmapped buffer", sm(&bad, (void *)0x1000, 4096, 0));
    show("statmount missing id, buffer to the top", sm(&bad, (void *)(TOP - 600), 600, 0));
    show("statmount missing id, buffer past the top", sm(&bad, (void *)(TOP - 599), 600, 0));
    show("statmount buffer in the kernel's half", sm(&r, (void *)0xffff800000000000ULL, 600, 0));

    /* Namespaces: by id, by descriptor. */
    struct req ns = {sizeof ns, 0, proc, SM_MNT_NS_ID, 0};
    long rc = sm(&ns, big, sizeof big, 0);
    uint64_t own = rc == 0 ? SM->mnt_ns_id : 0;
    show("statmount namespace id", rc);
    ns.param = SM_MNT_BASIC;
    ns.ns_id = own;
    show("statmount by own namespace id", sm(&ns, big, sizeof big, 0));
    ns.ns_id = 1ULL << 60;
    show("statmount by unknown namespace id", sm(&ns, big, sizeof big, 0));
    int nsfd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
    int utsfd = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
    int rootfd = open("/", O_RDONLY | O_CLOEXEC);
    ns.ns_id = 0;
    ns.ns_fd = (uint32_t)nsfd;
    show("statmount by own namespace fd", sm(&ns, big, sizeof big, 0));
    ns.ns_id = own;
    show("statmount by namespace fd and id", sm(&ns, big, sizeof big, 0));
    ns.ns_id = 0;
    ns.ns_fd = 999;
    show("statmount by a closed fd", sm(&ns, big, sizeof big, 0));
    ns.ns_fd = (uint32_t)utsfd;
    show("statmount by a uts namespace fd", sm(&ns, big, sizeof big, 0));
    ns.ns_fd = (uint32_t)rootfd;
    show("statmount by a directory fd", sm(&ns, big, sizeof big, 0));
    ns.mnt_id = 5;
    show("statmount old id, by a closed fd", sm(&ns, big, sizeof big, 0));

    /* Buffers and sizes. */
    show("statmount NULL buffer of 0", sm(&r, NULL, 0, 0));
    struct req s = {sizeof s, 0, proc, SM_FS_TYPE, 0};
    show("statmount buffer of the head, a string", sm(&s, big, 512, 0));
    show("statmount buffer of the head, no string", sm(&r, big, 512, 0));
    memset(big, 0x55, 1024);
    rc = sm(&r, big, 100, 0);
    show("statmount buffer of 100, no string", rc);
    printf("%-44s %u\n", "  its size", SM->size);
    show("statmount buffer of 100, a string", sm(&s, big, 100, 0));
    s.param = SM_MNT_POINT | SM_FS_TYPE;
    rc = sm(&s, big, sizeof big, 0);
    uint32_t need = SM->size;
    show("statmount mount point", rc);
    show("statmount buffer of the size it needs", sm(&s, big, need, 0));
    show("statmount buffer a byte short", sm(&s, big, need - 1, 0));
    struct req u = {sizeof u, 0, proc, (1ULL << 40) | SM_SB_BASIC, 0};
    rc = sm(&u, big, sizeof big, 0);
    show("statmount unknown request bit", rc);
    printf("%-44s %#llx\n", "  its mask", (unsigned long long)SM->mask);
    u.param = SM_SUPPORTED;
    rc = sm(&u, big, sizeof big, 0);
    printf("%-44s %#llx\n", "statmount supported mask", (unsigned long long)SM->supported_mask);
    close(nsfd);
    close(utsfd);
    close(rootfd);

    uint64_t ids[16];
    struct req l = {sizeof l, 0, LSMT_ROOT_, 0, 0};
    show("listmount flags 2", lm(&l, ids, 16, 2));
    show("listmount flags 2, too many", lm(&l, ids, 2000000, 2));
    show("listmount too many", lm(&l, ids, 1000001, 0));
    show("listmount too many, no request", lm(NULL, ids, 1000001, 0));
    show("listmount ids in the kernel's half", lm(&l, (void *)0xffff800000000000ULL, 1, 0));
    show("listmount NULL ids of 1", lm(&l, NULL, 1, 0));
    show("listmount NULL ids of 0", lm(&l, NULL, 0, 0));
    show("listmount no request", lm(NULL, ids, 16, 0));
    struct req lb = l;
    lb.size = 23;
    show("listmount request size 23", lm(&lb, ids, 16, 0));
    lb = l;
    lb.param = 5;
    show("listmount old-style last id", lm(&lb, ids, 16, 0));
    lb = l;
    lb.mnt_id = 5;
    show("listmount old-style parent", lm(&lb, ids, 16, 0));
    lb.mnt_id = 1ULL << 62;
    show("listmount missing parent", lm(&lb, ids, 16, 0));
    show("listmount missing parent, no ids", lm(&lb, NULL, 0, 0));
    lb = l;
    lb.ns_id = 1ULL << 60;
    show("listmount unknown namespace id", lm(&lb, ids, 16, 0));
    lb = l;
    lb.ns_fd = 999;
    show("listmount by a closed fd", lm(&lb, ids, 16, 0));
}

#define MAX 4096
static uint64_t all[MAX], other[MAX];

/* Every listed mount: described, and found again at its mount point. */
static void listing(uint64_t proc)
{
    size_t n = list_all(LSMT_ROOT_, all, MAX, 0);
    printf("%-44s %d\n", "listmount lists some", n > 0);
    int ascending = 1;
    for (size_t i = 1; i < n; i++)
        ascending &= all[i - 1] < all[i];
    printf("%-44s %d\n", "  ascending", ascending);
    printf("%-44s %d\n", "  /proc's mount listed", listed(all, n, proc) > 0);
    size_t r = list_all(LSMT_ROOT_, other, MAX, LISTMOUNT_REVERSE_);
    int backwards = r == n;
    for (size_t i = 0; backwards && i < n; i++)
        backwards = other[i] == all[n - 1 - i];
    printf("%-44s %d\n", "  reversed is backwards", backwards);

    /* Paged: one at a time forwards, two at a time backwards. */
    struct req p = {sizeof p, 0, LSMT_ROOT_, 0, 0};
    size_t got = 0;
    uint64_t one;
    while (got < MAX && lm(&p, &one, 1, 0) == 1) {
        other[got++] = one;
        p.param = one;
    }
    printf("%-44s %d\n", "  paged by one", got == n && memcmp(other, all, n * 8) == 0);
    p.param = 0;
    got = 0;
    long k;
    while (got + 2 <= MAX && (k = lm(&p, other + got, 2, LISTMOUNT_REVERSE_)) > 0) {
        got += (size_t)k;
        p.param = other[got - 1];
    }
    backwards = got == n;
    for (size_t i = 0; backwards && i < n; i++)
        backwards = other[i] == all[n - 1 - i];
    printf("%-44s %d\n", "  paged backwards by two", backwards);

    int failed = 0, missing = 0, elsewhere = 0, outside = 0;
    for (size_t i = 0; i < n; i++) {
        if (describe(all[i], SM_MNT_BASIC | SM_MNT_POINT | SM_FS_TYPE) != 0 || SM->mnt_id != all[i]) {
            failed++;
            continue;
        }
        const char *point = str(SM->mnt_point, SM_MNT_POINT);
        uint64_t there = id_of(point, STATX_MNT_ID_UNIQUE_);
        if (!there)
            missing++;
        else if (!listed(all, n, there))
            elsewhere++;
        if (all[i] == proc)
            printf("%-44s %s %s\n", "  /proc's mount", point, str(SM->fs_type, SM_FS_TYPE));
    }
    printf("%-44s %d\n", "  described", failed == 0);
    printf("%-44s %d %d\n", "  mount points found, listed", missing == 0, elsewhere == 0);

    size_t below = list_all(proc, other, MAX, 0);
    for (size_t i = 0; i < below; i++) {
        if (describe(other[i], SM_MNT_POINT) != 0 || strncmp(SM->str + SM->mnt_point, "/proc/", 6) != 0)
            outside++;
    }
    printf("%-44s %d\n", "  below /proc, all inside it", outside == 0);
}

static void print_mount(const char *label, const char *path, uint64_t id, uint64_t parent)
{
    long rc = describe(id, SM_SB_BASIC | SM_MNT_BASIC | SM_FS_TYPE | SM_MNT_ROOT | SM_MNT_POINT | SM_MNT_OPTS |
                               SM_SB_SOURCE | SM_OPT_ARRAY);
    if (rc != 0) {
        show(label, rc);
        return;
    }
    printf("%-44s %s %s %s %s\n", label, shown(str(SM->mnt_point, SM_MNT_POINT)), str(SM->fs_type, SM_FS_TYPE),
           str(SM->sb_source, SM_SB_SOURCE), str(SM->mnt_opts, SM_MNT_OPTS));
    const char *root = str(SM->mnt_root, SM_MNT_ROOT);
    size_t rl = strlen(root);
    printf("%-44s %s\n", "  root", rl >= 4 && strcmp(root + rl - 4, "/src") == 0 ? ".../src" : root);
    int old = SM->mnt_id_old == (uint32_t)id_of(path, STATX_MNT_ID_);
    printf("%-44s %d %d %d\n", "  id, old id, parent", SM->mnt_id == id, old, SM->mnt_parent_id == parent);
    printf("%-44s %#llx %#llx %#llx\n", "  magic, attr, propagation", (unsigned long long)SM->sb_magic,
           (unsigned long long)SM->mnt_attr, (unsigned long long)SM->mnt_propagation);
    printf("%-44s", "  options");
    const char *o = str(SM->opt_array, SM_OPT_ARRAY);
    for (uint32_t i = 0; (SM->mask & SM_OPT_ARRAY) && i < SM->opt_num; i++, o += strlen(o) + 1)
        printf(" [%s]", o);
    printf("\n");
}

static void own_mounts(void)
{
    mkdir(at("a"), 0755);
    mkdir(at("src"), 0755);
    mkdir(at("b"), 0755);
    long rc = mount("none", at("a"), "tmpfs", 0, "size=64k,mode=0750") == 0 ? 0 : -errno;
    show("mount tmpfs a", rc);
    if (rc != 0)
        return;
    mkdir(at("a/sub"), 0755);
    show("mount tmpfs a/sub", mount("none", at("a/sub"), "tmpfs", MS_NOSUID, NULL) == 0 ? 0 : -errno);
    show("bind src on b", mount(at("src"), at("b"), NULL, MS_BIND, NULL) == 0 ? 0 : -errno);
    uint64_t a = id_of(at("a"), STATX_MNT_ID_UNIQUE_), b = id_of(at("b"), STATX_MNT_ID_UNIQUE_);
    uint64_t sub = id_of(at("a/sub"), STATX_MNT_ID_UNIQUE_), d = id_of(dir, STATX_MNT_ID_UNIQUE_);
    print_mount("a", at("a"), a, d);
    print_mount("b", at("b"), b, d);
    print_mount("a/sub", at("a/sub"), sub, a);

    size_t n = list_all(LSMT_ROOT_, all, MAX, 0);
    int pa = listed(all, n, a), pb = listed(all, n, b), ps = listed(all, n, sub);
    printf("%-44s %d\n", "listmount has a, a/sub, b in order", pa && pa < ps && ps < pb);
    size_t k = list_all(a, other, MAX, 0);
    printf("%-44s %zu %d\n", "listmount below a", k, k == 1 && other[0] == sub);
    k = list_all(sub, other, MAX, 0);
    printf("%-44s %zu\n", "listmount below a/sub", k);

    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(3);
        size_t m = list_all(LSMT_ROOT_, other, MAX, 0);
        printf("%-44s %d\n", "nobody: the same list", m == n && memcmp(other, all, n * 8) == 0);
        show("nobody: statmount b", describe(b, SM_MNT_POINT));
        printf("%-44s %s\n", "  at", shown(SM->str + SM->mnt_point));
        fflush(stdout);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    printf("%-44s %d\n", "nobody's status", status);

    show("umount2 a/sub", umount2(at("a/sub"), 0) == 0 ? 0 : -errno);
    show("umount2 a", umount2(at("a"), 0) == 0 ? 0 : -errno);
    show("umount2 b", umount2(at("b"), 0) == 0 ? 0 : -errno);
    show("statmount a after", describe(a, SM_MNT_BASIC));
    show("listmount below a after", lm(&(struct req){sizeof(struct req), 0, a, 0, 0}, other, MAX, 0));
    n = list_all(LSMT_ROOT_, all, MAX, 0);
    printf("%-44s %d\n", "listmount without a", !listed(all, n, a) && !listed(all, n, b));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mountids DIR\n");
        return 2;
    }
    dir = argv[1];
    dirlen = strlen(dir);
    uint64_t proc = id_of("/proc", STATX_MNT_ID_UNIQUE_);
    printf("%-44s %d\n", "/proc has a unique mount id", proc != 0);
    refusals(proc);
    listing(proc);
    if (geteuid() == 0)
        own_mounts();
    return 0;
}
