/* test_safetensors.c -- the safetensors reader and writer: round trips of every
 * dtype (0-dim and empty tensors included), metadata, the exact bytes of a tiny
 * file, atomic replacement when a write fails, and a corpus of malformed files
 * that must each be refused with a precise message and without a crash (run
 * under ASan/UBSan by `make check`). Files live in a fresh directory in /tmp. */
#include "testlib.h"
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];

static const char *tp(const char *name) {
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static int write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = n ? fwrite(p, 1, n, f) : 0;
    return fclose(f) == 0 && w == n ? 0 : -1;
}

static unsigned char *read_bytes(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)len + 1);
    *n = fread(p, 1, (size_t)len, f);
    fclose(f);
    return p;
}

/* A file with header length hlen (the real length when hlen is ~0), header text, then ndata bytes of data. */
static void make_file(const char *path, uint64_t hlen, const char *header, size_t ndata) {
    size_t h = strlen(header);
    if (hlen == ~(uint64_t)0) hlen = h;
    unsigned char *buf = calloc(8 + h + ndata + 1, 1);
    for (int k = 0; k < 8; k++) buf[k] = (unsigned char)(hlen >> (8 * k));
    memcpy(buf + 8, header, h);
    for (size_t i = 0; i < ndata; i++) buf[8 + h + i] = (unsigned char)i;
    write_bytes(path, buf, 8 + h + ndata);
    free(buf);
}

