/* export/read.c - reading pprof files back (mapprof report, diff) and the top table.
 *
 * mp_profile_read loads a file, inflates it when it is gzip (zlib's gzip/zlib auto-detect),
 * unpacks it with protobuf-c and validates what readers rely on: string_table[0] == "",
 * every string index in range, non-zero unique ids per kind that all resolve, as many values
 * per sample as sample types. Any failure is one line in errbuf and an errno value; no input
 * can crash it (fuzzed by tests/unit/export_read.c with truncations and bit flips).
 * mp_report_top aggregates one sample type by function the way pprof -top does: flat is the
 * innermost frame (line[0] of the leaf location), cum counts a function once per sample. */
#define _GNU_SOURCE
#include "export/export.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "export/internal.h"
#include "export/profile.pb-c.h"

#define MAX_INFLATED ((size_t)1 << 31)          /* refuse gzip bombs beyond 2 GiB */
#define MAX_FILE (MAX_INFLATED / 2)             /* and files (or endless devices) past 1 GiB */

typedef Perftools__Profiles__Profile pb_profile_t;

struct mp_profile {
    pb_profile_t *pb;           /* unpacked message (protobuf-c's allocation) */
    mp_u64tab_t loc_by_id;      /* location id -> index + 1 */
    mp_u64tab_t fn_by_id;       /* function id -> index + 1 */
    mp_u64tab_t map_by_id;      /* mapping id -> index + 1 */
};

static int fail(char *err, size_t errlen, int e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int e, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return e;
}

static int read_all(const char *path, unsigned char **out, size_t *len, char *err, size_t el)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(err, el, errno, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) st.st_size = 0;
    else if (S_ISDIR(st.st_mode)) {
        close(fd);
        return fail(err, el, EISDIR, "%s: is a directory", path);
    }
    unsigned char *buf = NULL;
    if (st.st_size > 0 && (uint64_t)st.st_size > MAX_FILE) goto too_big;
    size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 65536, n = 0;
    buf = malloc(cap);
    if (!buf) { close(fd); return fail(err, el, ENOMEM, "%s: out of memory", path); }
    for (;;) {
        if (n == cap) {
            if (cap >= MAX_FILE) goto too_big;  /* a pipe or a device (/dev/zero) may never end */
            unsigned char *nb = realloc(buf, cap *= 2);
            if (!nb) { free(buf); close(fd); return fail(err, el, ENOMEM, "out of memory"); }
            buf = nb;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            free(buf);
            close(fd);
            return fail(err, el, e, "%s: %s", path, strerror(e));
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    *out = buf;
    *len = n;
    return 0;
too_big:
    free(buf);
    close(fd);
    return fail(err, el, EFBIG, "%s: larger than 1 GiB: not a profile", path);
}

static int gunzip(const unsigned char *in, size_t inlen, unsigned char **out, size_t *outlen,
                  char *err, size_t el)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 32) != Z_OK) return fail(err, el, ENOMEM, "out of memory");
    size_t cap = inlen * 4 + 4096, n = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) { inflateEnd(&z); return fail(err, el, ENOMEM, "out of memory"); }
    z.next_in = (unsigned char *)in;
    z.avail_in = (uInt)(inlen > UINT32_MAX ? UINT32_MAX : inlen);
    int r, e = 0;
    for (;;) {
        if (n == cap) {
            if (cap >= MAX_INFLATED) { e = EFBIG; break; }
            unsigned char *nb = realloc(buf, cap *= 2);
            if (!nb) { e = ENOMEM; break; }
            buf = nb;
        }
        size_t room = cap - n;
        z.next_out = buf + n;
        z.avail_out = (uInt)(room > UINT32_MAX ? UINT32_MAX : room);
        r = inflate(&z, Z_NO_FLUSH);
        n = (size_t)(z.next_out - buf);
        if (r == Z_STREAM_END) break;
        if (r == Z_BUF_ERROR && z.avail_in == 0) { e = EPROTO; break; }     /* ran out of input */
        if (r != Z_OK && r != Z_BUF_ERROR) { e = EBADMSG; break; }
    }
    inflateEnd(&z);
    if (e) {
        free(buf);
        if (e == EPROTO) return fail(err, el, EBADMSG, "truncated gzip data");
        if (e == EBADMSG) return fail(err, el, EBADMSG, "corrupt gzip data%s%s",
                                      z.msg ? ": " : "", z.msg ? z.msg : "");
        if (e == EFBIG) return fail(err, el, EFBIG, "gzip data inflates beyond 2 GiB");
        return fail(err, el, e, "out of memory");
    }
    *out = buf;
    *outlen = n;
    return 0;
}

