/* hello: prints a greeting, argc, every argument (quoted) and the whole
 * environment, sorted, so that argv/envp passing can be compared. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    size_t n = 0, i;
    char **env;

    printf("hello, world\n");
    printf("argc=%d\n", argc);
    for (i = 0; i < (size_t)argc; i++)
        printf("argv[%zu]=\"%s\"\n", i, argv[i]);
    if (argv[argc] != NULL)
        printf("argv[argc] is not NULL\n");

    while (environ[n])
        n++;
    env = malloc((n + 1) * sizeof *env);
    if (!env)
        return 1;
    memcpy(env, environ, (n + 1) * sizeof *env);
    qsort(env, n, sizeof *env, cmp);
    printf("envc=%zu\n", n);
    for (i = 0; i < n; i++)
        printf("env: %s\n", env[i]);
    free(env);
    return 0;
}
