/* fileio DIR: file system calls inside DIR (which should be empty).
 *
 * Works in a subdirectory DIR/w using mostly relative paths (after chdir),
 * prints every result (values and errno names, never paths), and exits 0
 * only if every result matched the expectation. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common.h"

static int failures;

/* Prints "<what>: <result>" where result is the return value and errno name
 * when negative; counts a failure if it differs from the expectation. */
static void expect_ret(const char *what, long ret, long want, int want_errno)
{
    int e = errno;
    if (ret < 0)
        printf("%s: %ld %s", what, ret, errno_name(e));
    else
        printf("%s: %ld", what, ret);
    if (ret != want || (ret < 0 && e != want_errno)) {
        printf("  MISMATCH (want %ld %s)", want, want < 0 ? errno_name(want_errno) : "");
        failures++;
    }
    printf("\n");
}

static void expect_str(const char *what, const char *got, const char *want)
{
    printf("%s: \"%s\"", what, got);
    if (strcmp(got, want) != 0) {
        printf("  MISMATCH (want \"%s\")", want);
        failures++;
    }
    printf("\n");
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_dir(const char *what, const char *path, const char *want)
{
    char *names[64];
    char joined[1024] = "";
    size_t n = 0, i;
    struct dirent *de;
    DIR *d = opendir(path);

    if (!d) {
        printf("%s: opendir failed %s  MISMATCH\n", what, errno_name(errno));
        failures++;
        return;
    }
    while ((de = readdir(d)) != NULL && n < 64)
        names[n++] = strdup(de->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, cmp);
    for (i = 0; i < n; i++) {
        if (i)
            strcat(joined, " ");
        if (strlen(joined) + strlen(names[i]) + 2 < sizeof joined)
            strcat(joined, names[i]);
        free(names[i]);
    }
    expect_str(what, joined, want);
}

int main(int argc, char **argv)
{
    static const char data[] = "0123456789abcdef";
    char buf[256], abspath[PATH_MAX];
    struct stat st;
    int fd;
    ssize_t n;

    if (argc < 2) {
        fprintf(stderr, "usage: fileio DIR\n");
        return 100;
    }
    umask(022);

    expect_ret("stat DIR", stat(argv[1], &st), 0, 0);
    expect_ret("DIR is dir", S_ISDIR(st.st_mode), 1, 0);
    snprintf(abspath, sizeof abspath, "%s/w", argv[1]);
    expect_ret("mkdir DIR/w", mkdir(abspath, 0755), 0, 0);
    expect_ret("chdir DIR/w", chdir(abspath), 0, 0);
    if (!getcwd(buf, sizeof buf)) {
        printf("getcwd failed %s  MISMATCH\n", errno_name(errno));
        failures++;
    } else {
        /* Compare getcwd with the realpath of the directory. */
        char real[PATH_MAX];
        if (!realpath(abspath, real))
            strcpy(real, "(realpath failed)");
        expect_ret("getcwd matches realpath", strcmp(buf, real) == 0, 1, 0);
    }

    fd = open("a.txt", O_CREAT | O_EXCL | O_RDWR, 0666);
    expect_ret("open a.txt O_CREAT|O_EXCL", fd >= 0 ? 0 : fd, 0, 0);
    expect_ret("open a.txt again O_EXCL",
               open("a.txt", O_CREAT | O_EXCL | O_RDWR, 0666), -1, EEXIST);
    expect_ret("write 16 bytes", write(fd, data, 16), 16, 0);
    expect_ret("lseek SEEK_SET 4", lseek(fd, 4, SEEK_SET), 4, 0);
    memset(buf, 0, sizeof buf);
    n = read(fd, buf, 4);
    expect_ret("read 4", n, 4, 0);
    expect_str("read data", buf, "4567");
    expect_ret("lseek SEEK_CUR 0", lseek(fd, 0, SEEK_CUR), 8, 0);
    memset(buf, 0, sizeof buf);
    expect_ret("pread 3 at 10", pread(fd, buf, 3, 10), 3, 0);
    expect_str("pread data", buf, "abc");
    expect_ret("offset unchanged by pread", lseek(fd, 0, SEEK_CUR), 8, 0);
    expect_ret("pwrite 2 at 0", pwrite(fd, "XY", 2, 0), 2, 0);
    expect_ret("fstat", fstat(fd, &st), 0, 0);
    expect_ret("fstat size", (long)st.st_size, 16, 0);
    expect_ret("fstat is regular", S_ISREG(st.st_mode), 1, 0);
    expect_ret("fstat mode is 0644 (umask 022)", (st.st_mode & 07777) == 0644, 1, 0);
    expect_ret("fstat nlink", (long)st.st_nlink, 1, 0);
    expect_ret("ftruncate 5", ftruncate(fd, 5), 0, 0);
    expect_ret("fstat", fstat(fd, &st), 0, 0);
    expect_ret("fstat size after truncate", (long)st.st_size, 5, 0);
    expect_ret("lseek SEEK_END 0", lseek(fd, 0, SEEK_END), 5, 0);
    memset(buf, 0, sizeof buf);
    expect_ret("pread all", pread(fd, buf, sizeof buf - 1, 0), 5, 0);
    expect_str("file content", buf, "XY234");
    expect_ret("close", close(fd), 0, 0);
    expect_ret("read closed fd", read(fd, buf, 1), -1, EBADF);

    expect_ret("rename a.txt b.txt", rename("a.txt", "b.txt"), 0, 0);
    expect_ret("stat a.txt", stat("a.txt", &st), -1, ENOENT);
    expect_ret("stat b.txt", stat("b.txt", &st), 0, 0);
    expect_ret("stat b.txt size", (long)st.st_size, 5, 0);

    expect_ret("link b.txt c.txt", link("b.txt", "c.txt"), 0, 0);
    expect_ret("stat c.txt", stat("c.txt", &st), 0, 0);
    expect_ret("nlink after link", (long)st.st_nlink, 2, 0);

    expect_ret("symlink b.txt d.lnk", symlink("b.txt", "d.lnk"), 0, 0);
    memset(buf, 0, sizeof buf);
    n = readlink("d.lnk", buf, sizeof buf - 1);
    expect_ret("readlink d.lnk", n, 5, 0);
    expect_str("readlink target", buf, "b.txt");
    expect_ret("lstat d.lnk", lstat("d.lnk", &st), 0, 0);
    expect_ret("lstat is symlink", S_ISLNK(st.st_mode), 1, 0);
    expect_ret("stat d.lnk", stat("d.lnk", &st), 0, 0);
    expect_ret("stat through link size", (long)st.st_size, 5, 0);
    expect_ret("readlink on regular file", readlink("b.txt", buf, sizeof buf),
               -1, EINVAL);

    /* Absolute path through the original directory name. */
    snprintf(abspath, sizeof abspath, "%s/w/d.lnk", argv[1]);
    fd = open(abspath, O_RDONLY);
    expect_ret("open DIR/w/d.lnk absolute", fd >= 0 ? 0 : fd, 0, 0);
    memset(buf, 0, sizeof buf);
    expect_ret("read via symlink", read(fd, buf, sizeof buf - 1), 5, 0);
    expect_str("data via symlink", buf, "XY234");
    close(fd);

    expect_ret("mkdir sub", mkdir("sub", 0755), 0, 0);
    expect_ret("mkdir sub again", mkdir("sub", 0755), -1, EEXIST);
    expect_ret("stat sub", stat("sub", &st), 0, 0);
    expect_ret("sub is dir", S_ISDIR(st.st_mode), 1, 0);
    fd = open("sub/f", O_CREAT | O_WRONLY, 0600);
    expect_ret("create sub/f", fd >= 0 ? 0 : fd, 0, 0);
    close(fd);
    expect_ret("rmdir non-empty sub", rmdir("sub"), -1, ENOTEMPTY);
    expect_ret("open b.txt/x", open("b.txt/x", O_RDONLY), -1, ENOTDIR);
    expect_ret("open missing", open("missing", O_RDONLY), -1, ENOENT);
    expect_ret("open sub for write", open("sub", O_WRONLY), -1, EISDIR);
    list_dir("listing", ".", ". .. b.txt c.txt d.lnk sub");
    list_dir("listing sub", "sub", ". .. f");
    expect_ret("unlink sub/f", unlink("sub/f"), 0, 0);
    expect_ret("rmdir sub", rmdir("sub"), 0, 0);
    expect_ret("stat sub after rmdir", stat("sub", &st), -1, ENOENT);

    expect_ret("unlink b.txt", unlink("b.txt"), 0, 0);
    expect_ret("stat d.lnk (dangling)", stat("d.lnk", &st), -1, ENOENT);
    expect_ret("lstat d.lnk (dangling)", lstat("d.lnk", &st), 0, 0);
    expect_ret("stat c.txt", stat("c.txt", &st), 0, 0);
    expect_ret("nlink after unlink", (long)st.st_nlink, 1, 0);
    expect_ret("unlink c.txt", unlink("c.txt"), 0, 0);
    expect_ret("unlink d.lnk", unlink("d.lnk"), 0, 0);
    expect_ret("unlink missing", unlink("missing"), -1, ENOENT);
    list_dir("listing at end", ".", ". ..");

    expect_ret("chdir ..", chdir(".."), 0, 0);
    expect_ret("rmdir w", rmdir("w"), 0, 0);

    printf("failures: %d\n", failures);
    return failures ? 1 : 0;
}
