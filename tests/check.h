/* tests/check.h - the tiny test harness every C test uses.
 *
 * A test file defines functions `static void test_xxx(void)`, lists them with RUN(test_xxx) in
 * main, and returns check_done(). CHECK(cond) records one assertion; a test passes when none of
 * its assertions failed. The last line printed is "N passed, N failed", which
 * scripts/run-tests.sh sums across programs. Header-only on purpose: no library to link. */
#ifndef MAPPROF_TESTS_CHECK_H
#define MAPPROF_TESTS_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_passed, check_failed, check_cur_failed;
static const char *check_cur_name;

#define CHECK(cond) do { \
        if (!(cond)) { \
            check_cur_failed++; \
            fprintf(stderr, "  %s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__, \
                    check_cur_name, #cond); \
        } \
    } while (0)

/* CHECK with a formatted explanation printed on failure. */
#define CHECKF(cond, ...) do { \
        if (!(cond)) { \
            check_cur_failed++; \
            fprintf(stderr, "  %s:%d: %s: CHECK(%s) failed: ", __FILE__, __LINE__, \
                    check_cur_name, #cond); \
            fprintf(stderr, __VA_ARGS__); \
            fputc('\n', stderr); \
        } \
    } while (0)

#define CHECK_EQ_INT(a, b) do { \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b); \
        CHECKF(check_a_ == check_b_, "%s = %lld, %s = %lld", #a, check_a_, #b, check_b_); \
    } while (0)

#define RUN(fn) do { \
        check_cur_name = #fn; check_cur_failed = 0; \
        fn(); \
        if (check_cur_failed) { check_failed++; printf("FAIL %s\n", #fn); } \
        else { check_passed++; printf("PASS %s\n", #fn); } \
        fflush(stdout); \
    } while (0)

/* xorshift64: the tests' reproducible pseudo-random numbers (a state of 0 stays 0). */
static inline uint64_t check_rand(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

static inline int check_done(void)
{
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif
