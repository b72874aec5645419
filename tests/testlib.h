/* testlib.h -- the small harness every test program uses.
 *
 * A test program is a main() that runs cases:  T_CASE("name") { ... T_CHECK(...) }
 * Each case prints "PASS: name" or "FAIL: name" with the first failing checks;
 * tests/run.sh counts those lines across programs. t_finish() returns the exit code.
 * Heap allocations made by libnnc's own code are counted (see Makefile WRAP). */
#ifndef NNC_TESTLIB_H
#define NNC_TESTLIB_H
#include <stdio.h>
#include <stdint.h>
#include <math.h>
#include "nnc.h"

extern int t_failed_checks; /* failures in the current case */
extern long t_alloc_count;  /* heap allocations by libnnc objects since start */

void t_begin(const char *name);
void t_end(void);
int t_finish(void);
void t_fail(const char *file, int line, const char *fmt, ...);

#define T_CASE(name) for (int t_once_ = (t_begin(name), 1); t_once_; t_once_ = (t_end(), 0))
#define T_CHECK(cond)                                                        \
    do { if (!(cond)) t_fail(__FILE__, __LINE__, "check failed: %s", #cond); } while (0)
#define T_CHECKF(cond, ...)                                                  \
    do { if (!(cond)) t_fail(__FILE__, __LINE__, __VA_ARGS__); } while (0)
#define T_OK(expr)                                                           \
    do { nnc_status s_ = (expr); if (s_ != NNC_OK)                           \
        t_fail(__FILE__, __LINE__, "%s -> %s: %s", #expr, nnc_status_name(s_), nnc_last_error()); } while (0)

/* Compares n floats: |a-b| <= atol + rtol*|b|; reports the first mismatches. */
int t_close(const char *what, const float *got, const float *want, int64_t n, double rtol, double atol);
/* Path of a file in tests/ (the source dir), whatever the current directory. */
const char *t_path(const char *rel);
#endif
