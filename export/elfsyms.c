/* export/elfsyms.c - see elfsyms.h. */
#include "export/elfsyms.h"

#include <gelf.h>
#include <stdlib.h>

#include "export/internal.h"

typedef struct sym {
    Dwarf_Addr lo;          /* start */
    Dwarf_Addr end;         /* sized: lo + size; sizeless: the end of its section */
    Dwarf_Addr reach;       /* the furthest end of a sized symbol at or before this one */
    const char *name;
    uint32_t rank, index;   /* binding (global 0, weak 1, local 2) and place in the table */
    bool sized;
} sym_t;

typedef struct index {
    Dwfl_Module *mod;
    sym_t *syms;
    size_t n;
    bool ok;                /* built (else out of memory) */
} index_t;

struct mp_elfsyms {
    mp_u64tab_t by_mod;     /* module -> index into mods, + 1 */
    index_t *mods;
    size_t nmods, cap;
};

mp_elfsyms_t *mp_elfsyms_new(void)
{
    return calloc(1, sizeof(mp_elfsyms_t));
}

void mp_elfsyms_free(mp_elfsyms_t *x)
{
    if (!x) return;
    for (size_t i = 0; i < x->nmods; i++) free(x->mods[i].syms);
    free(x->mods);
    mp_u64tab_free(&x->by_mod);
    free(x);
}

/* By start; at one start sizeless symbols first, then the sized one libdw would pick first:
 * the smallest, then by binding, then by place in the table. */
static int cmp_sym(const void *pa, const void *pb)
{
    const sym_t *a = pa, *b = pb;
    if (a->lo != b->lo) return a->lo < b->lo ? -1 : 1;
    if (a->sized != b->sized) return a->sized ? 1 : -1;
    if (a->end != b->end) return a->end < b->end ? -1 : 1;
    if (a->rank != b->rank) return a->rank < b->rank ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* The executable section of a symbol: its end, or 0 when the section is not code. */
static Dwarf_Addr code_section_end(Elf *elf, GElf_Word shndx, Dwarf_Addr bias)
{
    GElf_Shdr sh;
    Elf_Scn *scn = elf ? elf_getscn(elf, shndx) : NULL;
    if (!scn || !gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_EXECINSTR)) return 0;
    return sh.sh_addr + sh.sh_size + bias;
}

static void build(index_t *ix)
{
    int n = dwfl_module_getsymtab(ix->mod);
    ix->ok = true;
    if (n <= 0) return;
    ix->syms = malloc((size_t)n * sizeof *ix->syms);
    if (!ix->syms) {
        ix->ok = false;
        return;
    }
    for (int i = 0; i < n; i++) {
        GElf_Sym s;
        GElf_Addr addr;
        GElf_Word shndx;
        Elf *elf;
        Dwarf_Addr bias;
        const char *name = dwfl_module_getsym_info(ix->mod, i, &s, &addr, &shndx, &elf, &bias);
        if (!name || !*name || shndx == SHN_UNDEF || shndx == SHN_ABS || shndx == SHN_COMMON)
            continue;
        int type = GELF_ST_TYPE(s.st_info), bind = GELF_ST_BIND(s.st_info);
        if (type == STT_SECTION || type == STT_FILE || type == STT_TLS) continue;
        if (s.st_size == 0 && type == STT_OBJECT) continue;
        Dwarf_Addr section_end = code_section_end(elf, shndx, bias);
        if (!section_end) continue;
        ix->syms[ix->n++] = (sym_t){
            .lo = addr, .end = s.st_size ? addr + s.st_size : section_end, .name = name,
            .rank = bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2, .index = (uint32_t)i,
            .sized = s.st_size != 0,
        };
    }
    qsort(ix->syms, ix->n, sizeof *ix->syms, cmp_sym);
    Dwarf_Addr reach = 0;
    for (size_t i = 0; i < ix->n; i++) {
        if (ix->syms[i].sized && ix->syms[i].end > reach) reach = ix->syms[i].end;
        ix->syms[i].reach = reach;
    }
}

static index_t *index_of(mp_elfsyms_t *x, Dwfl_Module *mod)
{
    uint32_t k = mp_u64tab_get(&x->by_mod, (uint64_t)(uintptr_t)mod);
    if (k) return &x->mods[k - 1];
    if (x->nmods == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 16;
        index_t *m = realloc(x->mods, cap * sizeof *m);
        if (!m) return NULL;
        x->mods = m;
        x->cap = cap;
    }
    if (mp_u64tab_put(&x->by_mod, (uint64_t)(uintptr_t)mod, (uint32_t)x->nmods + 1)) return NULL;
    index_t *ix = &x->mods[x->nmods++];
    *ix = (index_t){ .mod = mod };
    build(ix);
    return ix;
}

const char *mp_elfsyms_at(mp_elfsyms_t *x, Dwfl_Module *mod, Dwarf_Addr pc, bool *ok)
{
    index_t *ix = index_of(x, mod);
    *ok = ix && ix->ok;
    if (!*ok) return NULL;
    size_t lo = 0, hi = ix->n;      /* the first symbol starting above pc */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->syms[mid].lo <= pc) lo = mid + 1;
        else hi = mid;
    }
    const sym_t *sizeless = NULL;
    for (size_t i = lo; i-- > 0;) {
        const sym_t *s = &ix->syms[i];
        /* nothing further down reaches pc, and the sizeless candidate (if any) is settled */
        if (s->reach <= pc && (sizeless || s->sized)) break;
        if (s->sized && s->end > pc) {
            /* the nearest start holding pc; at that start the first that holds it */
            while (i > 0 && ix->syms[i - 1].lo == s->lo && ix->syms[i - 1].sized &&
                   ix->syms[i - 1].end > pc)
                s = &ix->syms[--i];
            return s->name;
        }
        if (!s->sized && !sizeless && pc < s->end) sizeless = s;
    }
    return sizeless ? sizeless->name : NULL;
}
