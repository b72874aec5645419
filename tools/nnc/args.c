/* args.c -- flag parsing for the CLI: every value is validated (numbers fully
 * parsed, finite, within range) and every unknown flag is refused. */
#include "cli.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int cli_args_init(cli_args *a, int argc, char **argv) {
    a->argc = argc;
    a->argv = argv;
    a->bad = 0;
    a->used = calloc((size_t)argc + 1, 1);
    return a->used != NULL;
}

void cli_args_free(cli_args *a) { free(a->used); }

int cli_help_requested(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
    return 0;
}

/* Finds --name or --name=value; returns its index, with *val set. */
static int find(cli_args *a, const char *name, const char **val, int want_value) {
    size_t n = strlen(name);
    for (int i = 1; i < a->argc; i++) {
        const char *s = a->argv[i];
        if (a->used[i] || strncmp(s, "--", 2) || strncmp(s + 2, name, n)) continue;
        if (s[2 + n] == '=') { a->used[i] = 1; *val = s + 3 + n; return i; }
        if (s[2 + n] == 0) {
            a->used[i] = 1;
            if (!want_value) { *val = NULL; return i; }
            if (i + 1 >= a->argc) { fprintf(stderr, "nnc: flag --%s needs a value\n", name); a->bad = 1; return -1; }
            a->used[i + 1] = 1;
            *val = a->argv[i + 1];
            return i;
        }
    }
    return 0;
}

int cli_flag(cli_args *a, const char *name) {
    const char *v;
    return find(a, name, &v, 0) > 0;
}

const char *cli_str(cli_args *a, const char *name, const char *def) {
    const char *v;
    int i = find(a, name, &v, 1);
    if (i < 0) return def;
    if (i > 0 && !*v) { fprintf(stderr, "nnc: flag --%s has an empty value\n", name); a->bad = 1; return def; }
    return i > 0 ? v : def;
}

long long cli_int(cli_args *a, const char *name, long long def, long long min, long long max) {
    const char *v;
    int i = find(a, name, &v, 1);
    if (i <= 0) return def;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || errno) { fprintf(stderr, "nnc: --%s '%s' is not an integer\n", name, v); a->bad = 1; return def; }
    if (x < min || x > max) { fprintf(stderr, "nnc: --%s %lld is out of range [%lld, %lld]\n", name, x, min, max); a->bad = 1; return def; }
    return x;
}

double cli_num(cli_args *a, const char *name, double def, double min, double max) {
    const char *v;
    int i = find(a, name, &v, 1);
    if (i <= 0) return def;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (!*v || *end || errno || !isfinite(x)) { fprintf(stderr, "nnc: --%s '%s' is not a finite number\n", name, v); a->bad = 1; return def; }
    if (x < min || x > max) { fprintf(stderr, "nnc: --%s %g is out of range [%g, %g]\n", name, x, min, max); a->bad = 1; return def; }
    return x;
}

int cli_positionals(cli_args *a, const char **out, int max) {
    int n = 0;
    for (int i = 1; i < a->argc; i++) {
        if (a->used[i]) continue;
        if (!strncmp(a->argv[i], "--", 2) || (a->argv[i][0] == '-' && a->argv[i][1])) {
            fprintf(stderr, "nnc: unknown flag '%s' (see --help)\n", a->argv[i]);
            a->bad = 1;
            continue;
        }
        if (n < max) out[n] = a->argv[i];
        else { fprintf(stderr, "nnc: unexpected argument '%s'\n", a->argv[i]); a->bad = 1; }
        n++;
    }
    return n;
}

int cli_fail(const char *cmd, nnc_status s) {
    fprintf(stderr, "nnc %s: %s: %s\n", cmd, nnc_status_name(s), nnc_last_error());
    return s == NNC_ERR_ARG ? 2 : 1;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "nnc %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'nnc %s --help')\n", cmd);
    va_end(ap);
    return 2;
}

const char *cli_class_name(int num_classes, int c) {
    static const char *fmnist[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
    return num_classes == 10 && c >= 0 && c < 10 ? fmnist[c] : "";
}

int cli_parse_input(const char *s, int64_t *c, int64_t *h, int64_t *w) {
    long long a, b, d;
    char tail;
    if (!s || sscanf(s, "%lldx%lldx%lld%c", &a, &b, &d, &tail) != 3) return 0;
    if (a < 1 || b < 1 || d < 1 || a > 4096 || b > 16384 || d > 16384) return 0;
    *c = a;
    *h = b;
    *w = d;
    return 1;
}

int cli_is_cfg(const char *name) {
    size_t n = strlen(name);
    return strchr(name, '/') || (n > 4 && !strcmp(name + n - 4, ".cfg"));
}

nnc_status cli_fit_data(const nnc_model *m, nnc_dataset *ds) {
    if (ds->x.shape[1] == m->in_shape[0] && ds->x.shape[2] == m->in_shape[1] && ds->x.shape[3] == m->in_shape[2]) return NNC_OK;
    nnc_dataset fitted = {0};
    nnc_status s = nnc_dataset_adapt(ds, m->in_shape[0], m->in_shape[1], m->in_shape[2], &fitted);
    if (s) return s;
    nnc_dataset_free(ds);
    *ds = fitted;
    return NNC_OK;
}

nnc_status cli_load_model(const char *name, const char *weights, nnc_model **m) {
    nnc_model_opts mo = nnc_model_defaults();
    nnc_safetensors *f = NULL;
    nnc_status s = nnc_safetensors_open(weights, &f);
    if (s) return s;
    const char *in = nnc_safetensors_meta(f, "nnc.input"), *cl = nnc_safetensors_meta(f, "nnc.classes");
    int64_t c, h, w;
    if (in && cli_parse_input(in, &c, &h, &w) == 0) {
        /* the writer uses "C,H,W" */
        long long a, b, d;
        char tail;
        if (sscanf(in, "%lld,%lld,%lld%c", &a, &b, &d, &tail) == 3 && a > 0 && b > 0 && d > 0 && a <= 4096 && b <= 16384 && d <= 16384) {
            mo.in_channels = (int)a;
            mo.height = (int)b;
            mo.width = (int)d;
        }
    } else if (in) {
        mo.in_channels = (int)c;
        mo.height = (int)h;
        mo.width = (int)w;
    }
    if (cl) {
        long v = strtol(cl, NULL, 10);
        if (v > 0 && v < 1000000) mo.num_classes = (int)v;
    }
    nnc_safetensors_close(f);
    if (cli_is_cfg(name)) s = nnc_model_from_cfg(name, &mo, NULL, m);
    else s = nnc_model_build(name, &mo, m);
    if (!s) s = nnc_model_load(*m, weights);
    return s;
}