/* Count of leftover temporaries in tmpdir. */
static int count_tmp_files(void) {
    DIR *d = opendir(tmpdir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

static void rm_rf_tmpdir(void) {
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    char p[600];
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        chmod(p, 0755);
        if (unlink(p) != 0) {
            DIR *sd = opendir(p);
            struct dirent *se;
            char q[1200];
            while (sd && (se = readdir(sd)))
                if (strcmp(se->d_name, ".") && strcmp(se->d_name, "..")) {
                    snprintf(q, sizeof q, "%s/%s", p, se->d_name);
                    unlink(q);
                }
            if (sd) closedir(sd);
            rmdir(p);
        }
    }
    if (d) closedir(d);
    rmdir(tmpdir);
}

static nnc_tensor mk(nnc_dtype dt, int ndim, const int64_t *shape, void *data) {
    nnc_tensor t = {0};
    t.dtype = dt;
    t.ndim = ndim;
    for (int i = 0; i < ndim; i++) t.shape[i] = shape[i];
    t.layout = NNC_LAYOUT_PLAIN;
    t.data = data;
    return t;
}

static int same_tensor(const nnc_tensor *a, const nnc_tensor *b) {
    if (!a || !b || a->dtype != b->dtype || a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    size_t n = nnc_tensor_bytes(a);
    return n == 0 || !memcmp(a->data, b->data, n);
}

/* Six tensors of every dtype, a 0-dim and an empty one; tools/gen_st_fixtures.py writes the same
 * values with the reference implementation into tests/st/hf_reference.safetensors. */
static float ref_f32[6] = {1.5f, -2.f, 3.25f, 0.f, 1e-30f, -7.f};
static int32_t ref_i32[4] = {-1, 2, INT32_MAX, INT32_MIN};
static int64_t ref_i64 = INT64_MIN + 5;
static uint8_t ref_u8[5] = {0, 1, 127, 128, 255};
static double ref_f64[4] = {3.141592653589793, -1e300, 0.5, 2.0};
static const char *const ref_names[6] = {"layer.f32", "layer.i32", "num_batches_tracked", "a_u8", "b_f64", "empty"};
static void ref_tensors(nnc_tensor *ts) {
    ts[0] = mk(NNC_F32, 2, (int64_t[]){2, 3}, ref_f32);
    ts[1] = mk(NNC_I32, 1, (int64_t[]){4}, ref_i32);
    ts[2] = mk(NNC_I64, 0, NULL, &ref_i64);
    ts[3] = mk(NNC_U8, 1, (int64_t[]){5}, ref_u8); /* 5 bytes: in name order, misaligns b_f64 */
    ts[4] = mk(NNC_F64, 2, (int64_t[]){2, 2}, ref_f64);
    ts[5] = mk(NNC_F32, 2, (int64_t[]){0, 3}, NULL); /* empty */
}

/* A small valid file with two f32 tensors, used as a template. */
static const char *const valid_header =
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
    "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";

typedef struct bad_case {
    const char *name;    /* file name and case label */
    uint64_t hlen;       /* ~0: the header's real length */
    const char *header;  /* NULL: raw bytes below */
    size_t ndata;
    const unsigned char *raw; size_t nraw;
    nnc_status want;
    const char *needle;  /* the message must contain it */
} bad_case;

static void check_refused(const char *label, const char *path, nnc_status want, const char *needle) {
    nnc_safetensors *f = (nnc_safetensors *)1;
    nnc_status s = nnc_safetensors_open(path, &f);
    const char *msg = nnc_last_error();
    if (getenv("NNC_TEST_VERBOSE")) printf("  %-22s %s\n", label, msg);
    T_CHECKF(s == want, "%s: got %s (%s), want %s", label, nnc_status_name(s), msg, nnc_status_name(want));
    T_CHECKF(f == NULL, "%s: *out not NULL on failure", label);
    T_CHECKF(strstr(msg, path) != NULL, "%s: message does not name the file: %s", label, msg);
    T_CHECKF(!needle || strstr(msg, needle), "%s: message lacks '%s': %s", label, needle, msg);
    if (s == NNC_OK) nnc_safetensors_close(f);
}

int main(void) {
    strcpy(tmpdir, "/tmp/nnc_st_XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }

    T_CASE("safetensors: round trip of every dtype, 0-dim and empty tensors") {
        nnc_tensor ts[6];
        ref_tensors(ts);
        T_OK(nnc_safetensors_write(tp("rt.safetensors"), 6, ref_names, ts, 0, NULL, NULL));
        nnc_safetensors *f = NULL;
        T_OK(nnc_safetensors_open(tp("rt.safetensors"), &f));
        if (f) {
            T_CHECK(nnc_safetensors_count(f) == 6);
            const char *sorted[6] = {"a_u8", "b_f64", "empty", "layer.f32", "layer.i32", "num_batches_tracked"};
            for (int i = 0; i < 6; i++)
                T_CHECKF(nnc_safetensors_name(f, i) && !strcmp(nnc_safetensors_name(f, i), sorted[i]),
                         "name %d: %s", i, nnc_safetensors_name(f, i));
            T_CHECK(nnc_safetensors_name(f, 6) == NULL && nnc_safetensors_name(f, -1) == NULL);
            for (int i = 0; i < 6; i++) {
                const nnc_tensor *t = nnc_safetensors_get(f, ref_names[i]);
                T_CHECKF(same_tensor(t, &ts[i]), "tensor '%s' differs after the round trip", ref_names[i]);
                if (t && nnc_tensor_bytes(t))
                    T_CHECKF((uintptr_t)t->data % nnc_dtype_size(t->dtype) == 0, "'%s' data misaligned", ref_names[i]);
            }
            const nnc_tensor *s = nnc_safetensors_get(f, "num_batches_tracked");
            T_CHECK(s && s->ndim == 0 && nnc_tensor_numel(s) == 1 && *(int64_t *)s->data == INT64_MIN + 5);
            T_CHECK(nnc_safetensors_get(f, "missing") == NULL);
            T_CHECK(nnc_safetensors_meta(f, "format") == NULL && nnc_safetensors_meta_count(f) == 0);
            nnc_safetensors_close(f);
        }
        T_CHECK(count_tmp_files() == 0);
    }

    T_CASE("safetensors: reads a file written by the reference implementation") {
        nnc_tensor ts[6];
        ref_tensors(ts);
        nnc_safetensors *f = NULL;
        T_OK(nnc_safetensors_open(t_path("st/hf_reference.safetensors"), &f));
        if (f) {
            T_CHECK(nnc_safetensors_count(f) == 6);
            for (int i = 0; i < 6; i++)
                T_CHECKF(same_tensor(nnc_safetensors_get(f, ref_names[i]), &ts[i]), "tensor '%s' differs",
                         ref_names[i]);
            const char *v = nnc_safetensors_meta(f, "format");
            T_CHECK(v && !strcmp(v, "pt") && nnc_safetensors_meta_count(f) == 2);
            nnc_safetensors_close(f);
        }
    }

    T_CASE("safetensors: metadata round trip with escapes and UTF-8") {
        float x = 1.f;
        nnc_tensor t = mk(NNC_F32, 1, (int64_t[]){1}, &x);
        const char *names[1] = {"x"};
        const char *mk_[4] = {"zeta", "format", "quote\"back\\slash", "caf\xc3\xa9"};
        const char *mv[4] = {"last", "pt", "line1\nline2\ttab\x01", "\xe2\x82\xac 5"};
        T_OK(nnc_safetensors_write(tp("meta.safetensors"), 1, names, &t, 4, mk_, mv));
        nnc_safetensors *f = NULL;
        T_OK(nnc_safetensors_open(tp("meta.safetensors"), &f));
        if (f) {
            T_CHECK(nnc_safetensors_meta_count(f) == 4);
            for (int i = 0; i < 4; i++) {
                const char *v = nnc_safetensors_meta(f, mk_[i]);
                T_CHECKF(v && !strcmp(v, mv[i]), "metadata '%s' = '%s'", mk_[i], v ? v : "(null)");
            }
            const char *sorted[4] = {"caf\xc3\xa9", "format", "quote\"back\\slash", "zeta"}; /* bytewise */
            for (int i = 0; i < 4; i++)
                T_CHECKF(nnc_safetensors_meta_key(f, i) && !strcmp(nnc_safetensors_meta_key(f, i), sorted[i]),
                         "metadata key %d: %s", i, nnc_safetensors_meta_key(f, i));
            T_CHECK(nnc_safetensors_meta_key(f, 4) == NULL);
            T_CHECK(nnc_safetensors_meta(f, "nope") == NULL);
            nnc_safetensors_close(f);
        }
    }

    T_CASE("safetensors: exact bytes of a tiny file") {
        float b[2] = {1.f, 2.f};
        uint8_t a = 7;
        nnc_tensor ts[2] = {mk(NNC_F32, 1, (int64_t[]){2}, b), mk(NNC_U8, 0, NULL, &a)};
        const char *names[2] = {"b", "a"};
        const char *mk_[1] = {"k"}, *mv[1] = {"v"};
        T_OK(nnc_safetensors_write(tp("tiny.safetensors"), 2, names, ts, 1, mk_, mv));
        static const unsigned char want[] =
            "\x88\0\0\0\0\0\0\0"
            "{\"__metadata__\":{\"k\":\"v\"},"
            "\"a\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]},"
            "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[1,9]}}"
            "      "                      /* 130 bytes of JSON padded to 136 = 0x88 */
            "\x07"
            "\x00\x00\x80\x3f\x00\x00\x00\x40";
        size_t n = 0;
        unsigned char *got = read_bytes(tp("tiny.safetensors"), &n);
        T_CHECKF(n == sizeof want - 1, "file is %zu bytes, want %zu", n, sizeof want - 1);
        if (got && n == sizeof want - 1) {
            size_t i = 0;
            while (i < n && got[i] == want[i]) i++;
            T_CHECKF(i == n, "first difference at byte %zu: got 0x%02x want 0x%02x", i, got[i], want[i]);
        }
        free(got);
        /* No tensors, no metadata: "{}" and six spaces. */
        T_OK(nnc_safetensors_write(tp("none.safetensors"), 0, NULL, NULL, 0, NULL, NULL));
        got = read_bytes(tp("none.safetensors"), &n);
        T_CHECK(got && n == 16 && !memcmp(got, "\x08\0\0\0\0\0\0\0{}      ", 16));
        free(got);
        nnc_safetensors *f = NULL;
        T_OK(nnc_safetensors_open(tp("none.safetensors"), &f));
        T_CHECK(f && nnc_safetensors_count(f) == 0);
        nnc_safetensors_close(f);
    }

    T_CASE("safetensors: the writer refuses bad arguments and creates nothing") {
        float x[2] = {1, 2};
        nnc_tensor t = mk(NNC_F32, 1, (int64_t[]){2}, x);
        nnc_tensor ts[2] = {t, t};
        const char *dup[2] = {"w", "w"};
        nnc_status s = nnc_safetensors_write(tp("arg.safetensors"), 2, dup, ts, 0, NULL, NULL);
        T_CHECKF(s == NNC_ERR_ARG && strstr(nnc_last_error(), "'w'"), "duplicate: %s", nnc_last_error());
        const char *meta[1] = {"__metadata__"};
        T_CHECK(nnc_safetensors_write(tp("arg.safetensors"), 1, meta, ts, 0, NULL, NULL) == NNC_ERR_ARG);
        nnc_tensor neg = mk(NNC_F32, 1, (int64_t[]){-2}, x);
        T_CHECK(nnc_safetensors_write(tp("arg.safetensors"), 1, dup, &neg, 0, NULL, NULL) == NNC_ERR_ARG);
        nnc_tensor nodata = mk(NNC_F32, 1, (int64_t[]){2}, NULL);
        T_CHECK(nnc_safetensors_write(tp("arg.safetensors"), 1, dup, &nodata, 0, NULL, NULL) == NNC_ERR_ARG);
        nnc_tensor blocked = t;
        blocked.layout = NNC_LAYOUT_BLOCKED16;
        T_CHECK(nnc_safetensors_write(tp("arg.safetensors"), 1, dup, &blocked, 0, NULL, NULL) == NNC_ERR_ARG);
        const char *badutf[1] = {"\xff"};
        T_CHECK(nnc_safetensors_write(tp("arg.safetensors"), 1, badutf, ts, 0, NULL, NULL) == NNC_ERR_ARG);
        const char *k2[2] = {"k", "k"}, *v2[2] = {"1", "2"};
        T_CHECK(nnc_safetensors_write(tp("arg.safetensors"), 1, dup, ts, 2, k2, v2) == NNC_ERR_ARG);
        T_CHECK(nnc_safetensors_write(NULL, 1, dup, ts, 0, NULL, NULL) == NNC_ERR_ARG);
        T_CHECK(access(tp("arg.safetensors"), F_OK) != 0);
        T_CHECK(count_tmp_files() == 0);
    }

    T_CASE("safetensors: atomic write, the old file survives a failed write") {
        float v1[4] = {1, 2, 3, 4}, v2[4] = {5, 6, 7, 8};
        static float big[1 << 16];
        const char *names[2] = {"w", "big"};
        nnc_tensor t1 = mk(NNC_F32, 1, (int64_t[]){4}, v1);
        char path[512];
        snprintf(path, sizeof path, "%s", tp("atomic.safetensors"));
        T_OK(nnc_safetensors_write(path, 1, names, &t1, 0, NULL, NULL));
        size_t n1 = 0, n2 = 0;
        unsigned char *before = read_bytes(path, &n1);

        /* A write that dies half way: the file-size limit makes write() fail with EFBIG. */
        nnc_tensor t2[2] = {mk(NNC_F32, 1, (int64_t[]){4}, v2), mk(NNC_F32, 1, (int64_t[]){1 << 16}, big)};
        struct rlimit old_lim, lim;
        getrlimit(RLIMIT_FSIZE, &old_lim);
        lim = old_lim;
        lim.rlim_cur = 4096;
        void (*old_sig)(int) = signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &lim);
        nnc_status s = nnc_safetensors_write(path, 2, names, t2, 0, NULL, NULL);
        setrlimit(RLIMIT_FSIZE, &old_lim);
        signal(SIGXFSZ, old_sig);
        T_CHECKF(s == NNC_ERR_IO, "write past the size limit: %s %s", nnc_status_name(s), nnc_last_error());
        T_CHECKF(strstr(nnc_last_error(), "big") != NULL, "message should name the tensor: %s", nnc_last_error());
        unsigned char *after = read_bytes(path, &n2);
        T_CHECK(before && after && n1 == n2 && !memcmp(before, after, n1));
        free(after);
        T_CHECK(count_tmp_files() == 0);

        /* A path in a directory that does not exist. */
        s = nnc_safetensors_write(tp("no/such/dir/x.safetensors"), 1, names, &t1, 0, NULL, NULL);
        T_CHECKF(s == NNC_ERR_IO && strstr(nnc_last_error(), "no/such/dir"), "missing dir: %s", nnc_last_error());

        /* The target is a directory: everything is written, then rename fails. */
        mkdir(tp("adir"), 0755);
        s = nnc_safetensors_write(tp("adir"), 1, names, &t1, 0, NULL, NULL);
        T_CHECKF(s == NNC_ERR_IO && strstr(nnc_last_error(), "rename"), "rename over a dir: %s", nnc_last_error());
        struct stat st;
        T_CHECK(stat(tp("adir"), &st) == 0 && S_ISDIR(st.st_mode));
        T_CHECK(count_tmp_files() == 0);

        /* A read-only directory (meaningless for root, who may write anyway). */
        mkdir(tp("ro"), 0755);
        char ro_path[512];
        snprintf(ro_path, sizeof ro_path, "%s", tp("ro/w.safetensors"));
        T_OK(nnc_safetensors_write(ro_path, 1, names, &t1, 0, NULL, NULL));
        chmod(tp("ro"), 0555);
        if (access(tp("ro"), W_OK) != 0) {
            s = nnc_safetensors_write(ro_path, 1, names, t2, 0, NULL, NULL);
            T_CHECKF(s == NNC_ERR_IO, "read-only dir: %s", nnc_last_error());
            after = read_bytes(ro_path, &n2);
            T_CHECK(after && n1 == n2 && !memcmp(before, after, n1));
            free(after);
        }
        chmod(tp("ro"), 0755);

        /* And a successful write replaces the file. */
        T_OK(nnc_safetensors_write(path, 1, names, t2, 0, NULL, NULL));
        nnc_safetensors *f = NULL;
        T_OK(nnc_safetensors_open(path, &f));
        const nnc_tensor *w = f ? nnc_safetensors_get(f, "w") : NULL;
        T_CHECK(w && ((float *)w->data)[3] == 8.f);
        nnc_safetensors_close(f);
        T_CHECK(count_tmp_files() == 0);
        free(before);
    }

    T_CASE("safetensors: malformed files are refused with a precise message") {
        static const unsigned char seven[7] = {1, 0, 0, 0, 0, 0, 0};
        static const unsigned char huge_len[16] = {0, 0, 0, 0, 0, 0, 0, 0x80, '{', '}'};
        const bad_case cases[] = {
            {"empty", 0, NULL, 0, (const unsigned char *)"", 0, NNC_ERR_FORMAT, "too short"},
            {"seven_bytes", 0, NULL, 0, seven, 7, NNC_ERR_FORMAT, "7 bytes"},
            {"hlen_past_end", 4096, "{}", 0, NULL, 0, NNC_ERR_FORMAT, "header length 4096"},
            {"hlen_2_63", 0, NULL, 0, huge_len, 16, NNC_ERR_FORMAT, "9223372036854775808"},
            {"not_json", ~0ull, "{\"a\": nope}", 0, NULL, 0, NNC_ERR_FORMAT, "not valid JSON"},
            {"json_array", ~0ull, "[1, 2]", 0, NULL, 0, NNC_ERR_FORMAT, "array"},
            {"json_trailing", ~0ull, "{} x", 0, NULL, 0, NNC_ERR_FORMAT, "not valid JSON"},
            {"duplicate_key", ~0ull,
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
             "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, NULL, 0, NNC_ERR_FORMAT, "a"},
            {"unknown_dtype", ~0ull, "{\"w\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, NULL, 0,
             NNC_ERR_FORMAT, "'w' has unknown dtype \"F33\""},
            {"dtype_not_string", ~0ull, "{\"w\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, NULL, 0,
             NNC_ERR_FORMAT, "'w'"},
            {"shape_negative", ~0ull, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,4]}}", 4, NULL,
             0, NNC_ERR_FORMAT, "'w': shape[1] is -1"},
            {"shape_float", ~0ull, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4, NULL, 0,
             NNC_ERR_FORMAT, "'w': shape[0]"},
            {"shape_not_array", ~0ull, "{\"w\":{\"dtype\":\"F32\",\"shape\":3,\"data_offsets\":[0,12]}}", 12, NULL,
             0, NNC_ERR_FORMAT, "'w': shape is not an array"},
            {"shape_overflow", ~0ull,
             "{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,4]}}", 4, NULL, 0,
             NNC_ERR_FORMAT, "overflow"},
            {"offsets_one", ~0ull, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}", 4, NULL, 0,
             NNC_ERR_FORMAT, "'w': data_offsets"},
            {"offsets_three", ~0ull, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8, NULL,
             0, NNC_ERR_FORMAT, "'w': data_offsets"},
            {"offsets_negative", ~0ull, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, NULL,
             0, NNC_ERR_FORMAT, "'w': data_offsets"},
            {"offsets_reversed", ~0ull, "{\"w\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4, NULL, 0,
             NNC_ERR_FORMAT, "end before they begin"},
            {"offsets_size_mismatch", ~0ull, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 20,
             NULL, 0, NNC_ERR_FORMAT, "shape [2, 3] of F32 needs 24"},
            {"missing_field", ~0ull, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, NULL, 0, NNC_ERR_FORMAT,
             "'w' lacks \"data_offsets\""},
            {"extra_field", ~0ull,
             "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"scale\":2}}", 4, NULL, 0,
             NNC_ERR_FORMAT, "\"scale\""},
            {"entry_not_object", ~0ull, "{\"w\":[1,2]}", 0, NULL, 0, NNC_ERR_FORMAT, "'w' is not a JSON object"},
            {"overlap", ~0ull,
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
             "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, NULL, 0, NNC_ERR_FORMAT,
             "'b' (bytes 4..8) overlaps tensor 'a'"},
            {"gap", ~0ull,
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
             "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, NULL, 0, NNC_ERR_FORMAT,
             "gap of 4 bytes before tensor 'b'"},
            {"gap_at_start", ~0ull, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, NULL, 0,
             NNC_ERR_FORMAT, "gap of 4 bytes before tensor 'a'"},
            {"trailing_bytes", ~0ull, NULL, 13, NULL, 0, NNC_ERR_FORMAT, "1 trailing byte(s) after the last tensor"},
            {"truncated_data", ~0ull, NULL, 11, NULL, 0, NNC_ERR_FORMAT, "'b': data_offsets end at 12, beyond"},
            {"metadata_number", ~0ull, "{\"__metadata__\":{\"epoch\":3}}", 0, NULL, 0, NNC_ERR_FORMAT,
             "__metadata__ entry 'epoch' is not a string"},
            {"metadata_not_object", ~0ull, "{\"__metadata__\":\"pt\"}", 0, NULL, 0, NNC_ERR_FORMAT,
             "__metadata__ is not a JSON object"},
            {"not_utf8", ~0ull, "{\"w\xff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, NULL, 0,
             NNC_ERR_FORMAT, "UTF-8 (byte 3"},
            {"utf8_overlong", ~0ull, "{\"\xc0\xaf\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
             NULL, 0, NNC_ERR_FORMAT, "UTF-8"},
            {"utf8_surrogate", ~0ull, "{\"\xed\xa0\x80\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
             4, NULL, 0, NNC_ERR_FORMAT, "UTF-8"},
            {"header_with_nul", 12, NULL, 0, (const unsigned char *)"\x0c\0\0\0\0\0\0\0{\"a\0\":1}    ", 20,
             NNC_ERR_FORMAT, "JSON"},
            {"bf16_unsupported", ~0ull, "{\"w\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2, NULL,
             0, NNC_ERR_UNSUPPORTED, "BF16"},
            {"seven_dims", ~0ull,
             "{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1, NULL, 0,
             NNC_ERR_UNSUPPORTED, "7 dimensions"},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            const bad_case *c = &cases[i];
            const char *path = tp(c->name);
            if (c->raw) write_bytes(path, c->raw, c->nraw);
            else make_file(path, c->hlen, c->header ? c->header : valid_header, c->ndata);
            check_refused(c->name, path, c->want, c->needle);
        }
        check_refused("missing_file", tp("does_not_exist.safetensors"), NNC_ERR_IO, "No such file");
        check_refused("directory", tmpdir, NNC_ERR_IO, "not a regular file");

        /* Header length over 100 MB in a (sparse) file big enough to hold it: refused before allocating. */
        const char *path = tp("huge_header");
        uint64_t hlen = 100000001;
        unsigned char len8[8];
        for (int k = 0; k < 8; k++) len8[k] = (unsigned char)(hlen >> (8 * k));
        write_bytes(path, len8, 8);
        if (truncate(path, (off_t)(8 + hlen + 8)) == 0) check_refused("huge_header", path, NNC_ERR_FORMAT, "limit");
        unlink(path);

        /* The template itself is valid; so is padding, a zero-size tensor anywhere, and metadata-only files. */
        nnc_safetensors *f = NULL;
        make_file(tp("valid"), ~0ull, valid_header, 12);
        T_OK(nnc_safetensors_open(tp("valid"), &f));
        nnc_safetensors_close(f);
        make_file(tp("valid_zero"), ~0ull,
                  "{\"z\":{\"dtype\":\"F64\",\"shape\":[3,0],\"data_offsets\":[4,4]},"
                  "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                  "\"y\":{\"dtype\":\"I64\",\"shape\":[0],\"data_offsets\":[4,4]},"
                  "\"e\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}   ", 4);
        T_OK(nnc_safetensors_open(tp("valid_zero"), &f));
        T_CHECK(f && nnc_safetensors_count(f) == 4 && nnc_tensor_numel(nnc_safetensors_get(f, "z")) == 0);
        nnc_safetensors_close(f);
        make_file(tp("valid_meta"), ~0ull, "{\"__metadata__\":{}}", 0);
        T_OK(nnc_safetensors_open(tp("valid_meta"), &f));
        nnc_safetensors_close(f);
    }

    T_CASE("safetensors: every truncation and byte corruption of a valid file is handled") {
        float x[3] = {1, 2, 3};
        int64_t c = 9;
        nnc_tensor ts[2] = {mk(NNC_F32, 1, (int64_t[]){3}, x), mk(NNC_I64, 0, NULL, &c)};
        const char *names[2] = {"fc.weight", "bn.num_batches_tracked"};
        const char *mk_[1] = {"format"}, *mv[1] = {"pt"};
        T_OK(nnc_safetensors_write(tp("fuzz_src"), 2, names, ts, 1, mk_, mv));
        size_t n = 0;
        unsigned char *img = read_bytes(tp("fuzz_src"), &n);
        int refused = 0;
        for (size_t len = 0; img && len < n; len++) {
            write_bytes(tp("fuzz"), img, len);
            nnc_safetensors *f = NULL;
            nnc_status s = nnc_safetensors_open(tp("fuzz"), &f);
            if (s == NNC_ERR_FORMAT && f == NULL) refused++;
            nnc_safetensors_close(f);
        }
        T_CHECKF(img && refused == (int)n, "%d of %zu truncations refused", refused, n);
        /* Flip every byte of the length and header to a few values: must never crash or leak. */
        static const unsigned char vals[] = {0, '"', '[', ']', '{', '}', ',', '-', '9', 0xff, 0x80, ' '};
        size_t hend = img && n >= 8 ? 8 + (size_t)img[0] + ((size_t)img[1] << 8) : 0;
        for (size_t i = 0; i < hend && i < n; i++)
            for (size_t v = 0; v < sizeof vals; v++) {
                unsigned char save = img[i];
                img[i] = vals[v];
                write_bytes(tp("fuzz"), img, n);
                img[i] = save;
                nnc_safetensors *f = NULL;
                nnc_status s = nnc_safetensors_open(tp("fuzz"), &f);
                T_CHECK((s == NNC_OK) == (f != NULL));
                if (f) {
                    for (int k = 0; k < nnc_safetensors_count(f); k++) {
                        const nnc_tensor *t = nnc_safetensors_get(f, nnc_safetensors_name(f, k));
                        volatile unsigned char sum = 0;
                        for (size_t b = 0; t && b < nnc_tensor_bytes(t); b++) sum ^= ((unsigned char *)t->data)[b];
                    }
                }
                nnc_safetensors_close(f);
            }
        free(img);
    }

    if (getenv("NNC_TEST_KEEP")) printf("  files kept in %s\n", tmpdir);
    else rm_rf_tmpdir();
    return t_finish();
}
