/* export/legacy.c - mp_export_legacy: gperftools' legacy heap profile text.
 *
 * Read by google-pprof (perl) and go tool pprof. Unlike the protobuf, it carries the RAW
 * sampled counts: readers unsample heap_v2/<rate> profiles themselves with the same Poisson
 * formula; rate <= 1 writes the unsampled "heapprofile" header. Stacks are raw return
 * addresses, leaf first (readers subtract 1). Labels cannot be expressed: the same stack with
 * different labels is written as several lines, which both readers add up. The process's
 * /proc/<pid>/maps follows MAPPED_LIBRARIES: so readers can find the binaries. */
#include "export/export.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "export/atomicfile.h"

static void stack_line(mp_afile_t *f, int64_t in_n, int64_t in_b, int64_t al_n, int64_t al_b)
{
    mp_afile_printf(f, "%" PRId64 ": %" PRId64 " [%" PRId64 ": %" PRId64 "] @", in_n, in_b,
                    al_n, al_b);
}

static int copy_maps(mp_afile_t *f, int pid)
{
    char fn[64], buf[65536];
    snprintf(fn, sizeof fn, "/proc/%d/maps", pid);
    FILE *m = fopen(fn, "re");
    if (!m) return errno;
    size_t n;
    int e = 0;
    while ((n = fread(buf, 1, sizeof buf, m)) > 0)
        if ((e = mp_afile_write(f, buf, n)) != 0) break;
    if (!e && ferror(m)) e = EIO;
    fclose(m);
    return e;
}

int mp_export_legacy(const mp_snapshot_t *s, const char *path)
{
    if (!s || !path) return EINVAL;
    int64_t in_n = 0, in_b = 0, al_n = 0, al_b = 0;
    for (size_t i = 0; i < s->nstacks; i++) {
        const mp_snap_stack_t *st = &s->stacks[i];
        in_n += st->raw_inuse_objects;
        in_b += st->raw_inuse_bytes;
        al_n += st->raw_alloc_objects;
        al_b += st->raw_alloc_bytes;
    }
    mp_afile_t f;
    int e = mp_afile_open(&f, path);
    if (e) return e;
    mp_afile_printf(&f, "heap profile: ");
    stack_line(&f, in_n, in_b, al_n, al_b);
    if (s->rate > 1) mp_afile_printf(&f, " heap_v2/%" PRIu64 "\n", s->rate);
    else mp_afile_printf(&f, " heapprofile\n");
    for (size_t i = 0; i < s->nstacks; i++) {
        const mp_snap_stack_t *st = &s->stacks[i];
        if (!st->raw_inuse_objects && !st->raw_inuse_bytes && !st->raw_alloc_objects &&
            !st->raw_alloc_bytes)
            continue;
        stack_line(&f, st->raw_inuse_objects, st->raw_inuse_bytes, st->raw_alloc_objects,
                   st->raw_alloc_bytes);
        for (uint32_t d = 0; d < st->depth; d++)
            mp_afile_printf(&f, " 0x%" PRIxPTR, st->pcs[d]);
        mp_afile_write(&f, "\n", 1);
    }
    mp_afile_printf(&f, "\nMAPPED_LIBRARIES:\n");
    e = copy_maps(&f, s->pid > 0 ? s->pid : (int)getpid());
    if (e || (e = f.err) != 0) {
        mp_afile_abort(&f);
        return e;
    }
    return mp_afile_commit(&f);
}
