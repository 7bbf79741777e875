/* Unit tests of profiler/cfi.c (sanitized): rules of frames whose shape is known, the parser
 * run over every return-address position of the C library and of this program (ASan and UBSan
 * watch each read and each shift), in place and over copies, and the table's miss, hit and
 * flush. */
#define _GNU_SOURCE
#include <link.h>
#include <signal.h>

#include "profiler/cfi.h"
#include "tests/cfi_image.h"
#include "tests/check.h"

/* ---- frames of known shape ---- */

__attribute__((noinline)) static uintptr_t return_address(void)
{
    uintptr_t ra = (uintptr_t)__builtin_return_address(0);
    __asm__ volatile("" : : "r"(ra) : "memory");
    return ra;
}

/* a frame-pointer frame: CFA = rbp + 16, the caller's rbp at CFA - 16 */
__attribute__((noinline, optimize("no-omit-frame-pointer"))) static uintptr_t in_fp_frame(void)
{
    uintptr_t ra = return_address();
    __asm__ volatile("" : : "r"(ra) : "memory");
    return ra;
}

/* no frame pointer, a frame of over 4000 bytes: CFA = rsp + that, rbp kept */
__attribute__((noinline, optimize("omit-frame-pointer"))) static uintptr_t in_big_frame(void)
{
    volatile char buf[4000];
    buf[0] = 1;
    uintptr_t ra = return_address();
    buf[1] = (char)ra;
    return ra + (uintptr_t)(buf[0] - 1);
}

static void test_known_frames(void)
{
    mp_cfi_rule_t r = mp_cfi_parse(in_fp_frame());
    CHECK_EQ_INT(mp_cfi_kind(r), MP_CFI_STEP);
    CHECK_EQ_INT(mp_cfi_on_rbp(r), 1);
    CHECK_EQ_INT(mp_cfi_cfa_off(r), 16);
    CHECK_EQ_INT(mp_cfi_rbp_saved(r), 1);
    CHECK_EQ_INT(mp_cfi_rbp_off(r), -16);

    r = mp_cfi_parse(in_big_frame());
    CHECK_EQ_INT(mp_cfi_kind(r), MP_CFI_STEP);
    CHECK_EQ_INT(mp_cfi_on_rbp(r), 0);
    CHECKF(mp_cfi_cfa_off(r) >= 4000 + 8 && mp_cfi_cfa_off(r) < 4000 + 512, "cfa_off %lld",
           (long long)mp_cfi_cfa_off(r));
    CHECK_EQ_INT(mp_cfi_rbp_saved(r), 0);

    /* at a function's first byte (the first entry of its FDE, the edge of the binary search):
     * the CIE's row, CFA = rsp + 8 */
    r = mp_cfi_parse((uintptr_t)in_fp_frame + 1);
    CHECK_EQ_INT(mp_cfi_kind(r), MP_CFI_STEP);
    CHECK_EQ_INT(mp_cfi_on_rbp(r), 0);
    CHECK_EQ_INT(mp_cfi_cfa_off(r), 8);
    CHECK_EQ_INT(mp_cfi_rbp_saved(r), 0);

    /* the C library's sigreturn trampoline, where a signal handler returns: a signal frame */
    struct sigaction sa = { .sa_handler = SIG_IGN }, old;
    sigaction(SIGUSR2, &sa, NULL);
    sigaction(SIGUSR2, NULL, &old);
    CHECK(old.sa_restorer != NULL);     /* glibc installs its own on every sigaction */
    if (old.sa_restorer) CHECK_EQ_INT(mp_cfi_parse((uintptr_t)old.sa_restorer), MP_CFI_SIGNAL);

    /* no code there: other (libunwind's to try) */
    CHECK_EQ_INT(mp_cfi_kind(mp_cfi_parse(16)), MP_CFI_OTHER);
    static char data[64];
    CHECK_EQ_INT(mp_cfi_kind(mp_cfi_parse((uintptr_t)data + 8)), MP_CFI_OTHER);
}

/* ---- the parser over whole objects ---- */

typedef struct span { const char *want; uintptr_t lo, hi; } span_t;

static int find_text(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    span_t *s = data;
    if (s->want[0] ? !strstr(info->dlpi_name, s->want) : info->dlpi_name[0] != 0) return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
        s->lo = info->dlpi_addr + ph->p_vaddr;
        s->hi = s->lo + ph->p_memsz;
        return 1;
    }
    return 0;
}

