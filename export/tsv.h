/* export/tsv.h - the line format of mapprof's side files (.leaks, .maps): records of
 * tab-separated fields, one per line; tab, newline and backslash inside a field are escaped
 * as \t, \n and \\. */
#ifndef MAPPROF_EXPORT_TSV_H
#define MAPPROF_EXPORT_TSV_H

#include "export/atomicfile.h"

/* Append a tab and the escaped field s (NULL writes an empty field). */
void mp_tsv_put(mp_afile_t *f, const char *s);
/* Split line in place at tabs, unescaping; at most max fields; returns how many. */
int mp_tsv_split(char *line, char **field, int max);

#endif
