/* test_bad_inputs.c -- every malformed input of docs/BAD_INPUTS.md is refused
 * with the documented status and a message that names the file or argument
 * and says what was wrong. Files live in tests/bad/<format>/ (written by
 * tests/bad/make_bad.py); C API misuse is built here. Each row of the table
 * is one case below, with the same short name. */
#include "testlib.h"
#include <stdlib.h>
#include <string.h>

/* One bad file: the loader's status and a phrase its message must hold
 * (besides the file's own path). */
typedef struct bad_file {
    const char *file; /* under tests/bad/ */
    nnc_status want;
    const char *detail;
} bad_file;

static const bad_file st_cases[] = {
    {"safetensors/short.safetensors", NNC_ERR_FORMAT, "too short for the 8-byte header length"},
    {"safetensors/hlen_past_end.safetensors", NNC_ERR_FORMAT, "header length 1099511627776 exceeds"},
    {"safetensors/not_json.safetensors", NNC_ERR_FORMAT, "not valid JSON"},
    {"safetensors/json_array.safetensors", NNC_ERR_FORMAT, "JSON array, expected an object"},
    {"safetensors/bad_utf8.safetensors", NNC_ERR_FORMAT, "not valid UTF-8 (byte 3"},
    {"safetensors/duplicate_name.safetensors", NNC_ERR_FORMAT, "duplicate object key"},
    {"safetensors/unknown_dtype.safetensors", NNC_ERR_FORMAT, "unknown dtype \"Q7\""},
    {"safetensors/bf16.safetensors", NNC_ERR_UNSUPPORTED, "dtype BF16"},
    {"safetensors/negative_dim.safetensors", NNC_ERR_FORMAT, "shape[0] is -1"},
    {"safetensors/shape_overflow.safetensors", NNC_ERR_FORMAT, "overflows 64 bits"},
    {"safetensors/span_mismatch.safetensors", NNC_ERR_FORMAT, "span 8 bytes, its shape [1] of F32 needs 4"},
    {"safetensors/offsets_reversed.safetensors", NNC_ERR_FORMAT, "end before they begin"},
    {"safetensors/past_data.safetensors", NNC_ERR_FORMAT, "beyond the 8 bytes of data"},
    {"safetensors/overlap.safetensors", NNC_ERR_FORMAT, "overlaps tensor 'a'"},
    {"safetensors/gap.safetensors", NNC_ERR_FORMAT, "gap of 4 bytes before tensor 'b'"},
    {"safetensors/trailing.safetensors", NNC_ERR_FORMAT, "8 trailing byte(s)"},
    {"safetensors/missing_offsets.safetensors", NNC_ERR_FORMAT, "lacks \"data_offsets\""},
    {"safetensors/extra_field.safetensors", NNC_ERR_FORMAT, "unknown field \"offset\""},
    {"safetensors/meta_not_string.safetensors", NNC_ERR_FORMAT, "entry 'epoch' is not a string"},
    {"safetensors/too_many_dims.safetensors", NNC_ERR_UNSUPPORTED, "7 dimensions, nnc supports at most 6"},
    {"safetensors/entry_not_object.safetensors", NNC_ERR_FORMAT, "tensor 'w' is not a JSON object"},
    {"safetensors/float_offsets.safetensors", NNC_ERR_FORMAT, "data_offsets are not non-negative integers"},
};

static const bad_file idx_cases[] = {
    {"idx/bad_magic.idx", NNC_ERR_FORMAT, "bad magic 0x01020801"},
    {"idx/type_f32.idx", NNC_ERR_FORMAT, "type byte 0x0d (f32) is not supported"},
    {"idx/ndim0.idx", NNC_ERR_FORMAT, "ndim 0 (expected 1..4)"},
    {"idx/ndim5.idx", NNC_ERR_FORMAT, "ndim 5 (expected 1..4)"},
    {"idx/zero_dim.idx", NNC_ERR_FORMAT, "dimension 1 is 0"},
    {"idx/short_magic.idx", NNC_ERR_FORMAT, "expected a 4-byte magic, found 2 bytes"},
    {"idx/short_dims.idx", NNC_ERR_FORMAT, "expected 3 dimensions (12 bytes)"},
    {"idx/truncated_data.idx", NNC_ERR_FORMAT, "expected 16 bytes after the 12-byte header, found 13"},
    {"idx/trailing.idx", NNC_ERR_FORMAT, "5 trailing bytes"},
    {"idx/too_many_elems.idx", NNC_ERR_FORMAT, "more than 2^31 elements"},
    {"idx/gz_truncated.idx.gz", NNC_ERR_FORMAT, "unexpected end of file"},
    {"idx/gz_corrupt.idx.gz", NNC_ERR_FORMAT, "corrupt gzip stream"},
    {"idx/gz_trailing.idx.gz", NNC_ERR_FORMAT, "trailing bytes"},
};

static const bad_file image_cases[] = {
    {"image/empty.pgm", NNC_ERR_FORMAT, "not a PNG or PGM/PPM file (0 bytes"},
    {"image/p1.pbm", NNC_ERR_UNSUPPORTED, "Netpbm P1 is not supported"},
    {"image/jpeg.jpg", NNC_ERR_UNSUPPORTED, "JPEG is not supported"},
    {"image/not_image.txt", NNC_ERR_FORMAT, "not a PNG or PGM/PPM file"},
    {"image/zero_width.pgm", NNC_ERR_FORMAT, "width at byte 3 is 0, outside 1..65536"},
    {"image/huge_width.pgm", NNC_ERR_FORMAT, "width at byte 3 is at least 70000"},
    {"image/maxval0.pgm", NNC_ERR_FORMAT, "maxval at byte 7 is 0"},
    {"image/maxval_big.pgm", NNC_ERR_FORMAT, "maxval at byte 7 is at least 70000"},
    {"image/truncated.pgm", NNC_ERR_FORMAT, "needs 16 bytes, found 10"},
    {"image/truncated16.pgm", NNC_ERR_FORMAT, "2 byte(s) per sample needs 8 bytes, found 6"},
    {"image/sample_over_maxval.pgm", NNC_ERR_FORMAT, "sample 1 at byte 14 is at least 300, outside 0..100"},
    {"image/ascii_garbage.pgm", NNC_ERR_FORMAT, "expected sample 1 (a decimal number) at byte 14"},
    {"image/no_space_after_magic.pgm", NNC_ERR_FORMAT, "expected whitespace after the magic P5"},
    {"image/no_height.ppm", NNC_ERR_FORMAT, "expected height at byte 20, found end of file"},
    {"image/png_bad_crc.png", NNC_ERR_FORMAT, "CRC error"},
    {"image/png_truncated.png", NNC_ERR_FORMAT, "truncated: needs 11 more bytes at offset 41"},
    {"image/png_huge_dims.png", NNC_ERR_FORMAT, "100000x1 exceeds the 65536 limit"},
    {"image/png_bomb.png", NNC_ERR_FORMAT, "60000x60000 cannot be held in a 69-byte file"},
    {"image/png_bad_depth.png", NNC_ERR_FORMAT, "Invalid IHDR data"},
    {"image/png_short_idat.png", NNC_ERR_FORMAT, "Not enough image data"},
    {"image/png_sig_only.png", NNC_ERR_FORMAT, "truncated"},
};

/* NNC_BAD_SHOW=1 prints every message (how docs/BAD_INPUTS.md was filled in). */
static const char *shown(void) {
    const char *m = nnc_last_error();
    if (getenv("NNC_BAD_SHOW")) printf("MSG: %s\n", m);
    return m;
}

static const bad_file cfg_cases[] = {
    {"cfg/steps_huge.cfg", NNC_ERR_FORMAT, ":6: steps value 3 ('801e90') is not a batch number"},
    {"cfg/steps_fraction.cfg", NNC_ERR_FORMAT, ":6: steps value 2 ('150.5') is not a batch number"},
    {"cfg/scales_negative.cfg", NNC_ERR_FORMAT, ":7: scales value 1 ('-2') is out of range"},
};

/* The message must hold the file's path and the detail. */
static void check_msg(nnc_status got, nnc_status want, const char *path, const char *detail) {
    const char *m = shown();
    T_CHECKF(got == want, "%s: status %s, expected %s (%s)", path, nnc_status_name(got), nnc_status_name(want), m);
    T_CHECKF(strstr(m, path) != NULL, "%s: message does not name the file: %s", path, m);
    T_CHECKF(strstr(m, detail) != NULL, "%s: message lacks '%s': %s", path, detail, m);
}

