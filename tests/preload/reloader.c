/* Target program: dlopen, call, dlclose two plugins in turn (tests/preload/frameplugin.c), which
 * the loader maps at the same address: a rule the unwinder kept for the first must not step
 * the second's frames. usage: reloader SMALL.so LARGE.so; prints "ok" and where each loaded. */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    for (int round = 0; round < 20; round++) {
        const char *path = argv[1 + round % 2];
        void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!h) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 3; }
        void (*fn)(int) = (void (*)(int))dlsym(h, "frameplugin_alloc");
        if (!fn) return 4;
        for (int i = 0; i < 10; i++) fn(i);
        if (round < 2) printf("%s at %p\n", path + (round % 2 ? 0 : 0), (void *)fn);
        dlclose(h);
    }
    printf("ok\n");
    return 0;
}
