/* acct DIR: process accounting switched on and off as Linux answers it, on
 * files in DIR (fresh and empty): the kernel's errnos for what is no regular
 * file or not there, records written for an exiting child, and EPERM for a
 * caller without CAP_SYS_PACCT (before the name is read). Run as root natively
 * (the oracle) and under lxrun. */
#include "common.h"
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *dir;

static char *at(const char *name) { return path_in(dir, name); }

static void show(const char *what, int rc)
{
    printf("%-34s %s\n", what, rc == 0 ? "OK" : errno_name(errno));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: acct DIR\n");
        return 2;
    }
    dir = argv[1];
    mkdir(at("dir"), 0755);
    int fd = open(at("file"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0)
        close(fd);
    symlink("file", at("link"));

    show("acct(NULL), off already", acct(NULL));
    show("acct of an empty name", acct(""));
    show("acct of a bad pointer", acct((const char *)8));
    show("acct of a missing file", acct(at("missing")));
    show("acct of a directory", acct(at("dir")));
    show("acct below a file", acct(at("file/x")));
    show("acct of /dev/null", acct("/dev/null"));
    show("acct through a symlink", acct(at("link")));
    show("acct(NULL)", acct(NULL));
    show("acct of the file", acct(at("file")));
    fflush(stdout);
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    waitpid(child, NULL, 0);
    show("acct(NULL) after a child", acct(NULL));
    struct stat st;
    int written = stat(at("file"), &st) == 0 && st.st_size > 0 && st.st_size % 64 == 0;
    printf("%-34s %d\n", "records written", written);

    fflush(stdout);
    child = fork();
    if (child == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(3);
        show("nobody: acct of the file", acct(at("file")));
        show("nobody: acct(NULL)", acct(NULL));
        show("nobody: acct of a bad pointer", acct((const char *)8));
        fflush(stdout);
        _exit(0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    printf("%-34s %d\n", "nobody's status", status);
    return 0;
}
