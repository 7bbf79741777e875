/* export/tsv.c - see tsv.h. */
#include "export/tsv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void mp_tsv_put(mp_afile_t *f, const char *s)
{
    mp_afile_write(f, "\t", 1);
    for (; s && *s; s++) {
        if (*s == '\t') mp_afile_write(f, "\\t", 2);
        else if (*s == '\n') mp_afile_write(f, "\\n", 2);
        else if (*s == '\\') mp_afile_write(f, "\\\\", 2);
        else mp_afile_write(f, s, 1);
    }
}

int mp_tsv_split(char *line, char **field, int max)
{
    int n = 0;
    char *w = line, *r = line;
    field[n++] = w;
    for (; *r; r++) {
        if (*r == '\t') {
            *w++ = 0;
            if (n == max) return n;
            field[n++] = w;
        } else if (*r == '\\' && r[1]) {
            r++;
            *w++ = *r == 't' ? '\t' : *r == 'n' ? '\n' : *r;
        } else {
            *w++ = *r;
        }
    }
    *w = 0;
    return n;
}

static int append(mp_lframe_t **v, size_t *n, const char *function, const char *file, int line,
                  const char *module)
{
    mp_lframe_t *fr = realloc(*v, (*n + 1) * sizeof *fr);
    if (!fr) return ENOMEM;
    *v = fr;
    fr[*n] = (mp_lframe_t){ strdup(function), strdup(file), line, strdup(module) };
    if (!fr[*n].function || !fr[*n].file || !fr[*n].module) {
        free(fr[*n].function);
        free(fr[*n].file);
        free(fr[*n].module);
        return ENOMEM;
    }
    (*n)++;
    return 0;
}

int mp_lframes_push(mp_lframe_t **v, size_t *n, char **fld)
{
    return append(v, n, fld[1], fld[2], atoi(fld[3]), fld[4]);
}

int mp_lframes_copy(mp_lframe_t **v, size_t *nv, const mp_lframe_t *src, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (append(v, nv, src[k].function, src[k].file, src[k].line, src[k].module)) return ENOMEM;
    return 0;
}

void mp_lframes_free(mp_lframe_t *v, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        free(v[k].function);
        free(v[k].file);
        free(v[k].module);
    }
    free(v);
}

void mp_out_printf(mp_out_t *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (o->fp) {
        vfprintf(o->fp, fmt, ap);
    } else {
        char buf[4096];
        int n = vsnprintf(buf, sizeof buf, fmt, ap);
        if (n > 0) mp_afile_write(o->af, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    }
    va_end(ap);
}

static void out_write(mp_out_t *o, const char *p, size_t n)
{
    if (o->fp) fwrite(p, 1, n, o->fp);
    else mp_afile_write(o->af, p, n);
}

void mp_json_str(mp_out_t *o, const char *s)
{
    out_write(o, "\"", 1);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') mp_out_printf(o, "\\%c", c);
        else if (c < 0x20) mp_out_printf(o, "\\u%04x", c);
        else out_write(o, s, 1);
    }
    out_write(o, "\"", 1);
}

void mp_json_frames(mp_out_t *o, const mp_lframe_t *fr, size_t n)
{
    out_write(o, "[", 1);
    for (size_t k = 0; k < n; k++) {
        mp_out_printf(o, "%s{\"function\":", k ? "," : "");
        mp_json_str(o, fr[k].function);
        mp_out_printf(o, ",\"file\":");
        mp_json_str(o, fr[k].file);
        mp_out_printf(o, ",\"line\":%d,\"module\":", fr[k].line);
        mp_json_str(o, fr[k].module);
        out_write(o, "}", 1);
    }
    out_write(o, "]", 1);
}