/* The message must name the argument (or say what was wrong). */
static void check_arg(nnc_status got, nnc_status want, const char *what) {
    const char *m = shown();
    T_CHECKF(got == want, "status %s, expected %s (%s)", nnc_status_name(got), nnc_status_name(want), m);
    T_CHECKF(strstr(m, what) != NULL, "message lacks '%s': %s", what, m);
}

static void run_files(const char *label, const bad_file *c, int n, int kind) {
    for (int i = 0; i < n; i++) {
        char name[160];
        snprintf(name, sizeof name, "%s: %s refused", label, strchr(c[i].file, '/') + 1);
        T_CASE(name) {
            char path[4096];
            snprintf(path, sizeof path, "%s", t_path("bad/"));
            strncat(path, c[i].file, sizeof path - strlen(path) - 1);
            nnc_status s;
            if (kind == 0) {
                nnc_safetensors *f = (nnc_safetensors *)&s; /* must be reset to NULL on failure */
                s = nnc_safetensors_open(path, &f);
                T_CHECK(f == NULL);
                if (!s) nnc_safetensors_close(f);
            } else if (kind == 3) {
                nnc_model *m = (nnc_model *)&s; /* must be reset to NULL on failure */
                s = nnc_model_from_cfg(path, NULL, NULL, &m);
                T_CHECK(m == NULL);
                if (!s) nnc_model_free(m);
            } else {
                nnc_tensor t;
                s = kind == 1 ? nnc_idx_read(path, &t) : nnc_image_read(path, &t);
                T_CHECK(t.data == NULL);
                if (!s) nnc_tensor_free(&t);
            }
            check_msg(s, c[i].want, path, c[i].detail);
        }
    }
}

/* Image/label pairs whose files are fine alone but do not fit together. */
static void dataset_cases(void) {
    char img[4096], lab[4096];
    snprintf(img, sizeof img, "%s", t_path("bad/idx/images3.idx3"));
    static const struct { const char *labels, *name, *detail; int classes; } c[] = {
        {"labels3_big.idx1", "idx dataset: label 12 with 10 classes", "label 12 at index 2 is out of range (expected < 10)", 10},
        {"labels2.idx1", "idx dataset: 2 labels for 3 images", "2 labels, but", 10},
        {"labels_2d.idx", "idx dataset: labels with 2 dimensions", "labels must have 1 dimension", 10},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        T_CASE(c[i].name) {
            char rel[128];
            snprintf(rel, sizeof rel, "bad/idx/%s", c[i].labels);
            snprintf(lab, sizeof lab, "%s", t_path(rel));
            nnc_dataset ds;
            nnc_status s = nnc_dataset_load_idx(&ds, img, lab, c[i].classes);
            check_msg(s, NNC_ERR_FORMAT, lab, c[i].detail);
            T_CHECK(ds.x.data == NULL && ds.y.data == NULL);
        }
    }
    T_CASE("idx dataset: n_classes 0 and 300 refused") {
        nnc_dataset ds;
        check_arg(nnc_dataset_load_idx(&ds, img, img, 0), NNC_ERR_ARG, "n_classes 0 outside 1..256");
        check_arg(nnc_dataset_load_idx(&ds, img, img, 300), NNC_ERR_ARG, "n_classes 300 outside 1..256");
    }
    T_CASE("idx dataset: images file with 1 dimension") {
        snprintf(lab, sizeof lab, "%s", t_path("bad/idx/labels2.idx1"));
        nnc_dataset ds;
        check_msg(nnc_dataset_load_idx(&ds, lab, lab, 10), NNC_ERR_FORMAT, lab, "images must have 3 dimensions [N,H,W], found 1");
    }
}