/* ---- validation ---- */

static bool str_ok(const pb_profile_t *p, int64_t i) { return i >= 0 && (uint64_t)i < p->n_string_table; }

static int index_ids(mp_u64tab_t *t, size_t n, uint64_t (*id_of)(const pb_profile_t *, size_t),
                     const pb_profile_t *p, const char *kind, char *err, size_t el)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t id = id_of(p, i);
        if (!id) return fail(err, el, EBADMSG, "corrupt profile: %s with id 0", kind);
        if (mp_u64tab_get(t, id))
            return fail(err, el, EBADMSG, "corrupt profile: duplicate %s id %" PRIu64, kind, id);
        if (i >= UINT32_MAX - 1 || mp_u64tab_put(t, id, (uint32_t)i + 1))
            return fail(err, el, ENOMEM, "out of memory");
    }
    return 0;
}

static uint64_t loc_id(const pb_profile_t *p, size_t i) { return p->location[i]->id; }
static uint64_t fn_id(const pb_profile_t *p, size_t i) { return p->function[i]->id; }
static uint64_t map_id(const pb_profile_t *p, size_t i) { return p->mapping[i]->id; }

static int validate(mp_profile_t *pr, char *err, size_t el)
{
    const pb_profile_t *p = pr->pb;
#define BAD(...) return fail(err, el, EBADMSG, "corrupt profile: " __VA_ARGS__)
    if (p->n_string_table == 0 || !p->string_table[0] || p->string_table[0][0])
        BAD("string_table[0] is not \"\"");
    if (p->n_sample_type == 0) BAD("no sample types");
    for (size_t i = 0; i < p->n_sample_type; i++)
        if (!str_ok(p, p->sample_type[i]->type) || !str_ok(p, p->sample_type[i]->unit))
            BAD("sample type %zu: string index out of range", i);
    if (p->period_type && (!str_ok(p, p->period_type->type) || !str_ok(p, p->period_type->unit)))
        BAD("period type: string index out of range");
    for (size_t i = 0; i < p->n_comment; i++)
        if (!str_ok(p, p->comment[i])) BAD("comment: string index out of range");
    if (!str_ok(p, p->default_sample_type) || !str_ok(p, p->drop_frames) ||
        !str_ok(p, p->keep_frames) || !str_ok(p, p->doc_url))
        BAD("header string index out of range");
    int e;
    if ((e = index_ids(&pr->map_by_id, p->n_mapping, map_id, p, "mapping", err, el)) ||
        (e = index_ids(&pr->fn_by_id, p->n_function, fn_id, p, "function", err, el)) ||
        (e = index_ids(&pr->loc_by_id, p->n_location, loc_id, p, "location", err, el)))
        return e;
    for (size_t i = 0; i < p->n_mapping; i++)
        if (!str_ok(p, p->mapping[i]->filename) || !str_ok(p, p->mapping[i]->build_id))
            BAD("mapping %" PRIu64 ": string index out of range", p->mapping[i]->id);
    for (size_t i = 0; i < p->n_function; i++) {
        const Perftools__Profiles__Function *f = p->function[i];
        if (!str_ok(p, f->name) || !str_ok(p, f->system_name) || !str_ok(p, f->filename))
            BAD("function %" PRIu64 ": string index out of range", f->id);
    }
    for (size_t i = 0; i < p->n_location; i++) {
        const Perftools__Profiles__Location *l = p->location[i];
        if (l->mapping_id && !mp_u64tab_get(&pr->map_by_id, l->mapping_id))
            BAD("location %" PRIu64 ": unknown mapping id %" PRIu64, l->id, l->mapping_id);
        for (size_t j = 0; j < l->n_line; j++)
            if (!mp_u64tab_get(&pr->fn_by_id, l->line[j]->function_id))
                BAD("location %" PRIu64 ": unknown function id %" PRIu64, l->id,
                    l->line[j]->function_id);
    }
    for (size_t i = 0; i < p->n_sample; i++) {
        const Perftools__Profiles__Sample *s = p->sample[i];
        if (s->n_value != p->n_sample_type)
            BAD("sample %zu has %zu values for %zu sample types", i, s->n_value, p->n_sample_type);
        for (size_t j = 0; j < s->n_location_id; j++)
            if (!mp_u64tab_get(&pr->loc_by_id, s->location_id[j]))
                BAD("sample %zu: unknown location id %" PRIu64, i, s->location_id[j]);
        for (size_t j = 0; j < s->n_label; j++) {
            const Perftools__Profiles__Label *lb = s->label[j];
            if (!str_ok(p, lb->key) || !str_ok(p, lb->str) || !str_ok(p, lb->num_unit))
                BAD("sample %zu: label string index out of range", i);
        }
    }
#undef BAD
    return 0;
}

