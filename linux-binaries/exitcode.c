/* exitcode: exits with the status given as argv[1]. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: exitcode STATUS\n");
        return 100;
    }
    return atoi(argv[1]);
}