static void missing_file_cases(void) {
    T_CASE("missing files: IO error naming the path") {
        const char *p = "/nonexistent/dir/file.bin";
        nnc_safetensors *f;
        nnc_tensor t;
        check_msg(nnc_safetensors_open(p, &f), NNC_ERR_IO, p, "cannot open");
        check_msg(nnc_idx_read(p, &t), NNC_ERR_IO, p, "cannot open");
        check_msg(nnc_image_read(p, &t), NNC_ERR_IO, p, "cannot open");
    }
    T_CASE("a directory where a file is expected") {
        const char *p = t_path("bad");
        nnc_safetensors *f;
        nnc_tensor t;
        check_msg(nnc_safetensors_open(p, &f), NNC_ERR_IO, p, "not a regular file");
        check_msg(nnc_idx_read(p, &t), NNC_ERR_IO, p, "not a regular file");
        check_msg(nnc_image_read(p, &t), NNC_ERR_IO, p, "not a regular file");
    }
}

static void api_cases(void) {
    T_CASE("api: NULL pointers to the loaders") {
        nnc_tensor t;
        nnc_safetensors *f;
        nnc_dataset ds;
        nnc_model *m;
        check_arg(nnc_idx_read(NULL, &t), NNC_ERR_ARG, "nnc_idx_read: path or out is NULL");
        check_arg(nnc_image_read("x.pgm", NULL), NNC_ERR_ARG, "nnc_image_read: path or out is NULL");
        check_arg(nnc_safetensors_open("x", NULL), NNC_ERR_ARG, "nnc_safetensors_open: out is NULL");
        check_arg(nnc_safetensors_open(NULL, &f), NNC_ERR_ARG, "nnc_safetensors_open: path is NULL");
        check_arg(nnc_dataset_load_idx(&ds, NULL, "y", 10), NNC_ERR_ARG, "nnc_dataset_load_idx");
        check_arg(nnc_model_from_cfg(NULL, NULL, NULL, &m), NNC_ERR_ARG, "nnc_model_from_cfg");
        check_arg(nnc_model_from_cfg_mem(NULL, 5, "net.cfg", NULL, NULL, &m), NNC_ERR_ARG, "net.cfg: text is NULL");
    }
    T_CASE("api: tensor with a negative dimension") {
        nnc_tensor t;
        check_arg(nnc_tensor_alloc(&t, NNC_F32, 2, (int64_t[]){3, -2}), NNC_ERR_ARG, "dimension 1 is negative (-2)");
    }
    T_CASE("api: tensor whose shape product overflows int64") {
        nnc_tensor t;
        int64_t big = (int64_t)1 << 32;
        check_arg(nnc_tensor_alloc(&t, NNC_F32, 3, (int64_t[]){big, big, 4}), NNC_ERR_ARG, "overflows 64-bit size at dimension");
    }
    T_CASE("api: tensor with ndim 7 or a NULL shape") {
        nnc_tensor t;
        int64_t sh[7] = {1, 1, 1, 1, 1, 1, 1};
        check_arg(nnc_tensor_alloc(&t, NNC_F32, 7, sh), NNC_ERR_ARG, "ndim 7 outside 0..6");
        check_arg(nnc_tensor_alloc(&t, NNC_F32, 2, NULL), NNC_ERR_ARG, "shape is NULL");
        check_arg(nnc_tensor_alloc(NULL, NNC_F32, 1, sh), NNC_ERR_ARG, "tensor is NULL");
    }
    T_CASE("api: unknown zoo model, bad model options") {
        nnc_model *m = NULL;
        check_arg(nnc_model_build("lenet7", NULL, &m), NNC_ERR_ARG, "lenet7");
        T_CHECK(m == NULL);
        nnc_model_opts o = nnc_model_defaults();
        o.num_classes = -3;
        nnc_status s = nnc_model_build("lenet5", &o, &m);
        T_CHECKF(s != NNC_OK && m == NULL, "negative classes accepted");
        T_CHECKF(strstr(shown(), "class") != NULL, "message lacks 'class': %s", nnc_last_error());
    }
    T_CASE("api: cfg text from memory names the given name") {
        nnc_model *m = NULL;
        const char *txt = "[net]\nwidth=28\nheight=28\nchannels=1\n[convolutional]\nfilters=-4\n";
        nnc_status s = nnc_model_from_cfg_mem(txt, strlen(txt), "mem.cfg", NULL, NULL, &m);
        check_arg(s, NNC_ERR_FORMAT, "mem.cfg:6:");
        T_CHECK(m == NULL);
    }
}

