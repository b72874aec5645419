/* testlib.c -- case bookkeeping, tolerant comparisons and the allocation
 * counter behind the "no heap allocation in a training step" tests. */
#include "testlib.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int t_failed_checks;
long t_alloc_count;
static int n_pass, n_fail;
static const char *cur_name;

void t_begin(const char *name) { cur_name = name; t_failed_checks = 0; }
void t_end(void) {
    if (t_failed_checks) { n_fail++; printf("FAIL: %s\n", cur_name); }
    else { n_pass++; printf("PASS: %s\n", cur_name); }
    fflush(stdout);
}
int t_finish(void) { return n_fail ? 1 : 0; }

void t_fail(const char *file, int line, const char *fmt, ...) {
    if (t_failed_checks++ >= 5) return;
    va_list ap;
    va_start(ap, fmt);
    printf("  %s:%d: ", file, line);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

int t_close(const char *what, const float *got, const float *want, int64_t n, double rtol, double atol) {
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (!(d <= atol + rtol * fabs((double)want[i]))) {
            if (bad < 5)
                t_fail(__FILE__, __LINE__, "%s[%lld]: got %.7g want %.7g (rtol %g atol %g)", what,
                       (long long)i, got[i], want[i], rtol, atol);
            bad++;
        }
    }
    if (bad > 5) printf("  ... %d mismatches in %s\n", bad, what);
    return bad == 0;
}

const char *t_path(const char *rel) {
    static char buf[4096];
    const char *dir = getenv("NNC_TEST_DIR");
    snprintf(buf, sizeof buf, "%s/%s", dir ? dir : "tests", rel);
    return buf;
}

/* --wrap targets: libnnc's calls land here. */
void *__real_malloc(size_t n);
void *__real_calloc(size_t a, size_t b);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
int __real_posix_memalign(void **p, size_t a, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
void *__wrap_malloc(size_t n) { t_alloc_count++; return __real_malloc(n); }
void *__wrap_calloc(size_t a, size_t b) { t_alloc_count++; return __real_calloc(a, b); }
void *__wrap_realloc(void *p, size_t n) { t_alloc_count++; return __real_realloc(p, n); }
void __wrap_free(void *p) { __real_free(p); }
int __wrap_posix_memalign(void **p, size_t a, size_t n) { t_alloc_count++; return __real_posix_memalign(p, a, n); }
void *__wrap_aligned_alloc(size_t a, size_t n) { t_alloc_count++; return __real_aligned_alloc(a, n); }
