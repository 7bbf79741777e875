/* export/tsv.c - see tsv.h. */
#include "export/tsv.h"

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