static bool looks_like_text(const unsigned char *d, size_t n)
{
    size_t k = n < 64 ? n : 64;
    for (size_t i = 0; i < k; i++)
        if (d[i] < 0x09 || (d[i] > 0x0d && d[i] < 0x20) || d[i] == 0x7f) return false;
    return k > 0;
}

int mp_profile_parse(const void *data, size_t len, mp_profile_t **out, char *err, size_t el)
{
    *out = NULL;
    const unsigned char *d = data;
    unsigned char *inflated = NULL;
    if (len == 0) return fail(err, el, EBADMSG, "empty file: not a pprof profile");
    if (len >= 2 && d[0] == 0x1f && d[1] == 0x8b) {
        int e = gunzip(d, len, &inflated, &len, err, el);
        if (e) return e;
        d = inflated;
        if (len == 0) { free(inflated); return fail(err, el, EBADMSG, "empty profile"); }
    } else if (len >= 13 && !memcmp(d, "heap profile:", 13)) {
        return fail(err, el, EBADMSG,
                    "legacy heap text, not a pprof profile (read it with google-pprof)");
    } else if (looks_like_text(d, len)) {
        return fail(err, el, EBADMSG, "text file, not a pprof profile");
    }
    mp_profile_t *pr = calloc(1, sizeof *pr);
    if (!pr) { free(inflated); return fail(err, el, ENOMEM, "out of memory"); }
    pr->pb = perftools__profiles__profile__unpack(NULL, len, d);
    free(inflated);
    if (!pr->pb) {
        free(pr);
        return fail(err, el, EBADMSG, "not a pprof profile (truncated or corrupt protobuf)");
    }
    int e = validate(pr, err, el);
    if (e) {
        mp_profile_free(pr);
        return e;
    }
    *out = pr;
    return 0;
}

int mp_profile_read(const char *path, mp_profile_t **out, char *err, size_t el)
{
    *out = NULL;
    unsigned char *data = NULL;
    size_t len = 0;
    int e = read_all(path, &data, &len, err, el);
    if (e) return e;
    char sub[240] = "";
    e = mp_profile_parse(data, len, out, sub, sizeof sub);
    free(data);
    if (e) return fail(err, el, e, "%s: %s", path, sub);
    return 0;
}

void mp_profile_free(mp_profile_t *pr)
{
    if (!pr) return;
    if (pr->pb) perftools__profiles__profile__free_unpacked(pr->pb, NULL);
    mp_u64tab_free(&pr->loc_by_id);
    mp_u64tab_free(&pr->fn_by_id);
    mp_u64tab_free(&pr->map_by_id);
    free(pr);
}

const struct Perftools__Profiles__Profile *mp_profile_pb(const mp_profile_t *pr)
{
    return pr->pb;
}

int mp_profile_sample_index(const mp_profile_t *pr, const char *name)
{
    const pb_profile_t *p = pr->pb;
    if (!name) {
        const char *dflt = p->string_table[p->default_sample_type];
        if (p->default_sample_type)
            for (size_t i = 0; i < p->n_sample_type; i++)
                if (!strcmp(p->string_table[p->sample_type[i]->type], dflt)) return (int)i;
        return (int)p->n_sample_type - 1;
    }
    for (size_t i = 0; i < p->n_sample_type; i++)
        if (!strcmp(p->string_table[p->sample_type[i]->type], name)) return (int)i;
    return -1;
}

/* ---- top ---- */

typedef struct node {
    uint64_t key;               /* name string index, or address | 1 << 63 when no Line */
    int64_t flat, cum;
    size_t last_sample;         /* sample index + 1 that last added to cum */
} node_t;

