/* profiler/cfi.h - how to step out of an x86-64 frame, read from the call frame information
 * (.eh_frame, found through .eh_frame_hdr) that each loaded object carries in memory, and kept
 * by return address in a lock-free table.
 *
 * Only the rules nearly all compiled code has are represented: the frame's CFA (the caller's
 * stack pointer) is rsp or rbp plus an offset, the return address sits just below it, and rbp
 * is either kept or saved at an offset from the CFA; and the kernel's signal frame
 * (MP_CFI_SIGNAL). Anything else (an expression, a register other than these, code without
 * CFI) is MP_CFI_OTHER, and the caller then unwinds with libunwind. Nothing here allocates,
 * and a miss reads only the loaded objects' own memory (dl_iterate_phdr finds them). */
#ifndef MAPPROF_PROFILER_CFI_H
#define MAPPROF_PROFILER_CFI_H

#include <stddef.h>
#include <stdint.h>

/* A rule, packed in 64 bits: bits 0-1 its kind, bit 2 the CFA's base (rbp, else rsp), bit 3
 * whether rbp was saved, bits 4-15 rbp's slot from the CFA, bits 16-39 the CFA's offset from
 * its base. MP_CFI_NONE (0): not known (a flushed entry). */
typedef uint64_t mp_cfi_rule_t;

enum { MP_CFI_NONE = 0, MP_CFI_STEP = 1, MP_CFI_END = 2, MP_CFI_OTHER = 3 };
/* The kernel's signal frame (the return lands in the C library's sigreturn trampoline): the
 * interrupted registers are in the ucontext_t that the frame's stack pointer points to, and the
 * interrupted pc is not a return address (its rule is the row at pc itself: key pc + 1). */
#define MP_CFI_SIGNAL ((mp_cfi_rule_t)MP_CFI_OTHER | 8)

static inline unsigned mp_cfi_kind(mp_cfi_rule_t r) { return (unsigned)(r & 3); }
/* CFA = (mp_cfi_on_rbp(r) ? rbp : rsp) + mp_cfi_cfa_off(r) */
static inline int mp_cfi_on_rbp(mp_cfi_rule_t r) { return (int)((r >> 2) & 1); }
static inline int64_t mp_cfi_cfa_off(mp_cfi_rule_t r) { return (int64_t)(r << 24) >> 40; }
/* The caller's rbp is at CFA + mp_cfi_rbp_off(r) when mp_cfi_rbp_saved(r), else unchanged. */
static inline int mp_cfi_rbp_saved(mp_cfi_rule_t r) { return (int)((r >> 3) & 1); }
static inline int64_t mp_cfi_rbp_off(mp_cfi_rule_t r) { return (int64_t)(r << 48) >> 52; }

/* The table of rules by return address (cfi.c): read without a lock. A reader loads the
 * table once per walk, then asks mp_cfi_rule for each frame. */
typedef struct mp_cfi_ent {
    uintptr_t ra;           /* 0 = empty; an entry keeps its address for good */
    mp_cfi_rule_t rule;     /* stored before the address, rewritten only as a whole */
} mp_cfi_ent_t;
#define MP_CFI_TABLE_BITS 16
#define MP_CFI_PROBES 32
extern mp_cfi_ent_t *mp_cfi_table __attribute__((visibility("hidden")));

/* The rule for the frame whose code returns to ra: the row of its FDE at ra - 1, the call
 * instruction. MP_CFI_STEP, MP_CFI_END (the outermost frame: its return address is undefined),
 * MP_CFI_SIGNAL or MP_CFI_OTHER. mp_cfi_miss parses it, keeps it in the table
 * (made on the first miss), and returns it; mp_cfi_rule returns what t (mp_cfi_table, not
 * NULL) holds for ra, which may be MP_CFI_NONE (flushed: the caller then calls mp_cfi_miss),
 * or calls mp_cfi_miss. */
mp_cfi_rule_t mp_cfi_miss(uintptr_t ra);
static inline __attribute__((always_inline)) mp_cfi_rule_t
mp_cfi_rule(const mp_cfi_ent_t *t, uintptr_t ra)
{
    size_t i = (size_t)(((uint64_t)ra * 0x9e3779b97f4a7c15ULL) >> (64 - MP_CFI_TABLE_BITS));
    for (int k = 0; k < MP_CFI_PROBES; k++) {
        uintptr_t at = __atomic_load_n(&t[i].ra, __ATOMIC_ACQUIRE);
        if (__builtin_expect(at == ra, 1)) return __atomic_load_n(&t[i].rule, __ATOMIC_RELAXED);
        if (!at) break;
        i = (i + 1) & (((size_t)1 << MP_CFI_TABLE_BITS) - 1);
    }
    return mp_cfi_miss(ra);
}
/* Stack bytes a miss may dirty below the walk (dl_iterate_phdr, the parse), asked of the leak
 * check's scrub through mp_tls.scrub (record.c). */
#define MP_CFI_SCRUB 4096
/* Parse without the table (tests; the miss path). */
mp_cfi_rule_t mp_cfi_parse(uintptr_t ra);
/* Where a parse reads: an object's .eh_frame_hdr at hdr, inside the readable loaded segment
 * [lo, hi) that holds it (and the .eh_frame), and the segment [code_lo, code_hi) holding the
 * code. mp_cfi_parse finds them with dl_iterate_phdr; the parse reads nothing outside them. */
typedef struct mp_cfi_image {
    const uint8_t *hdr, *lo, *hi;
    const uint8_t *code_lo, *code_hi;
} mp_cfi_image_t;
/* The parse over an image already found (the miss path; the fuzz target gives its own). */
mp_cfi_rule_t mp_cfi_parse_image(const mp_cfi_image_t *im, uintptr_t ra);
/* Forget every rule (an object was unloaded: its addresses may hold other code): each entry's
 * rule becomes MP_CFI_NONE, and a parse begun before this is not kept. */
void mp_cfi_flush(void);
/* In a fork child: the table's writer lock, which a thread that is gone may have held (writers
 * only try it, so fork does not wait for it). */
void mp_cfi_reset_lock(void);

#endif
