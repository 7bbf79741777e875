/* Target program: a daemon's start. It allocates 10 x 1000 B in before_chdir, changes
 * directory to / (where it may not write) and allocates 5 x 1000 B more in after_chdir. */
#include <stdlib.h>
#include <unistd.h>

#include "tests/preload/alloc_site.h"

void *keep[15];     /* external: the compiler may not drop the allocations stored here */

ALLOC_SITE(before_chdir)
ALLOC_SITE(after_chdir)

int main(void)
{
    for (int i = 0; i < 10; i++) keep[i] = before_chdir(1000);
    if (chdir("/") != 0) return 1;
    for (int i = 10; i < 15; i++) keep[i] = after_chdir(1000);
    return 0;
}
