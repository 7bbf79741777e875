/* profiler/cfi.c - x86-64 unwind rules from the loaded objects' .eh_frame, cached by address.
 *
 * A miss finds the object holding the address (dl_iterate_phdr), binary-searches its
 * .eh_frame_hdr table for the FDE, and runs the CIE's and the FDE's call frame instructions up
 * to the call instruction, keeping only the CFA, rbp and the return address. Every byte read
 * lies inside the loaded segment that holds the .eh_frame_hdr; data that leaves it, or that this
 * reader does not know, gives MP_CFI_OTHER. */
#define _GNU_SOURCE
#include "profiler/cfi.h"

#include <link.h>
#include <stdbool.h>
#include <string.h>

#include "profiler/arena.h"
#include "profiler/profiler.h"
#include "profiler/spin.h"

/* DWARF register numbers on x86-64 */
#define R_RBP 6
#define R_RSP 7
#define R_RA 16

/* ---- bounded reads ---- */

typedef struct rd {
    const uint8_t *p, *end;
    bool bad;
} rd_t;

static uint64_t rd_u(rd_t *r, size_t n)
{
    uint64_t v = 0;
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = true;
        return 0;
    }
    memcpy(&v, r->p, n);    /* x86-64: little-endian, as the data is */
    r->p += n;
    return v;
}

/* LEB128, unsigned or sign-extended */
static uint64_t rd_leb(rd_t *r, bool sign)
{
    uint64_t v = 0;
    for (unsigned s = 0; !r->bad; s += 7) {
        if (r->p >= r->end || s > 63) break;
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80)) {
            if (sign && s + 7 < 64 && (b & 0x40)) v |= ~(uint64_t)0 << (s + 7);
            return v;
        }
    }
    r->bad = true;
    return 0;
}

static uint64_t rd_uleb(rd_t *r) { return rd_leb(r, false); }
static int64_t rd_sleb(rd_t *r) { return (int64_t)rd_leb(r, true); }

static void rd_skip(rd_t *r, uint64_t n)
{
    if (r->bad || (uint64_t)(r->end - r->p) < n) r->bad = true;
    else r->p += n;
}

/* A pointer in DW_EH_PE encoding enc: its format (low nibble) and what it is relative to (pc-
 * relative, or to datarel when that is not 0). The indirect bit is the caller's to refuse. */
static uint64_t rd_ptr(rd_t *r, uint8_t enc, uintptr_t datarel)
{
    uintptr_t at = (uintptr_t)r->p;
    uint64_t v;
    switch (enc & 0x0f) {
    case 0x00: case 0x04: case 0x0c: v = rd_u(r, 8); break;
    case 0x01: v = rd_uleb(r); break;
    case 0x02: v = rd_u(r, 2); break;
    case 0x03: v = rd_u(r, 4); break;
    case 0x09: v = (uint64_t)rd_sleb(r); break;
    case 0x0a: v = (uint64_t)(int64_t)(int16_t)rd_u(r, 2); break;
    case 0x0b: v = (uint64_t)(int64_t)(int32_t)rd_u(r, 4); break;
    default: r->bad = true; return 0;
    }
    switch (enc & 0x70) {
    case 0x00: return v;
    case 0x10: return v + at;
    case 0x30: if (datarel) return v + datarel; break;
    default: break;
    }
    r->bad = true;
    return 0;
}

/* ---- finding the object and its FDE ---- */

typedef struct obj {
    uintptr_t pc;           /* in: the address looked up */
    mp_cfi_image_t im;      /* out: where it lies (im.hdr NULL: no .eh_frame_hdr) */
} obj_t;

static int find_obj(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    obj_t *o = data;
    const ElfW(Phdr) *eh = NULL;
    bool holds = false;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && o->pc - lo < ph->p_memsz) {
            holds = true;
            o->im.code_lo = (const uint8_t *)lo;
            o->im.code_hi = (const uint8_t *)(lo + ph->p_memsz);
        } else if (ph->p_type == PT_GNU_EH_FRAME) {
            eh = ph;
        }
    }
    if (!holds) return 0;
    if (!eh) return 1;
    uintptr_t hdr = info->dlpi_addr + eh->p_vaddr;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_R) || hdr - lo >= ph->p_memsz) continue;
        o->im.hdr = (const uint8_t *)hdr;
        o->im.lo = (const uint8_t *)lo;
        o->im.hi = (const uint8_t *)(lo + ph->p_memsz);
    }
    return 1;
}

