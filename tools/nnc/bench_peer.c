/* bench_peer.c -- child processes for `nnc bench`: every measurement of a
 * table runs in its own process (so its peak resident memory is its own),
 * nnc's as `nnc bench` itself and the peer's as PyTorch's bench.py in
 * "config A" of shared/bench/results-pytorch.md:
 *   env -u OPENBLAS_CORETYPE LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp \
 *       /usr/bin/python3 bench.py --workload W1 --mode train --min-time T --threads N
 * The peer prints "RESULT {json}"; jansson reads it. */
#include "bench.h"
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define OPENBLAS_OMP_DIR "/usr/lib/x86_64-linux-gnu/openblas-openmp"

int bench_spawn(char *const argv[], char *out, size_t cap) {
    int fd[2];
    if (cap) out[0] = 0;
    if (pipe(fd)) return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) { close(fd[0]); close(fd[1]); return -1; }
    if (pid == 0) { /* only async-signal-safe calls until exec: the parent may run OpenMP threads */
        dup2(fd[1], 1);
        dup2(fd[1], 2);
        close(fd[0]);
        close(fd[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fd[1]);
    size_t len = 0;
    char buf[4096];
    for (;;) {
        ssize_t k = read(fd[0], buf, sizeof buf);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        for (ssize_t i = 0; i < k; i++)
            if (len + 1 < cap) out[len++] = buf[i];
            else if (cap > 1) { /* keep the tail: results and errors come last */
                memmove(out, out + cap / 2, len - cap / 2);
                len -= cap / 2;
                out[len++] = buf[i];
            }
    }
    if (cap) out[len < cap ? len : cap - 1] = 0;
    close(fd[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

int bench_find_line(const char *text, const char *prefix, char *line, size_t cap) {
    size_t pl = strlen(prefix);
    for (const char *p = text; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len >= pl && !strncmp(p, prefix, pl)) {
            if (len >= cap) len = cap - 1;
            memcpy(line, p, len);
            line[len] = 0;
            return 1;
        }
        p = e ? e + 1 : NULL;
    }
    return 0;
}

/* The last non-empty line of text (an error message), into line. */
static const char *last_line(const char *text, char *line, size_t cap) {
    const char *best = NULL, *p = text;
    size_t blen = 0;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len) { best = p; blen = len; }
        if (!e) break;
        p = e + 1;
    }
    if (blen >= cap) blen = cap - 1;
    if (best) memcpy(line, best, blen);
    line[best ? blen : 0] = 0;
    return line;
}

const char *bench_default_peer_script(char *buf, size_t cap) {
    const char *rel = "../shared/bench/pytorch/bench.py";
    if (access(rel, R_OK) == 0) { snprintf(buf, cap, "%s", rel); return buf; }
    char exe[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0) { /* <repo>/<build dir>/nnc */
        exe[k] = 0;
        char *dir = dirname(dirname(exe));
        snprintf(buf, cap, "%s/%s", dir, rel);
        if (access(buf, R_OK) == 0) return buf;
    }
    snprintf(buf, cap, "%s", rel);
    return buf;
}

int bench_peer_check(bench_peer *p, FILE *f) {
    if (access(p->script, R_OK) != 0) {
        fprintf(f, "note: peer script %s not found (--peer-script PATH); PyTorch columns skipped\n", p->script);
        return 0;
    }
    if (access(p->python, X_OK) != 0) {
        fprintf(f, "note: %s not found; PyTorch columns skipped\n", p->python);
        return 0;
    }
    char out[8192];
    if (p->config_a) {
        char *dq[] = {"/usr/bin/dpkg-query", "-W", "-f=${Status}", "libopenblas0-openmp", NULL};
        if (bench_spawn(dq, out, sizeof out) != 0 || !strstr(out, "install ok installed") || access(OPENBLAS_OMP_DIR, R_OK)) {
            fprintf(f, "note: config A needs the OpenMP build of OpenBLAS (apt-get install libopenblas0-openmp; "
                       "%s is missing); PyTorch columns skipped\n", OPENBLAS_OMP_DIR);
            return 0;
        }
    }
    char *py[] = {(char *)p->python, "-c", "import torch; print('TORCH', torch.__version__)", NULL};
    char line[256];
    if (bench_spawn(py, out, sizeof out) != 0 || !bench_find_line(out, "TORCH ", line, sizeof line)) {
        fprintf(f, "note: torch is not importable by %s (%s); PyTorch columns skipped\n", p->python, last_line(out, line, sizeof line));
        return 0;
    }
    snprintf(p->version, sizeof p->version, "%.31s", line + 6);
    return 1;
}

int bench_peer_run(const bench_peer *p, const char *workload, const char *mode, double seconds, int threads,
                   int64_t batch, bench_result *r, FILE *err) {
    char secs[32], thr[16], bat[32];
    snprintf(secs, sizeof secs, "%g", seconds);
    snprintf(thr, sizeof thr, "%d", threads > 0 ? threads : 2);
    snprintf(bat, sizeof bat, "%lld", (long long)batch);
    char *argv[24];
    int a = 0;
    argv[a++] = "/usr/bin/env";
    argv[a++] = "-u";
    argv[a++] = "OPENBLAS_CORETYPE";
    if (p->config_a) argv[a++] = "LD_LIBRARY_PATH=" OPENBLAS_OMP_DIR;
    argv[a++] = (char *)p->python;
    argv[a++] = (char *)p->script;
    argv[a++] = "--workload";
    argv[a++] = (char *)workload;
    argv[a++] = "--mode";
    argv[a++] = (char *)mode;
    argv[a++] = "--min-time";
    argv[a++] = secs;
    argv[a++] = "--threads";
    argv[a++] = thr;
    if (batch > 0) { argv[a++] = "--batch"; argv[a++] = bat; }
    argv[a] = NULL;
    static char out[1 << 16];
    char line[4096];
    int rc = bench_spawn(argv, out, sizeof out);
    if (rc != 0 || !bench_find_line(out, "RESULT ", line, sizeof line)) {
        fprintf(err, "note: PyTorch %s %s failed (exit %d): %s\n", workload, mode, rc, last_line(out, line, sizeof line));
        return 0;
    }
    json_error_t je;
    json_t *j = json_loads(line + 7, 0, &je);
    if (!j || !json_is_object(j)) {
        fprintf(err, "note: PyTorch %s %s: unreadable result (%s)\n", workload, mode, je.text);
        json_decref(j);
        return 0;
    }
    memset(r, 0, sizeof *r);
    snprintf(r->workload, sizeof r->workload, "%s", workload);
    snprintf(r->model, sizeof r->model, "pytorch-%s", p->version);
    snprintf(r->mode, sizeof r->mode, "%s", mode);
    r->median = r->min = r->max = json_number_value(json_object_get(j, "value"));
    r->peak_rss_mb = json_number_value(json_object_get(j, "peak_rss_mb"));
    r->gflops = json_number_value(json_object_get(j, "approx_gflops"));
    r->batch = json_is_integer(json_object_get(j, "batch")) ? json_integer_value(json_object_get(j, "batch")) : 1;
    r->threads = (int)json_integer_value(json_object_get(j, "threads"));
    r->tokens = !strcmp(json_string_value(json_object_get(j, "unit")) ? json_string_value(json_object_get(j, "unit")) : "", "tokens/s");
    r->repeats = 1;
    const char *blas = json_string_value(json_object_get(j, "blas_lib"));
    if (p->config_a && (!blas || !strstr(blas, "openblas-openmp")))
        fprintf(err, "note: PyTorch %s %s loaded BLAS '%s', not the OpenMP OpenBLAS of config A\n", workload, mode, blas ? blas : "?");
    json_decref(j);
    return r->median > 0;
}
