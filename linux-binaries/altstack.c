/* altstack: alternate signal stacks in threads, with calls lxrun translates made everywhere.
 *
 * Each thread (the main one, then new ones) checks what sigaltstack reports (none at first,
 * its own once set, none again once disabled), that a handler marked SA_ONSTACK runs on its
 * own stack and can stat from there, and sigaltstack's errors. Then threads stat in a loop
 * (half on stacks of their own) while being signalled, with detached threads coming and
 * going; then thousands of short-lived threads must not grow the address space.
 *
 * Prints outcomes only (never timings or addresses); exits 0 only if every outcome matched. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "common.h"

static int failures;
static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

static void expect(const char *who, const char *what, long got, long want)
{
    pthread_mutex_lock(&print_lock);
    printf("%s: %s: %ld", who, what, got);
    if (got != want) {
        printf("  MISMATCH (want %ld)", want);
        failures++;
    }
    printf("\n");
    pthread_mutex_unlock(&print_lock);
}

static int stat_ok(void)
{
    struct stat st;
    return stat("etc", &st) == 0 && stat("/etc", &st) == 0;
}

static volatile unsigned long handler_sp;
static volatile int handler_flags, handler_stat;

static void on_usr1(int sig)
{
    char here;
    stack_t cur;
    (void)sig;
    handler_sp = (unsigned long)&here;
    handler_flags = sigaltstack(NULL, &cur) == 0 ? cur.ss_flags : -1;
    handler_stat = stat_ok();
}

/* The raw call: libcs check some arguments themselves. */
static const char *raw_sigaltstack(const void *ss, void *oss)
{
    return errno_name(syscall(SYS_sigaltstack, ss, oss) == 0 ? 0 : errno);
}

static void one_thread(const char *who)
{
    stack_t cur, old;
    const size_t size = 64 * 1024;
    char *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    stack_t mine = {.ss_sp = mem, .ss_flags = 0, .ss_size = size};
    stack_t tiny = {.ss_sp = mem, .ss_flags = 0, .ss_size = 100};
    stack_t bad = {.ss_sp = mem, .ss_flags = 77, .ss_size = size};
    stack_t off = {.ss_sp = NULL, .ss_flags = SS_DISABLE, .ss_size = 0};

    expect(who, "no stack at first", sigaltstack(NULL, &cur) == 0 && cur.ss_flags == SS_DISABLE, 1);
    raise(SIGUSR1);
    expect(who, "handler stats without a stack", handler_stat, 1);
    expect(who, "set", sigaltstack(&mine, &old) == 0 && old.ss_flags == SS_DISABLE, 1);
    expect(who, "reports it",
           sigaltstack(NULL, &cur) == 0 && cur.ss_sp == mem && cur.ss_size == size && cur.ss_flags == 0, 1);
    expect(who, "stat on it", stat_ok(), 1);
    raise(SIGUSR1);
    expect(who, "handler on it", handler_sp > (unsigned long)mem && handler_sp < (unsigned long)mem + size, 1);
    expect(who, "handler sees SS_ONSTACK", handler_flags, SS_ONSTACK);
    expect(who, "handler stats on it", handler_stat, 1);
    printf("%s: bad ss: %s, bad oss: %s\n", who, raw_sigaltstack((void *)8, NULL), raw_sigaltstack(NULL, (void *)8));
    printf("%s: too small: %s, bad flags: %s\n", who, raw_sigaltstack(&tiny, NULL), raw_sigaltstack(&bad, NULL));
    expect(who, "disable", sigaltstack(&off, &old) == 0 && old.ss_sp == mem && old.ss_size == size, 1);
    expect(who, "none again", sigaltstack(NULL, &cur) == 0 && cur.ss_flags == SS_DISABLE, 1);
    munmap(mem, size);
    raise(SIGUSR1);
    expect(who, "handler stats after", handler_stat, 1);
}

static void *thread_main(void *who)
{
    one_thread(who);
    return NULL;
}

/* Threads stat in a loop while being signalled; every 200th round a detached thread. */
#define STORM 6
static volatile int stop, bad_stats;
static volatile long started;

static void *detached(void *arg)
{
    (void)arg;
    if (!stat_ok())
        __sync_fetch_and_add(&bad_stats, 1);
    return NULL;
}

static void *stormer(void *arg)
{
    long i = (long)arg, n = 0;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (i % 2) {
        stack_t ss = {.ss_sp = malloc(32768), .ss_flags = 0, .ss_size = 32768};
        sigaltstack(&ss, NULL);
    }
    __sync_fetch_and_add(&started, 1);
    while (!stop) {
        if (!stat_ok())
            __sync_fetch_and_add(&bad_stats, 1);
        if (++n % 200 == 0) {
            pthread_t t;
            pthread_create(&t, &attr, detached, NULL);
        }
    }
    return NULL;
}

static void storm(void)
{
    pthread_t t[STORM];
    for (long i = 0; i < STORM; i++)
        pthread_create(&t[i], NULL, stormer, (void *)i);
    while (started < STORM)
        sched_yield();
    for (int k = 0; k < 3000; k++) {
        pthread_kill(t[k % STORM], SIGUSR1);
        if (k % 100 == 0)
            usleep(1000);
    }
    stop = 1;
    for (int i = 0; i < STORM; i++)
        pthread_join(t[i], NULL);
    usleep(50000); /* the last detached threads */
    expect("storm", "failed stats", bad_stats, 0);
}

static long vm_size_kb(void)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmSize:", 7) == 0)
            kb = atol(line + 7);
    if (f)
        fclose(f);
    return kb;
}

static void *short_lived(void *arg)
{
    (void)arg;
    return (void *)(long)stat_ok();
}

static int churn(int n)
{
    int ok = 0;
    for (int i = 0; i < n; i++) {
        pthread_t t;
        void *r;
        pthread_create(&t, NULL, short_lived, NULL);
        pthread_join(t, &r);
        ok += r != NULL;
    }
    return ok;
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_ONSTACK | SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    if (chdir("/") != 0)
        return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);

    one_thread("main");
    for (int i = 0; i < 3; i++) {
        pthread_t t;
        pthread_create(&t, NULL, thread_main, "thread");
        pthread_join(t, NULL);
    }
    one_thread("main again");
    storm();
    /* Warm up (libc caches thread stacks), then 3000 more: no alternate stack left behind. */
    int ok = churn(200);
    long before = vm_size_kb();
    ok += churn(3000);
    long grown = vm_size_kb() - before;
    expect("churn", "threads that stat'ed", ok, 3200);
    expect("churn", "address space grew under 1 MB", grown < 1024, 1);
    printf("%s\n", failures ? "FAILED" : "all ok");
    return failures != 0;
}
