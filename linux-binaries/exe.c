/* exe: prints readlink("/proc/self/exe") in full. */
#include <stdio.h>
#include <unistd.h>
#include "common.h"

int main(void)
{
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n < 0) {
        printf("readlink /proc/self/exe failed: %s\n", errno_name(errno));
        return 1;
    }
    buf[n] = '\0';
    printf("%s\n", buf);
    return 0;
}
