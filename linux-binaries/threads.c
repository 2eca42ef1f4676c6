/* threads: 8 pthreads summing ranges, a mutex-protected counter,
 * thread-local storage, distinct pthread_self()/gettid() values, and a
 * direct write(2) from a thread.  Prints totals and booleans only. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NTHREADS 8
#define RANGE 1000000ULL
#define INCREMENTS 10000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static __thread int tls_value = -1;

struct job {
    int index;
    uint64_t sum;
    pthread_t self;
    long tid;
    pid_t pid;
    int tls_ok;
};

static void *worker(void *arg)
{
    struct job *job = arg;
    uint64_t i, start = (uint64_t)job->index * RANGE;
    int k;

    job->tls_ok = tls_value == -1;
    tls_value = job->index;
    for (i = start; i < start + RANGE; i++)
        job->sum += i;
    for (k = 0; k < INCREMENTS; k++) {
        pthread_mutex_lock(&lock);
        counter++;
        pthread_mutex_unlock(&lock);
    }
    job->self = pthread_self();
    job->tid = syscall(SYS_gettid);
    job->pid = getpid();
    if (job->index == 3) {
        static const char msg[] = "thread 3: direct write(2)\n";
        if (write(1, msg, sizeof msg - 1) != (ssize_t)(sizeof msg - 1))
            job->sum = 0;
    }
    sched_yield();
    job->tls_ok = job->tls_ok && tls_value == job->index;
    return job;
}

int main(void)
{
    struct job jobs[NTHREADS];
    pthread_t threads[NTHREADS];
    uint64_t total = 0, expected;
    int i, j, self_distinct = 1, tid_distinct = 1, tid_not_pid = 1;
    int pid_same = 1, tls_ok = 1, joined_ok = 1;
    pid_t pid = getpid();
    long main_tid = syscall(SYS_gettid);

    printf("starting %d threads\n", NTHREADS);
    fflush(stdout);
    tls_value = 1000;
    memset(jobs, 0, sizeof jobs);
    for (i = 0; i < NTHREADS; i++) {
        jobs[i].index = i;
        if (pthread_create(&threads[i], NULL, worker, &jobs[i]) != 0) {
            printf("pthread_create %d failed\n", i);
            return 1;
        }
    }
    for (i = 0; i < NTHREADS; i++) {
        void *ret;
        if (pthread_join(threads[i], &ret) != 0 || ret != &jobs[i])
            joined_ok = 0;
    }

    for (i = 0; i < NTHREADS; i++) {
        printf("thread %d sum %llu\n", i, (unsigned long long)jobs[i].sum);
        total += jobs[i].sum;
        if (pthread_equal(jobs[i].self, pthread_self()))
            self_distinct = 0;
        if (jobs[i].tid == pid || jobs[i].tid == main_tid)
            tid_not_pid = 0;
        if (jobs[i].pid != pid)
            pid_same = 0;
        if (!jobs[i].tls_ok)
            tls_ok = 0;
        for (j = 0; j < i; j++) {
            if (pthread_equal(jobs[i].self, jobs[j].self))
                self_distinct = 0;
            if (jobs[i].tid == jobs[j].tid)
                tid_distinct = 0;
        }
    }
    expected = NTHREADS * RANGE * (NTHREADS * RANGE - 1) / 2;
    printf("total %llu (expected %llu)\n", (unsigned long long)total,
           (unsigned long long)expected);
    printf("counter %ld (expected %d)\n", counter, NTHREADS * INCREMENTS);
    printf("all joined: %s\n", joined_ok ? "true" : "false");
    printf("pthread_self distinct: %s\n", self_distinct ? "true" : "false");
    printf("gettid distinct: %s\n", tid_distinct ? "true" : "false");
    printf("thread gettid != getpid: %s\n", tid_not_pid ? "true" : "false");
    printf("main gettid == getpid: %s\n", main_tid == pid ? "true" : "false");
    printf("getpid same in threads: %s\n", pid_same ? "true" : "false");
    printf("thread-local storage ok: %s\n", tls_ok ? "true" : "false");
    printf("main tls intact: %s\n", tls_value == 1000 ? "true" : "false");

    return (total == expected && counter == NTHREADS * INCREMENTS && joined_ok &&
            self_distinct && tid_distinct && tid_not_pid && main_tid == pid &&
            pid_same && tls_ok && tls_value == 1000) ? 0 : 1;
}
