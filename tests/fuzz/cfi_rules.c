/* Fuzz target (libFuzzer): cfi.c's parser of unwind rules, over object images it did not make.
 * The parser runs inside the profiled program on every return address it has no rule for,
 * reading the .eh_frame of whatever objects are loaded: a bad one must give "other", never a
 * read outside the object or a crash of the host.
 *
 * Input: 4 bytes, the .eh_frame_hdr's offset in the image; 4 bytes, the return address's
 * offset (both taken modulo the image's size); then the image, which is both the segment of
 * the .eh_frame_hdr and the code's. It is copied to an allocation of its exact size, so ASan
 * sees any read past it.
 *
 * Seeds: with MAPPROF_FUZZ_SEEDS=DIR and MAPPROF_FUZZ_OBJECT=a small shared object, the target
 * loads the object, writes one input per 7th byte of its code (its real .eh_frame_hdr, up to
 * 64 inputs) into DIR, and exits (scripts/fuzz.sh). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profiler/cfi.h"
#include "tests/cfi_image.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int write_seeds(const char *dir, const char *object)
{
    if (!dlopen(object, RTLD_NOW)) {
        fprintf(stderr, "cfi_rules: cannot load %s: %s\n", object, dlerror());
        return 1;
    }
    const char *name = strrchr(object, '/') ? strrchr(object, '/') + 1 : object;
    cfi_copy_t c;
    if (!cfi_copy_object(name, &c)) {
        fprintf(stderr, "cfi_rules: cannot copy %s\n", object);
        return 1;
    }
    ASAN_UNPOISON_MEMORY_REGION(c.buf, c.len);   /* the whole image goes into each seed */
    uint32_t hdr = (uint32_t)(c.im.hdr - c.buf);
    int n = 0;
    for (uintptr_t a = c.code_lo + 1; a < c.code_hi && n < 64; a += 7, n++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/seed-%02d", dir, n);
        FILE *f = fopen(path, "wb");
        if (!f) {
            fprintf(stderr, "cfi_rules: cannot write %s\n", path);
            return 1;
        }
        uint32_t pc = (uint32_t)(a - 1 - c.base);
        fwrite(&hdr, 4, 1, f);
        fwrite(&pc, 4, 1, f);
        fwrite(c.buf, 1, c.len, f);
        fclose(f);
    }
    cfi_copy_free(&c);
    fprintf(stderr, "cfi_rules: %d seeds from %s\n", n, object);
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("MAPPROF_FUZZ_SEEDS"), *object = getenv("MAPPROF_FUZZ_OBJECT");
    if (dir && object) exit(write_seeds(dir, object));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 9) return 0;
    uint32_t hdr, pc;
    memcpy(&hdr, data, 4);
    memcpy(&pc, data + 4, 4);
    size_t n = size - 8;
    uint8_t *img = malloc(n);
    if (!img) return 0;
    memcpy(img, data + 8, n);
    mp_cfi_image_t im = { img + hdr % n, img, img + n, img, img + n };
    mp_cfi_rule_t r = mp_cfi_parse_image(&im, (uintptr_t)img + pc % n + 1);
    /* a parse gives a rule, the end, a signal frame or "other"; never "none" (a flushed entry) */
    if (mp_cfi_kind(r) == MP_CFI_NONE) abort();
    free(img);
    return 0;
}