/* Every 3rd byte of an object's code as a return address: the parser must stay in bounds
 * (the sanitizers) and step most of them. */
static void sweep(const char *want, unsigned *n, unsigned *kinds)
{
    span_t s = { want, 0, 0 };
    dl_iterate_phdr(find_text, &s);
    CHECKF(s.hi > s.lo, "no code found for '%s'", want);
    for (uintptr_t a = s.lo + 1; a < s.hi; a += 3) {
        kinds[mp_cfi_kind(mp_cfi_parse(a))]++;
        (*n)++;
    }
}

static void test_parser_over_libc_and_this_program(void)
{
    unsigned n = 0, kinds[4] = { 0 };
    sweep("libc.so", &n, kinds);
    CHECK(n > 100000);
    CHECK_EQ_INT(kinds[MP_CFI_NONE], 0);
    CHECKF(kinds[MP_CFI_STEP] > n / 10 * 9, "libc: %u of %u stepped, %u end, %u other",
           kinds[MP_CFI_STEP], n, kinds[MP_CFI_END], kinds[MP_CFI_OTHER]);
    CHECK(kinds[MP_CFI_END] > 0);          /* clone's and _start's undefined return address */
    unsigned m = 0, mine[4] = { 0 };
    sweep("", &m, mine);
    CHECK(m > 1000);
    CHECKF(mine[MP_CFI_STEP] > m / 10 * 8, "program: %u of %u stepped", mine[MP_CFI_STEP], m);
}

/* The same parse over a copy of the object (what the fuzz target feeds): every rule equal to
 * the one in place, and nothing read outside the two segments it was given (the copy's other
 * bytes are poisoned for ASan). */
static void compare_copy(const char *want)
{
    cfi_copy_t c;
    CHECKF(cfi_copy_object(want, &c), "cannot copy '%s'", want);
    if (!c.buf) return;
    unsigned n = 0, differ = 0, stepped = 0;
    for (uintptr_t a = c.code_lo + 1; a < c.code_hi; a += 3, n++) {
        mp_cfi_rule_t r = mp_cfi_parse(a);
        differ += mp_cfi_parse_image(&c.im, cfi_copy_at(&c, a)) != r;
        stepped += mp_cfi_kind(r) == MP_CFI_STEP;
    }
    CHECKF(differ == 0, "%s: %u of %u rules differ in the copy", want, differ, n);
    CHECKF(stepped > n / 2, "%s: %u of %u stepped", want, stepped, n);
    cfi_copy_free(&c);
}

static void test_parser_over_copies(void)
{
    compare_copy("libc.so");
    compare_copy("");
}

/* ---- the table ---- */

static void test_table_miss_hit_flush(void)
{
    uintptr_t ra = in_fp_frame();
    mp_cfi_rule_t parsed = mp_cfi_parse(ra);
    CHECK_EQ_INT(mp_cfi_miss(ra), parsed);         /* made the table, kept the rule */
    const mp_cfi_ent_t *t = __atomic_load_n(&mp_cfi_table, __ATOMIC_ACQUIRE);
    CHECK(t != NULL);
    if (!t) return;
    CHECK_EQ_INT(mp_cfi_rule(t, ra), parsed);      /* a hit */
    mp_cfi_flush();
    CHECK_EQ_INT(mp_cfi_rule(t, ra), MP_CFI_NONE); /* kept, but to be parsed again */
    CHECK_EQ_INT(mp_cfi_miss(ra), parsed);
    CHECK_EQ_INT(mp_cfi_rule(t, ra), parsed);
    /* many addresses: each hit returns its own rule */
    unsigned wrong = 0;
    for (uintptr_t a = ra - 2000; a < ra + 2000; a += 5) mp_cfi_miss(a);
    for (uintptr_t a = ra - 2000; a < ra + 2000; a += 5)
        wrong += mp_cfi_rule(t, a) != mp_cfi_parse(a);
    CHECK_EQ_INT(wrong, 0);
}

int main(void)
{
    RUN(test_known_frames);
    RUN(test_parser_over_libc_and_this_program);
    RUN(test_parser_over_copies);
    RUN(test_table_miss_hit_flush);
    return check_done();
}
