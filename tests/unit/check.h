/* check.h — the unit tests' harness: CHECK macros and one summary line per program.
 * Each test file defines test functions and lists them in main() with RUN(). */
#ifndef IMAPSCRIPT_CHECK_H
#define IMAPSCRIPT_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures, check_passes, check_test_failed;
static const char *check_current;

#define CHECK(cond) do { \
    if (!(cond)) { \
        fprintf(stderr, "%s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__, check_current, #cond); \
        check_test_failed = 1; \
    } } while (0)

#define CHECK_STR(got, want) do { \
    const char *g_ = (got), *w_ = (want); \
    if (!g_ || strcmp(g_, w_) != 0) { \
        fprintf(stderr, "%s:%d: %s: got \"%s\", want \"%s\"\n", __FILE__, __LINE__, \
                check_current, g_ ? g_ : "(null)", w_); \
        check_test_failed = 1; \
    } } while (0)

#define CHECK_INT(got, want) do { \
    long long g_ = (long long)(got), w_ = (long long)(want); \
    if (g_ != w_) { \
        fprintf(stderr, "%s:%d: %s: %s = %lld, want %lld\n", __FILE__, __LINE__, \
                check_current, #got, g_, w_); \
        check_test_failed = 1; \
    } } while (0)

#define RUN(fn) do { \
    check_current = #fn; check_test_failed = 0; fn(); \
    if (check_test_failed) check_failures++; else check_passes++; } while (0)

/* The closing line tests/run-units adds up. */
#define CHECK_DONE() (printf("%s: %d passed, %d failed\n", __FILE__, check_passes, check_failures), \
                      check_failures ? 1 : 0)

#endif