typedef struct cie {
    uint64_t caf;           /* code alignment factor */
    int64_t daf;            /* data alignment factor */
    uint8_t fde_enc;        /* how its FDEs encode addresses */
    bool z, signal;         /* augmentation data present; a signal frame */
    const uint8_t *ins, *end;   /* its initial instructions */
} cie_t;

static bool parse_cie(const uint8_t *p, const mp_cfi_image_t *o, cie_t *c)
{
    rd_t r = { p, o->hi, false };
    uint64_t len = rd_u(&r, 4);
    if (r.bad || !len || len >= 0xfffffff0u || len > (uint64_t)(r.end - r.p)) return false;
    r.end = r.p + len;
    if (rd_u(&r, 4) != 0) return false;                 /* a CIE's id */
    uint64_t version = rd_u(&r, 1);
    if (version != 1 && version != 3) return false;
    const char *aug = (const char *)r.p;
    size_t n = strnlen(aug, (size_t)(r.end - r.p));
    if (n == (size_t)(r.end - r.p)) return false;
    r.p += n + 1;
    c->caf = rd_uleb(&r);
    c->daf = rd_sleb(&r);
    if ((version == 1 ? rd_u(&r, 1) : rd_uleb(&r)) != R_RA) return false;
    c->fde_enc = 0;
    c->z = c->signal = false;
    if (aug[0] == 'z') {
        c->z = true;
        uint64_t alen = rd_uleb(&r);
        if (r.bad || alen > (uint64_t)(r.end - r.p)) return false;
        const uint8_t *aend = r.p + alen;
        for (const char *a = aug + 1; *a; a++) {
            if (*a == 'R') c->fde_enc = (uint8_t)rd_u(&r, 1);
            else if (*a == 'L') rd_u(&r, 1);
            else if (*a == 'P') {
                uint8_t e = (uint8_t)rd_u(&r, 1);
                rd_ptr(&r, e & 0x7f, 0);    /* the personality routine: only skipped */
            } else if (*a == 'S') c->signal = true;
            else return false;              /* an augmentation this reader does not know */
        }
        if (r.bad || r.p > aend) return false;
        r.p = aend;
    } else if (aug[0]) {
        return false;
    }
    if (r.bad || (c->fde_enc & 0x80)) return false;
    c->ins = r.p;
    c->end = r.end;
    return true;
}

/* ---- running the instructions ---- */

enum { HOW_SAME, HOW_OFFSET, HOW_UNDEF, HOW_OTHER };

typedef struct row {
    uint64_t cfa_reg;
    int64_t cfa_off;
    bool cfa_expr;          /* the CFA is an expression */
    bool rsp_rule;          /* rsp has a rule of its own */
    uint8_t rbp_how, ra_how;
    int64_t rbp_off, ra_off;
} row_t;

static void set_rule(row_t *row, uint64_t reg, uint8_t how, int64_t off)
{
    if (reg == R_RBP) {
        row->rbp_how = how;
        row->rbp_off = off;
    } else if (reg == R_RA) {
        row->ra_how = how;
        row->ra_off = off;
    } else if (reg == R_RSP) {
        row->rsp_rule = true;
    }
}

static void restore_rule(row_t *row, const row_t *init, uint64_t reg)
{
    if (reg == R_RBP) set_rule(row, reg, init->rbp_how, init->rbp_off);
    else if (reg == R_RA) set_rule(row, reg, init->ra_how, init->ra_off);
    else if (reg == R_RSP) row->rsp_rule = init->rsp_rule;
}

#define STATE_DEPTH 8

/* Run instructions from r over row, the code location starting at loc, until the location
 * passes pc. init is the CIE's row (for DW_CFA_restore). False on what this reader refuses. */
static bool run(rd_t *r, const cie_t *c, row_t *row, const row_t *init, uint64_t loc, uint64_t pc)
{
    row_t saved[STATE_DEPTH];
    int depth = 0;
    while (r->p < r->end && !r->bad) {
        uint8_t op = (uint8_t)rd_u(r, 1);
        uint64_t reg, delta = 0;
        switch (op >> 6) {
        case 1: delta = (op & 0x3f); goto advance;
        case 2: set_rule(row, op & 0x3f, HOW_OFFSET, (int64_t)rd_uleb(r) * c->daf); continue;
        case 3: restore_rule(row, init, op & 0x3f); continue;
        default: break;
        }
        switch (op) {
        case 0x00: continue;                                /* nop */
        case 0x01:                                          /* set_loc */
            loc = rd_ptr(r, c->fde_enc, 0);
            if (loc > pc) return !r->bad;
            continue;
        case 0x02: delta = rd_u(r, 1); goto advance;
        case 0x03: delta = rd_u(r, 2); goto advance;
        case 0x04: delta = rd_u(r, 4); goto advance;
        case 0x05:                                          /* offset_extended */
            reg = rd_uleb(r);
            set_rule(row, reg, HOW_OFFSET, (int64_t)rd_uleb(r) * c->daf);
            continue;
        case 0x06: restore_rule(row, init, rd_uleb(r)); continue;
        case 0x07: set_rule(row, rd_uleb(r), HOW_UNDEF, 0); continue;
        case 0x08: set_rule(row, rd_uleb(r), HOW_SAME, 0); continue;
        case 0x09: case 0x14:                               /* register, val_offset */
            reg = rd_uleb(r);
            rd_uleb(r);
            set_rule(row, reg, HOW_OTHER, 0);
            continue;
        case 0x0a:                                          /* remember_state */
            if (depth == STATE_DEPTH) return false;
            saved[depth++] = *row;
            continue;
        case 0x0b:                                          /* restore_state */
            if (!depth) return false;
            *row = saved[--depth];
            continue;
        case 0x0c:                                          /* def_cfa */
            row->cfa_reg = rd_uleb(r);
            row->cfa_off = (int64_t)rd_uleb(r);
            row->cfa_expr = false;
            continue;
        case 0x0d: row->cfa_reg = rd_uleb(r); row->cfa_expr = false; continue;
        case 0x0e: row->cfa_off = (int64_t)rd_uleb(r); continue;
        case 0x0f:                                          /* def_cfa_expression */
            rd_skip(r, rd_uleb(r));
            row->cfa_expr = true;
            continue;
        case 0x10: case 0x16:                               /* expression, val_expression */
            reg = rd_uleb(r);
            rd_skip(r, rd_uleb(r));
            set_rule(row, reg, HOW_OTHER, 0);
            continue;
        case 0x11:                                          /* offset_extended_sf */
            reg = rd_uleb(r);
            set_rule(row, reg, HOW_OFFSET, rd_sleb(r) * c->daf);
            continue;
        case 0x12:                                          /* def_cfa_sf */
            row->cfa_reg = rd_uleb(r);
            row->cfa_off = rd_sleb(r) * c->daf;
            row->cfa_expr = false;
            continue;
        case 0x13: row->cfa_off = rd_sleb(r) * c->daf; continue;
        case 0x15:                                          /* val_offset_sf */
            reg = rd_uleb(r);
            rd_sleb(r);
            set_rule(row, reg, HOW_OTHER, 0);
            continue;
        case 0x2e: rd_uleb(r); continue;                    /* GNU_args_size */
        case 0x2f:                                          /* GNU_negative_offset_extended */
            reg = rd_uleb(r);
            set_rule(row, reg, HOW_OFFSET, -(int64_t)rd_uleb(r) * c->daf);
            continue;
        default:
            return false;
        }
    advance:
        loc += delta * c->caf;
        if (loc > pc) return !r->bad;
    }
    return !r->bad;
}

/* ---- rules ---- */

#define RBP_OFF_BITS 12
#define CFA_OFF_BITS 24

static mp_cfi_rule_t rule_pack(unsigned kind, bool on_rbp, bool saved, int64_t rbp_off,
                               int64_t cfa_off)
{
    return (uint64_t)kind | (uint64_t)on_rbp << 2 | (uint64_t)saved << 3 |
           ((uint64_t)rbp_off & ((1u << RBP_OFF_BITS) - 1)) << 4 |
           ((uint64_t)cfa_off & ((1u << CFA_OFF_BITS) - 1)) << 16;
}

static bool fits(int64_t v, int bits)
{
    return v >= -((int64_t)1 << (bits - 1)) && v < ((int64_t)1 << (bits - 1));
}

static mp_cfi_rule_t rule_of(const row_t *row)
{
    if (row->cfa_expr || row->rsp_rule || (row->cfa_reg != R_RSP && row->cfa_reg != R_RBP))
        return MP_CFI_OTHER;
    if (row->ra_how == HOW_UNDEF) return MP_CFI_END;
    if (row->ra_how != HOW_OFFSET || row->ra_off != -8 || !fits(row->cfa_off, CFA_OFF_BITS))
        return MP_CFI_OTHER;
    /* a saved rbp lies below the return address, 8-aligned (the walk then checks only that it
     * is not below the frame) */
    bool saved = row->rbp_how == HOW_OFFSET;
    if ((!saved && row->rbp_how != HOW_SAME) ||
        (saved && (!fits(row->rbp_off, RBP_OFF_BITS) || row->rbp_off > -16 || (row->rbp_off & 7))))
        return MP_CFI_OTHER;
    return rule_pack(MP_CFI_STEP, row->cfa_reg == R_RBP, saved, saved ? row->rbp_off : 0,
                     row->cfa_off);
}

