/* execchain N: prints N, then re-executes itself through /proc/self/exe
 * with N-1, until 0.  Exercises repeated execve through the loader. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "common.h"

int main(int argc, char **argv)
{
    long n;
    char arg[32];
    char *args[3];

    if (argc < 2) {
        fprintf(stderr, "usage: execchain N\n");
        return 100;
    }
    n = atol(argv[1]);
    printf("execchain %ld\n", n);
    fflush(stdout);
    if (n <= 0)
        return 0;
    snprintf(arg, sizeof arg, "%ld", n - 1);
    args[0] = "execchain";
    args[1] = arg;
    args[2] = NULL;
    execv("/proc/self/exe", args);
    printf("execv failed: %s\n", errno_name(errno));
    return 1;
}
