/* profiler/options.c - one table of options; parse without allocating. */
#include "profiler/options.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "profiler/log.h"

enum kind { K_U64, K_INT, K_BOOL, K_STR, K_UNWIND, K_SIGNAL, K_FORMATS, K_DANGLING };

typedef struct opt_desc {
    const char *name;       /* key in MAPPROF_OPTIONS */
    enum kind kind;         /* how the value is parsed */
    size_t off;             /* offset of the field in mp_options_t */
    uint64_t min, max;      /* bounds for numbers */
} opt_desc_t;

#define F(field) offsetof(mp_options_t, field)
static const opt_desc_t opts[] = {
    { "rate",       K_U64,     F(rate),       1, (uint64_t)1 << 40 },
    { "output",     K_STR,     F(output),     0, 0 },
    { "unwind",     K_UNWIND,  F(unwind),     0, 0 },
    { "max_depth",  K_INT,     F(max_depth),  1, 256 },
    { "signal",     K_SIGNAL,  F(signal),     0, 0 },
    { "interval",   K_U64,     F(interval),   0, 86400 * 365 },
    { "inuse_step", K_U64,     F(inuse_step), 0, UINT64_MAX },
    { "formats",    K_FORMATS, F(formats),    0, 0 },
    { "quiet",      K_BOOL,    F(quiet),      0, 0 },
    { "seed",       K_U64,     F(seed),       0, UINT64_MAX },
    { "at_exit",    K_BOOL,    F(at_exit),    0, 0 },
    { "term",       K_BOOL,    F(term),       0, 0 },
    { "term_timeout", K_U64,   F(term_timeout), 0, 3600 },
    { "leak_check", K_BOOL,    F(leak_check), 0, 0 },
    { "freed_history", K_U64,  F(freed_history), 16, (uint64_t)1 << 26 },
    { "findings",   K_BOOL,    F(findings),   0, 0 },
    { "maps",       K_BOOL,    F(maps),       0, 0 },
    { "dangling",   K_DANGLING, F(dangling),  0, 0 },
    { "leak_report", K_STR,    F(leak_report), 0, 0 },
    { "libc_lines", K_BOOL,    F(libc_lines), 0, 0 },
};
#undef F

void mp_options_default(mp_options_t *o)
{
    memset(o, 0, sizeof *o);
    o->rate = 524288;
    strcpy(o->output, "mapprof");
    o->unwind = MP_UNWIND_LIBUNWIND;
    o->max_depth = 64;
    o->signal = SIGUSR2;
    o->formats = MP_FMT_PB;
    o->at_exit = true;
    o->term = true;
    o->term_timeout = 10;
    o->freed_history = 65536;
    o->maps = true;
    o->dangling = MP_DANGLING_SAMPLED;
}

/* Parse an unsigned number with an optional K/M/G suffix (powers of 1024). */
static bool parse_u64(const char *s, size_t len, uint64_t *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf) return false;
    memcpy(buf, s, len);
    buf[len] = 0;
    if (buf[0] == '-') return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (errno || end == buf) return false;
    unsigned shift = 0;
    if (*end) {
        switch (*end) {
        case 'k': case 'K': shift = 10; break;
        case 'm': case 'M': shift = 20; break;
        case 'g': case 'G': shift = 30; break;
        default: return false;
        }
        end++;
        if (*end == 'b' || *end == 'B') end++;
        if (*end) return false;
    }
    if (shift && v > (UINT64_MAX >> shift)) return false;
    *out = (uint64_t)v << shift;
    return true;
}

static bool eq(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

static bool parse_signal(const char *s, size_t len, int *out)
{
    static const struct { const char *name; int sig; } names[] = {
        { "SIGUSR1", SIGUSR1 }, { "SIGUSR2", SIGUSR2 }, { "SIGPROF", SIGPROF },
        { "SIGHUP", SIGHUP }, { "SIGURG", SIGURG }, { "SIGWINCH", SIGWINCH },
        { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "none", 0 }, { "off", 0 },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (eq(s, len, names[i].name)) { *out = names[i].sig; return true; }
    uint64_t v;
    if (!parse_u64(s, len, &v) || v >= 65) return false;
    /* Signals whose default action matters to the host are refused. */
    if (v == SIGKILL || v == SIGSTOP || v == SIGSEGV || v == SIGBUS || v == SIGILL ||
        v == SIGFPE || v == SIGABRT) return false;
    *out = (int)v;
    return true;
}

static bool parse_formats(const char *s, size_t len, unsigned *out)
{
    unsigned f = 0;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && s[j] != ',' && s[j] != '+') j++;
        if (eq(s + i, j - i, "pb")) f |= MP_FMT_PB;
        else if (eq(s + i, j - i, "legacy")) f |= MP_FMT_LEGACY;
        else return false;
        i = j + 1;
    }
    if (!f) return false;
    *out = f;
    return true;
}