/* The graph's sticky error, shown like the others. */
static const char *gerr(const nnc_graph *g) {
    const char *m = nnc_graph_error(g);
    if (getenv("NNC_BAD_SHOW")) printf("MSG: %s\n", m);
    return m;
}

/* A graph [N,C,H,W] input; the builder's sticky error must name the problem. */
static void graph_cases(void) {
    T_CASE("api: input with a negative dimension") {
        nnc_graph *g = nnc_graph_new();
        nnc_input(g, "x", NNC_F32, 3, (int64_t[]){1, -28, 28});
        T_CHECK(nnc_graph_status(g) == NNC_ERR_ARG || nnc_graph_status(g) == NNC_ERR_SHAPE);
        T_CHECKF(strstr(gerr(g), "x") != NULL, "message lacks the input's name: %s", nnc_graph_error(g));
        nnc_graph_free(g);
    }
    T_CASE("api: input whose shape overflows int64") {
        nnc_graph *g = nnc_graph_new();
        int64_t big = (int64_t)1 << 31;
        nnc_input(g, "x", NNC_F32, 3, (int64_t[]){big, big, big});
        T_CHECKF(nnc_graph_status(g) != NNC_OK, "overflowing input accepted");
        T_CHECKF(strstr(gerr(g), "overflow") != NULL, "message lacks 'overflow': %s", nnc_graph_error(g));
        nnc_graph_free(g);
    }
    T_CASE("api: conv kernel larger than the padded input") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){3, 4, 4});
        nnc_node *w = nnc_param(g, "w", 4, (int64_t[]){8, 3, 7, 7}, (nnc_init){NNC_INIT_ZEROS, 0, 0});
        nnc_conv2d_opts o = {{1, 1}, {1, 1}, {1, 1}, 1};
        nnc_conv2d(g, x, w, NULL, &o);
        T_CHECK(nnc_graph_status(g) == NNC_ERR_SHAPE);
        T_CHECKF(strstr(gerr(g), "conv2d") != NULL, "message lacks the op: %s", nnc_graph_error(g));
        nnc_graph_free(g);
    }
    T_CASE("api: conv weight channels do not match the input") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){3, 8, 8});
        nnc_node *w = nnc_param(g, "w", 4, (int64_t[]){8, 2, 3, 3}, (nnc_init){NNC_INIT_ZEROS, 0, 0});
        nnc_conv2d(g, x, w, NULL, NULL);
        T_CHECK(nnc_graph_status(g) == NNC_ERR_SHAPE);
        T_CHECKF(strstr(gerr(g), "conv2d") != NULL, "message lacks the op: %s", nnc_graph_error(g));
        nnc_graph_free(g);
    }
    T_CASE("api: maxpool window larger than the padded input") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){1, 3, 3});
        nnc_pool2d_opts o = {{5, 5}, {1, 1}, {0, 0}, 0, 1};
        nnc_maxpool2d(g, x, &o);
        T_CHECK(nnc_graph_status(g) == NNC_ERR_SHAPE);
        T_CHECKF(strstr(gerr(g), "maxpool2d") != NULL, "message lacks the op: %s", nnc_graph_error(g));
        nnc_graph_free(g);
    }
    T_CASE("api: linear with mismatched features") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){10});
        nnc_node *w = nnc_param(g, "w", 2, (int64_t[]){4, 12}, (nnc_init){NNC_INIT_ZEROS, 0, 0});
        nnc_linear(g, x, w, NULL);
        T_CHECK(nnc_graph_status(g) == NNC_ERR_SHAPE);
        T_CHECKF(strstr(gerr(g), "linear") != NULL, "message lacks the op: %s", nnc_graph_error(g));
        nnc_graph_free(g);
    }
    T_CASE("api: builder given a NULL input") {
        nnc_graph *g = nnc_graph_new();
        nnc_relu(g, NULL);
        T_CHECKF(nnc_graph_status(g) != NNC_OK, "NULL input accepted");
        T_CHECKF(strstr(gerr(g), "relu") != NULL, "message lacks the op: %s", nnc_graph_error(g));
        nnc_graph_free(g);
    }
    T_CASE("api: compile with batch 0 or -1") {
        nnc_model *m = NULL;
        T_OK(nnc_model_build("mlp", NULL, &m));
        if (m) {
            check_arg(nnc_graph_compile(m->g, 0, 1), NNC_ERR_ARG, "batch");
            check_arg(nnc_graph_compile(m->g, -1, 0), NNC_ERR_ARG, "batch");
            nnc_model_free(m);
        }
    }
    T_CASE("api: forward before compile") {
        nnc_model *m = NULL;
        T_OK(nnc_model_build("mlp", NULL, &m));
        if (m) {
            nnc_status s = nnc_graph_forward(m->g);
            T_CHECKF(s == NNC_ERR_STATE, "forward before compile: %s", nnc_status_name(s));
            T_CHECKF(strstr(shown(), "compile") != NULL, "message lacks 'compile': %s", nnc_last_error());
            nnc_model_free(m);
        }
    }
    T_CASE("api: loader with batch 0, take past the end") {
        nnc_dataset ds = {0}, sub;
        T_OK(nnc_tensor_alloc(&ds.x, NNC_F32, 4, (int64_t[]){4, 1, 2, 2}));
        T_OK(nnc_tensor_alloc(&ds.y, NNC_I64, 1, (int64_t[]){4}));
        ds.n = 4;
        ds.n_classes = 2;
        nnc_loader *l = NULL;
        check_arg(nnc_loader_new(&ds, 0, 1, 0, &l), NNC_ERR_ARG, "batch");
        T_CHECK(l == NULL);
        check_arg(nnc_dataset_take(&ds, 2, 5, &sub), NNC_ERR_ARG, "samples [2, 7) outside the dataset's 4");
        check_arg(nnc_dataset_take(&ds, -1, 1, &sub), NNC_ERR_ARG, "-1");
        nnc_dataset_free(&ds);
    }
    static const struct { const char *file, *detail; } norm[] = {
        {"bad/weights/bad_norm_std.safetensors", "bad normalization metadata (mean '0.5', std '0-35')"},
        {"bad/weights/zero_norm_std.safetensors", "bad normalization metadata (mean '0.5', std '0')"},
    };
    for (int i = 0; i < 2; i++) {
        T_CASE(i ? "weights: normalization std 0" : "weights: normalization std '0-35'") {
            static const char cfg[] = "[net]\nwidth=4\nheight=4\nchannels=1\n[connected]\nname=fc\noutput=3\n";
            nnc_model *m = NULL;
            T_OK(nnc_model_from_cfg_mem(cfg, sizeof cfg - 1, "tiny.cfg", NULL, NULL, &m));
            char p[4096];
            snprintf(p, sizeof p, "%s", t_path(norm[i].file));
            if (m) {
                check_msg(nnc_model_load(m, p), NNC_ERR_FORMAT, p, norm[i].detail);
                T_CHECK(m->norm_mean == 0 && m->norm_std == 1); /* unchanged */
                nnc_model_free(m);
            }
        }
    }
    T_CASE("api: weights file of another model") {
        nnc_model *m = NULL;
        T_OK(nnc_model_build("lenet5", NULL, &m));
        char p[4096];
        snprintf(p, sizeof p, "%s", t_path("st/hf_reference.safetensors"));
        if (m) {
            nnc_status s = nnc_model_load(m, p);
            T_CHECKF(s == NNC_ERR_FORMAT, "status %s: %s", nnc_status_name(s), nnc_last_error());
            T_CHECKF(strstr(shown(), p) != NULL, "message does not name the file: %s", nnc_last_error());
            nnc_model_free(m);
        }
    }
}

int main(void) {
    run_files("safetensors", st_cases, (int)(sizeof st_cases / sizeof st_cases[0]), 0);
    run_files("idx", idx_cases, (int)(sizeof idx_cases / sizeof idx_cases[0]), 1);
    run_files("image", image_cases, (int)(sizeof image_cases / sizeof image_cases[0]), 2);
    run_files("cfg", cfg_cases, (int)(sizeof cfg_cases / sizeof cfg_cases[0]), 3);
    dataset_cases();
    missing_file_cases();
    api_cases();
    graph_cases();
    return t_finish();
}