static int cmp_nodes(const void *a, const void *b, void *names)
{
    const node_t *x = a, *y = b;
    if (x->flat != y->flat) return x->flat > y->flat ? -1 : 1;
    if (x->cum != y->cum) return x->cum > y->cum ? -1 : 1;
    const pb_profile_t *p = names;
    if ((x->key | y->key) >> 63) return x->key < y->key ? -1 : x->key > y->key;
    return strcmp(p->string_table[x->key], p->string_table[y->key]);
}

static void node_name(const pb_profile_t *p, uint64_t key, char *buf, size_t n)
{
    if (key >> 63) snprintf(buf, n, "0x%" PRIx64, (uint64_t)(key & ~((uint64_t)1 << 63)));
    else snprintf(buf, n, "%s", p->string_table[key]);
}

int mp_report_top(const mp_profile_t *pr, FILE *out, const char *sample_type, int top)
{
    const pb_profile_t *p = pr->pb;
    int si = mp_profile_sample_index(pr, sample_type);
    if (si < 0) return EINVAL;
    mp_u64tab_t by_key = { 0 };
    node_t *nodes = NULL;
    size_t nn = 0, ncap = 0;
    int64_t total = 0;
    int e = 0;
    for (size_t i = 0; i < p->n_sample && !e; i++) {
        const Perftools__Profiles__Sample *s = p->sample[i];
        int64_t v = s->value[si];
        if (!v) continue;
        total += v;
        bool leaf = true;
        for (size_t j = 0; j < s->n_location_id && !e; j++) {
            const Perftools__Profiles__Location *l =
                p->location[mp_u64tab_get(&pr->loc_by_id, s->location_id[j]) - 1];
            size_t nl = l->n_line ? l->n_line : 1;
            for (size_t k = 0; k < nl; k++) {
                uint64_t key;
                if (l->n_line) {
                    const Perftools__Profiles__Function *f =
                        p->function[mp_u64tab_get(&pr->fn_by_id, l->line[k]->function_id) - 1];
                    key = (uint64_t)f->name;
                } else {
                    key = l->address | 1ULL << 63;
                }
                uint32_t ni = mp_u64tab_get(&by_key, key);
                if (!ni) {
                    if (mp_grow(&nodes, &ncap, nn + 1, sizeof *nodes) ||
                        mp_u64tab_put(&by_key, key, (uint32_t)nn + 1)) { e = ENOMEM; break; }
                    nodes[nn] = (node_t){ key, 0, 0, 0 };
                    ni = (uint32_t)++nn;
                }
                node_t *nd = &nodes[ni - 1];
                if (leaf) nd->flat += v;
                leaf = false;
                if (nd->last_sample != i + 1) {
                    nd->cum += v;
                    nd->last_sample = i + 1;
                }
            }
        }
    }
    if (!e) {
        qsort_r(nodes, nn, sizeof *nodes, cmp_nodes, (void *)p);
        const char *tname = p->string_table[p->sample_type[si]->type];
        const char *unit = p->string_table[p->sample_type[si]->unit];
        for (size_t i = 0; i < p->n_comment; i++)
            fprintf(out, "Comment: %s\n", p->string_table[p->comment[i]]);
        fprintf(out, "Type: %s (%s)\n", tname, unit);
        if (p->period_type)
            fprintf(out, "Period: %" PRId64 " %s\n", p->period,
                    p->string_table[p->period_type->unit]);
        size_t shown = top > 0 && (size_t)top < nn ? (size_t)top : nn;
        fprintf(out, "Total: %" PRId64 " %s in %zu samples; showing top %zu of %zu functions\n",
                total, unit, p->n_sample, shown, nn);
        fprintf(out, "%14s %7s %7s %14s %7s  %s\n", "flat", "flat%", "sum%", "cum", "cum%",
                "function");
        int64_t sum = 0;
        double den = total ? (double)(total < 0 ? -total : total) : 1;
        for (size_t i = 0; i < shown; i++) {
            char name[512];
            node_name(p, nodes[i].key, name, sizeof name);
            sum += nodes[i].flat;
            fprintf(out, "%14" PRId64 " %6.2f%% %6.2f%% %14" PRId64 " %6.2f%%  %s\n",
                    nodes[i].flat, 100.0 * (double)nodes[i].flat / den, 100.0 * (double)sum / den,
                    nodes[i].cum, 100.0 * (double)nodes[i].cum / den, name);
        }
        if (ferror(out)) e = EIO;
    }
    free(nodes);
    mp_u64tab_free(&by_key);
    return e;
}
