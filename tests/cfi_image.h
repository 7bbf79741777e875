/* tests/cfi_image.h - a loaded object copied out of place, for mp_cfi_parse_image (the unit
 * test of cfi.c and its fuzz target's seeds). Its loaded segments sit at their own offsets in
 * one buffer, so pc-relative values still hold. Under ASan everything in the copy but the
 * segment of the .eh_frame_hdr and the code's segment is poisoned: a parse that reads outside
 * what mp_cfi_image_t gives it is reported. */
#ifndef MAPPROF_TESTS_CFI_IMAGE_H
#define MAPPROF_TESTS_CFI_IMAGE_H

#include <link.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "profiler/cfi.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#else
#define ASAN_POISON_MEMORY_REGION(a, n) ((void)(a), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(a, n) ((void)(a), (void)(n))
#endif

typedef struct cfi_copy {
    const char *want;           /* in: a name part ("" = the program) */
    uint8_t *buf;               /* the copy; buf[0] is the object's first loaded byte */
    size_t len;
    uintptr_t base;             /* that byte's address in place */
    uintptr_t code_lo, code_hi; /* the executable segment, in place */
    mp_cfi_image_t im;          /* what a parse of the copy may read */
} cfi_copy_t;

/* Byte by byte, unwatched: the program's own data carries ASan's redzones between globals. */
__attribute__((no_sanitize("address"))) static void cfi_copy_bytes(uint8_t *to, uintptr_t from,
                                                                  size_t n)
{
    for (size_t i = 0; i < n; i++) to[i] = ((const volatile uint8_t *)from)[i];
}

static int cfi_copy_found(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    cfi_copy_t *c = data;
    if (c->want[0] ? !strstr(info->dlpi_name, c->want) : info->dlpi_name[0] != 0) return 0;
    uintptr_t lo = UINTPTR_MAX, hi = 0, hdr = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t a = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_GNU_EH_FRAME) hdr = a;
        if (ph->p_type != PT_LOAD) continue;
        if (a < lo) lo = a;
        if (a + ph->p_memsz > hi) hi = a + ph->p_memsz;
    }
    if (!hdr || hi <= lo || !(c->buf = calloc(1, hi - lo))) return 1;
    c->len = hi - lo;
    c->base = lo;
    ASAN_POISON_MEMORY_REGION(c->buf, c->len);
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t a = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_R)) continue;
        uint8_t *to = c->buf + (a - lo);
        bool code = ph->p_flags & PF_X, holds_hdr = hdr - a < ph->p_memsz;
        ASAN_UNPOISON_MEMORY_REGION(to, ph->p_memsz);
        cfi_copy_bytes(to, a, ph->p_memsz);
        if (!code && !holds_hdr) ASAN_POISON_MEMORY_REGION(to, ph->p_memsz);
        if (code) {
            c->code_lo = a;
            c->code_hi = a + ph->p_memsz;
            c->im.code_lo = to;
            c->im.code_hi = to + ph->p_memsz;
        }
        if (holds_hdr) {
            c->im.hdr = c->buf + (hdr - lo);
            c->im.lo = to;
            c->im.hi = to + ph->p_memsz;
        }
    }
    return 1;
}

/* Copy the object whose name holds want ("" = the program). False when not found. */
static inline bool cfi_copy_object(const char *want, cfi_copy_t *c)
{
    memset(c, 0, sizeof *c);
    c->want = want;
    dl_iterate_phdr(cfi_copy_found, c);
    return c->buf && c->im.hdr && c->code_hi;
}

/* An address in place, in the copy. */
static inline uintptr_t cfi_copy_at(const cfi_copy_t *c, uintptr_t a)
{
    return (uintptr_t)c->buf + (a - c->base);
}

static inline void cfi_copy_free(cfi_copy_t *c)
{
    if (c->buf) ASAN_UNPOISON_MEMORY_REGION(c->buf, c->len);
    free(c->buf);
    c->buf = NULL;
}

#endif
