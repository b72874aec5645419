/* fuzz_util.h -- shared by the libFuzzer harnesses: the loaders take paths, so
 * each input is written to an in-memory file (memfd) and passed as
 * /proc/self/fd/N, which costs no disk I/O and exercises the real open/stat/
 * read path. Every harness also checks that a failure left a message. */
#ifndef NNC_FUZZ_UTIL_H
#define NNC_FUZZ_UTIL_H
#include "nnc.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Harnesses add what they read here, so the reads are not optimized away. */
static volatile unsigned fuzz_sink;

/* The path of a file holding exactly data[0..n). */
static inline const char *fuzz_file(const uint8_t *data, size_t n) {
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("nnc-fuzz", 0);
        if (fd < 0) { perror("memfd_create"); abort(); }
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || (n && pwrite(fd, data, n, 0) != (ssize_t)n)) { perror("memfd write"); abort(); }
    return path;
}

/* A refused input must say why: an empty or default message is a bug. */
static inline void fuzz_check_message(nnc_status s) {
    const char *m = nnc_last_error();
    if (s != NNC_OK && (!m || !*m || !strcmp(m, "no error"))) {
        fprintf(stderr, "status %d (%s) without an error message\n", (int)s, nnc_status_name(s));
        abort();
    }
}
#endif