/* A signal frame's FDE ('S') is trusted as the kernel's only when the code the handler returns
 * to is x86-64 Linux's sigreturn: mov $15, %rax; syscall (inside the FDE's range and the
 * loaded segment, so readable). */
static bool is_sigreturn(uintptr_t ra, uintptr_t end, const mp_cfi_image_t *o)
{
    static const uint8_t code[] = { 0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05 };
    if (end > (uintptr_t)o->code_hi) end = (uintptr_t)o->code_hi;
    return ra >= (uintptr_t)o->code_lo && end >= ra && end - ra >= sizeof code &&
           !memcmp((const void *)ra, code, sizeof code);
}

static int32_t at32(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

mp_cfi_rule_t mp_cfi_parse(uintptr_t ra)
{
    obj_t o = { .pc = ra - 1 };
    if (ra < 4096 || !dl_iterate_phdr(find_obj, &o) || !o.im.hdr) return MP_CFI_OTHER;
    return mp_cfi_parse_image(&o.im, ra);
}

mp_cfi_rule_t mp_cfi_parse_image(const mp_cfi_image_t *o, uintptr_t ra)
{
    uintptr_t pc = ra - 1;
    if (!o->hdr || o->hdr < o->lo || o->hdr >= o->hi) return MP_CFI_OTHER;
    /* .eh_frame_hdr: version 1, three encodings, the .eh_frame pointer, the count, then the
     * sorted table of (initial location, FDE) pairs, 4-byte offsets from the header. */
    rd_t r = { o->hdr, o->hi, false };
    uint8_t version = (uint8_t)rd_u(&r, 1), ptr_enc = (uint8_t)rd_u(&r, 1);
    uint8_t count_enc = (uint8_t)rd_u(&r, 1), table_enc = (uint8_t)rd_u(&r, 1);
    if (r.bad || version != 1 || table_enc != 0x3b || ptr_enc == 0xff || count_enc == 0xff ||
        ((ptr_enc | count_enc) & 0x80))
        return MP_CFI_OTHER;
    rd_ptr(&r, ptr_enc, (uintptr_t)o->hdr);
    uint64_t n = rd_ptr(&r, count_enc, (uintptr_t)o->hdr);
    if (r.bad || !n || n > (uint64_t)(r.end - r.p) / 8) return MP_CFI_OTHER;
    const uint8_t *table = r.p;
    int64_t target = (int64_t)(pc - (uintptr_t)o->hdr);
    if (at32(table) > target) return MP_CFI_OTHER;
    size_t lo = 0, hi = (size_t)n;     /* the last entry at or below target is in [lo, hi) */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (at32(table + mid * 8) <= target) lo = mid;
        else hi = mid;
    }
    const uint8_t *fde = o->hdr + at32(table + lo * 8 + 4);
    if (fde < o->lo || fde >= o->hi) return MP_CFI_OTHER;

    rd_t f = { fde, o->hi, false };
    uint64_t len = rd_u(&f, 4);
    if (f.bad || !len || len >= 0xfffffff0u || len > (uint64_t)(f.end - f.p)) return MP_CFI_OTHER;
    f.end = f.p + len;
    const uint8_t *id = f.p;
    uint64_t back = rd_u(&f, 4);
    if (f.bad || !back || back > (uint64_t)(id - o->lo)) return MP_CFI_OTHER;
    cie_t c;
    if (!parse_cie(id - back, o, &c)) return MP_CFI_OTHER;
    uint64_t begin = rd_ptr(&f, c.fde_enc, 0), range = rd_ptr(&f, c.fde_enc & 0x0f, 0);
    if (f.bad || pc - begin >= range) return MP_CFI_OTHER;
    if (c.signal) return is_sigreturn(ra, begin + range, o) ? MP_CFI_SIGNAL : MP_CFI_OTHER;
    if (c.z) rd_skip(&f, rd_uleb(&f));
    if (f.bad) return MP_CFI_OTHER;

    row_t init = { .cfa_reg = R_RSP, .rbp_how = HOW_SAME, .ra_how = HOW_UNDEF };
    rd_t ci = { c.ins, c.end, false };
    if (!run(&ci, &c, &init, &init, 0, UINT64_MAX)) return MP_CFI_OTHER;
    row_t row = init;
    if (!run(&f, &c, &row, &init, begin, pc)) return MP_CFI_OTHER;
    return rule_of(&row);
}

