/* Target program: grows its heap by 1 MiB every 100 ms for SECONDS seconds, keeping it all.
 * usage: grower SECONDS */
#include <stdlib.h>
#include <string.h>
#include <time.h>

void *keep[1000];

__attribute__((noinline)) void *grow_step(void)
{
    void *p = malloc(1 << 20);
    memset(p, 1, 1 << 20);
    return p;
}

int main(int argc, char **argv)
{
    int steps = (argc > 1 ? atoi(argv[1]) : 2) * 10;
    for (int i = 0; i < steps && i < 1000; i++) {
        keep[i] = grow_step();
        struct timespec ts = { 0, 100 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    return 0;
}
