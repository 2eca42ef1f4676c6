/* tryexec PATH [ARG...]: execve(PATH, [PATH, ARG...]); if it returns, prints
 * "execve: ERRNO" and exits 1.  Shows the errno a guest's execve gets. */
#include <stdio.h>
#include <unistd.h>
#include "common.h"

extern char **environ;

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: tryexec PATH [ARG...]\n");
        return 100;
    }
    execve(argv[1], argv + 1, environ);
    printf("execve: %s\n", errno_name(errno));
    return 1;
}
