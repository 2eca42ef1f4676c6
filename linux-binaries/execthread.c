/* execve from a thread of a multithreaded process: the other threads vanish, the exec'ing
 * thread takes the leader's pid, and the new image runs with one thread. */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *sleeper(void *arg) {
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

static void *execer(void *arg) {
    char *argv[] = {"execthread", "after", NULL};
    (void)arg;
    execv("/proc/self/exe", argv);
    perror("execv");
    exit(1);
}

static int tasks(void) {
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    struct dirent *e;
    if (!d)
        return -1;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

int main(int argc, char **argv) {
    pthread_t t;
    char pid[32];
    if (argc > 1 && strcmp(argv[1], "after") == 0) {
        const char *orig = getenv("EXECTHREAD_PID");
        printf("after exec: same pid %s, tasks %d\n", orig && atoi(orig) == getpid() ? "yes" : "no", tasks());
        return 0;
    }
    snprintf(pid, sizeof pid, "%d", getpid());
    setenv("EXECTHREAD_PID", pid, 1);
    for (int i = 0; i < 3; i++)
        pthread_create(&t, NULL, sleeper, NULL);
    printf("before exec: tasks %d\n", tasks());
    fflush(stdout);
    pthread_create(&t, NULL, execer, NULL);
    pthread_join(t, NULL);
    return 2;
}
