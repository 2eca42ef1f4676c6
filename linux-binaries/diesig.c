/* diesig SIG: dies of signal number SIG.  SIGSEGV is produced by a real
 * invalid memory access, SIGABRT by abort(), anything else by kill(). */
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int sig;
    sigset_t set;
    struct rlimit nocore = { 0, 0 };

    if (argc < 2) {
        fprintf(stderr, "usage: diesig SIGNUM\n");
        return 100;
    }
    sig = atoi(argv[1]);
    /* No core files in the test's working directory. */
    setrlimit(RLIMIT_CORE, &nocore);

    signal(sig, SIG_DFL);
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);

    printf("dying\n");
    fflush(stdout);

    if (sig == SIGABRT) {
        abort();
    } else if (sig == SIGSEGV) {
        *(volatile int *)(uintptr_t)8 = 1;
    } else {
        kill(getpid(), sig);
    }
    printf("survived\n");
    return 1;
}
