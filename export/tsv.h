/* export/tsv.h - what mapprof's side files (.leaks, .maps) share: the line format (records of
 * tab-separated fields, one per line; tab, newline and backslash inside a field escaped as
 * \t, \n and \\), their symbolized stack frames, and the JSON renderings made from them. */
#ifndef MAPPROF_EXPORT_TSV_H
#define MAPPROF_EXPORT_TSV_H

#include <stdio.h>

#include "export/atomicfile.h"

/* One symbolized frame as side files store it. */
typedef struct mp_lframe {
    char *function;         /* demangled name, or "module+0xoffset" / "0xaddr" */
    char *file;             /* source file, or "" */
    int line;               /* 0 when unknown */
    char *module;           /* object file path, or "" */
} mp_lframe_t;

/* Append the frame in fields fld[1..4] (function, file, line, module) to *v. 0 or ENOMEM. */
int mp_lframes_push(mp_lframe_t **v, size_t *n, char **fld);
void mp_lframes_free(mp_lframe_t *v, size_t n);
/* Append copies of the n frames at src to *v. 0 or ENOMEM. */
int mp_lframes_copy(mp_lframe_t **v, size_t *nv, const mp_lframe_t *src, size_t n);

/* Where JSON goes: an atomic file being written, or a stdio stream. */
typedef struct mp_out {
    mp_afile_t *af;
    FILE *fp;
} mp_out_t;
void mp_out_printf(mp_out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string literal of s (NULL as ""). */
void mp_json_str(mp_out_t *o, const char *s);
/* [{"function","file","line","module"}...] */
void mp_json_frames(mp_out_t *o, const mp_lframe_t *fr, size_t n);

/* Append a tab and the escaped field s (NULL writes an empty field). */
void mp_tsv_put(mp_afile_t *f, const char *s);
/* Split line in place at tabs, unescaping; at most max fields; returns how many. */
int mp_tsv_split(char *line, char **field, int max);

#endif