static bool parse_bool(const char *v, size_t len, bool *out)
{
    if (eq(v, len, "1") || eq(v, len, "on") || eq(v, len, "yes") || eq(v, len, "true")) *out = true;
    else if (eq(v, len, "0") || eq(v, len, "off") || eq(v, len, "no") || eq(v, len, "false")) *out = false;
    else return false;
    return true;
}

static bool parse_value(const opt_desc_t *d, mp_options_t *o, const char *v, size_t len)
{
    char *field = (char *)o + d->off;
    uint64_t n;
    switch (d->kind) {
    case K_U64:
        if (!parse_u64(v, len, &n) || n < d->min || n > d->max) return false;
        *(uint64_t *)field = n;
        return true;
    case K_INT:
        if (!parse_u64(v, len, &n) || n < d->min || n > d->max) return false;
        *(int *)field = (int)n;
        return true;
    case K_BOOL:
        return parse_bool(v, len, (bool *)field);
    case K_DANGLING: {
        bool on;
        if (eq(v, len, "all")) *(int *)field = MP_DANGLING_ALL;
        else if (eq(v, len, "sampled")) *(int *)field = MP_DANGLING_SAMPLED;
        else if (parse_bool(v, len, &on)) *(int *)field = on ? MP_DANGLING_SAMPLED : MP_DANGLING_OFF;
        else return false;
        return true;
    }
    case K_STR:
        if (len == 0 || len >= sizeof o->output || len >= sizeof o->leak_report) return false;
        memcpy(field, v, len);
        field[len] = 0;
        return true;
    case K_UNWIND:
        if (eq(v, len, "fp")) o->unwind = MP_UNWIND_FP;
        else if (eq(v, len, "libunwind")) o->unwind = MP_UNWIND_LIBUNWIND;
        else if (eq(v, len, "verify")) o->unwind = MP_UNWIND_VERIFY;
        else return false;
        return true;
    case K_SIGNAL:
        return parse_signal(v, len, &o->signal);
    case K_FORMATS:
        return parse_formats(v, len, &o->formats);
    }
    return false;
}

int mp_options_parse(mp_options_t *o, const char *str)
{
    int problems = 0;
    if (!str) return 0;
    const char *p = str;
    while (*p) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 0) {
            const char *eqs = memchr(p, '=', len);
            size_t klen = eqs ? (size_t)(eqs - p) : len;
            const opt_desc_t *d = NULL;
            for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
                if (eq(p, klen, opts[i].name)) { d = &opts[i]; break; }
            if (!d) {
                mp_warn("MAPPROF_OPTIONS: unknown option '%.*s' ignored", (int)klen, p);
                problems++;
            } else if (!eqs || !parse_value(d, o, eqs + 1, len - klen - 1)) {
                mp_warn("MAPPROF_OPTIONS: bad value for '%s' in '%.*s'; keeping the default",
                        d->name, (int)len, p);
                problems++;
            }
        }
        if (!end) break;
        p = end + 1;
    }
    if (o->leak_check) o->rate = 1;     /* the check needs every block */
    return problems;
}

bool mp_path_anchor(const char *cwd, const char *path, char *out, size_t len)
{
    bool rel = path[0] != '/';
    size_t c = rel ? strlen(cwd) : 0;
    bool slash = rel && c && cwd[c - 1] != '/';
    size_t n = strlen(path);
    if (c + slash + n >= len) return false;
    memmove(out + c + slash, path, n + 1);   /* out may be path itself */
    if (rel) memcpy(out, cwd, c);
    if (slash) out[c] = '/';
    return true;
}

bool mp_options_anchor(mp_options_t *o, const char *cwd)
{
    bool ok = mp_path_anchor(cwd, o->output, o->output, sizeof o->output);
    if (o->leak_report[0])
        ok &= mp_path_anchor(cwd, o->leak_report, o->leak_report, sizeof o->leak_report);
    return ok;
}