/* ---- the table: return address -> rule, read without a lock (cfi.h) ----
 * 64K entries of 16 bytes (1 MiB of address space, touched as it fills). A writer stores the
 * rule, then the address (release); a reader loads the address (acquire), then the rule, so an
 * address it matches always has its rule. A flush sets every rule to MP_CFI_NONE, which the
 * walk takes for a miss: the rule is parsed again and rewritten in place, as one 64-bit store.
 * The table stops taking addresses at three quarters full: those met later are parsed each
 * time. */
#define TABLE_SIZE ((size_t)1 << MP_CFI_TABLE_BITS)

mp_cfi_ent_t *mp_cfi_table;
static mp_spin_t table_lock;        /* writers only; taken by trylock (never waits) */
static uint32_t table_used;
static uint32_t flushes;            /* a rule parsed before a flush is not kept after it */
static unsigned long long seen_subs;   /* dlpi_subs when last looked at */

static int count_subs(struct dl_phdr_info *info, size_t size, void *data)
{
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs)
        *(unsigned long long *)data = info->dlpi_subs;
    return 1;
}

static void insert(uintptr_t ra, mp_cfi_rule_t rule, uint32_t parsed_after)
{
    /* trylock: a fork child may inherit this lock held, and a rule is only a cache entry */
    if (__atomic_exchange_n(&table_lock.v, 1, __ATOMIC_ACQUIRE)) return;
    mp_cfi_ent_t *t = __atomic_load_n(&mp_cfi_table, __ATOMIC_RELAXED);
    if (!t) {
        t = mp_pages_reserve(TABLE_SIZE * sizeof *t);
        if (t) __atomic_store_n(&mp_cfi_table, t, __ATOMIC_RELEASE);
    }
    if (__atomic_load_n(&flushes, __ATOMIC_ACQUIRE) != parsed_after) t = NULL;
    size_t i = (size_t)(((uint64_t)ra * 0x9e3779b97f4a7c15ULL) >> (64 - MP_CFI_TABLE_BITS));
    for (int k = 0; t && k < MP_CFI_PROBES; k++, i = (i + 1) & (TABLE_SIZE - 1)) {
        uintptr_t at = __atomic_load_n(&t[i].ra, __ATOMIC_RELAXED);
        if (at == ra) {
            __atomic_store_n(&t[i].rule, rule, __ATOMIC_RELEASE);
            break;
        }
        if (at) continue;
        if ((table_used + 1) * 4 > TABLE_SIZE * 3) break;
        __atomic_store_n(&t[i].rule, rule, __ATOMIC_RELAXED);
        __atomic_store_n(&t[i].ra, ra, __ATOMIC_RELEASE);
        table_used++;
        break;
    }
    __atomic_store_n(&table_lock.v, 0, __ATOMIC_RELEASE);
}

mp_cfi_rule_t mp_cfi_miss(uintptr_t ra)
{
    mp_tls.scrub = MP_CFI_SCRUB;    /* dl_iterate_phdr and the parse go deeper than a walk */
    /* An object unloaded without our dlclose (inside the C library) since the last miss may
     * have left rules for addresses that now hold other code: dl_iterate_phdr's count of
     * unloads tells, and every rule goes. */
    unsigned long long subs = 0;
    dl_iterate_phdr(count_subs, &subs);
    if (subs != __atomic_load_n(&seen_subs, __ATOMIC_RELAXED)) {
        __atomic_store_n(&seen_subs, subs, __ATOMIC_RELAXED);
        mp_cfi_flush();
    }
    uint32_t f = __atomic_load_n(&flushes, __ATOMIC_ACQUIRE);
    mp_cfi_rule_t r = mp_cfi_parse(ra);
    insert(ra, r, f);
    return r;
}

void mp_cfi_flush(void)
{
    __atomic_fetch_add(&flushes, 1, __ATOMIC_ACQ_REL);
    mp_cfi_ent_t *t = __atomic_load_n(&mp_cfi_table, __ATOMIC_ACQUIRE);
    for (size_t i = 0; t && i < TABLE_SIZE; i++)
        if (__atomic_load_n(&t[i].ra, __ATOMIC_RELAXED))
            __atomic_store_n(&t[i].rule, (mp_cfi_rule_t)MP_CFI_NONE, __ATOMIC_RELAXED);
}

void mp_cfi_reset_lock(void) { mp_spin_init(&table_lock); }
