/* test_data.c -- the data layer: IDX reading (plain and gzip, and a gallery of
 * malformed files that must be refused with a message), datasets (the real
 * Fashion-MNIST with PyTorch's statistics, fixtures in a temp dir), the
 * shuffling loader (each sample once per epoch, reproducible orders, no
 * allocation), and PGM/PPM/PNG images written here and read back. */
#include "testlib.h"
#include <dirent.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static char tmpdir[256];

static const char *tpath(const char *name) {
    static char buf[8][512];
    static int k;
    char *b = buf[k++ & 7];
    snprintf(b, 512, "%s/%s", tmpdir, name);
    return b;
}

static void write_file(const char *name, const void *p, size_t n) {
    FILE *f = fopen(tpath(name), "wb");
    if (!f) { perror(name); exit(2); }
    if (n) fwrite(p, 1, n, f);
    fclose(f);
}

static void write_gz(const char *name, const void *p, size_t n) {
    gzFile g = gzopen(tpath(name), "wb");
    if (!g) { perror(name); exit(2); }
    if (n) gzwrite(g, p, (unsigned)n);
    gzclose(g);
}

/* Reads a whole temp file into buf (cap bytes), returns its size. */
static size_t slurp(const char *name, unsigned char *buf, size_t cap) {
    FILE *f = fopen(tpath(name), "rb");
    if (!f) return 0;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static void rm_tmpdir(void) {
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    if (!d) return;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            DIR *d2 = opendir(p); /* one level of sub-directories */
            struct dirent *e2;
            while (d2 && (e2 = readdir(d2))) {
                char q[800];
                snprintf(q, sizeof q, "%s/%s", p, e2->d_name);
                if (strcmp(e2->d_name, ".") && strcmp(e2->d_name, "..")) unlink(q);
            }
            if (d2) closedir(d2);
            rmdir(p);
        } else {
            unlink(p);
        }
    }
    closedir(d);
    rmdir(tmpdir);
}

/* An IDX file: magic bytes m[4], dims, then n_data bytes of data. */
static size_t make_idx(unsigned char *buf, const unsigned char m[4], int nd, const uint32_t *dims,
                       const unsigned char *data, size_t n_data) {
    size_t k = 0;
    memcpy(buf, m, 4);
    k = 4;
    for (int i = 0; i < nd; i++) {
        buf[k++] = (unsigned char)(dims[i] >> 24);
        buf[k++] = (unsigned char)(dims[i] >> 16);
        buf[k++] = (unsigned char)(dims[i] >> 8);
        buf[k++] = (unsigned char)dims[i];
    }
    if (n_data) memcpy(buf + k, data, n_data);
    return k + n_data;
}

/* Checks a refusal: the right status and a message containing want. */
static void expect_refused(const char *what, nnc_status s, nnc_status want, const char *want_msg) {
    const char *m = nnc_last_error();
    T_CHECKF(s == want, "%s: got status %s (want %s), message: %s", what, nnc_status_name(s), nnc_status_name(want), m);
    T_CHECKF(want_msg == NULL || strstr(m, want_msg), "%s: message '%s' lacks '%s'", what, m, want_msg);
}

static unsigned char pixels[3 * 4 * 5];

static void test_idx(void) {
    for (size_t i = 0; i < sizeof pixels; i++) pixels[i] = (unsigned char)(i * 37 + 11);
    unsigned char buf[4096];
    const unsigned char m3[4] = {0, 0, 8, 3};
    size_t n = make_idx(buf, m3, 3, (uint32_t[]){3, 4, 5}, pixels, sizeof pixels);
    write_file("img.idx", buf, n);
    write_gz("img.idx.gz", buf, n);

    T_CASE("idx: plain and gzip files read the same u8 tensor") {
        nnc_tensor a = {0}, b = {0};
        T_OK(nnc_idx_read(tpath("img.idx"), &a));
        T_OK(nnc_idx_read(tpath("img.idx.gz"), &b));
        T_CHECK(a.dtype == NNC_U8 && b.dtype == NNC_U8);
        T_CHECK(a.ndim == 3 && a.shape[0] == 3 && a.shape[1] == 4 && a.shape[2] == 5);
        T_CHECK(b.ndim == 3 && b.shape[0] == 3 && b.shape[1] == 4 && b.shape[2] == 5);
        T_CHECK(a.data && !memcmp(a.data, pixels, sizeof pixels));
        T_CHECK(b.data && !memcmp(b.data, pixels, sizeof pixels));
        nnc_tensor_free(&a);
        nnc_tensor_free(&b);
    }

    T_CASE("idx: 1-d and 4-d files") {
        const unsigned char m1[4] = {0, 0, 8, 1}, m4[4] = {0, 0, 8, 4};
        nnc_tensor t = {0};
        n = make_idx(buf, m1, 1, (uint32_t[]){7}, pixels, 7);
        write_file("one.idx", buf, n);
        T_OK(nnc_idx_read(tpath("one.idx"), &t));
        T_CHECK(t.ndim == 1 && t.shape[0] == 7 && !memcmp(t.data, pixels, 7));
        nnc_tensor_free(&t);
        n = make_idx(buf, m4, 4, (uint32_t[]){1, 3, 4, 5}, pixels, 60);
        write_gz("four.idx.gz", buf, n);
        T_OK(nnc_idx_read(tpath("four.idx.gz"), &t));
        T_CHECK(t.ndim == 4 && t.shape[0] == 1 && t.shape[3] == 5 && !memcmp(t.data, pixels, 60));
        nnc_tensor_free(&t);
    }

    /* The gallery of malformed files. */
    struct bad {
        const char *what, *file;
        int gz;
        unsigned char magic[4];
        int nd;
        uint32_t dims[4];
        size_t n_data;  /* bytes of data written after the header */
        size_t cut;     /* if > 0, keep only this many bytes of the whole file */
        const char *msg;
    } bads[] = {
        {"bad magic (first bytes not 0)", "bad_magic.idx", 0, {0x01, 0x02, 8, 3}, 3, {3, 4, 5}, 60, 0, "bad magic 0x01020803"},
        {"wrong type byte (f32)", "bad_type.idx", 0, {0, 0, 0x0D, 3}, 3, {3, 4, 5}, 60, 0, "type byte 0x0d"},
        {"wrong type byte (gzip)", "bad_type.idx.gz", 1, {0, 0, 0x42, 1}, 1, {5}, 5, 0, "type byte 0x42"},
        {"ndim 0", "ndim0.idx", 0, {0, 0, 8, 0}, 0, {0}, 4, 0, "ndim 0"},
        {"ndim 9", "ndim9.idx", 0, {0, 0, 8, 9}, 4, {1, 1, 1, 1}, 40, 0, "ndim 9"},
        {"zero dimension", "zero_dim.idx", 0, {0, 0, 8, 3}, 3, {3, 0, 5}, 0, 0, "dimension 1 is 0"},
        {"truncated header (magic)", "trunc_magic.idx", 0, {0, 0, 8, 3}, 0, {0}, 0, 3, "truncated header"},
        {"truncated header (dims)", "trunc_hdr.idx", 0, {0, 0, 8, 3}, 3, {3, 4, 5}, 0, 10, "truncated header"},
        {"truncated header (gzip)", "trunc_hdr.idx.gz", 1, {0, 0, 8, 3}, 3, {3, 4, 5}, 0, 10, "truncated header"},
        {"truncated data", "trunc_data.idx", 0, {0, 0, 8, 3}, 3, {3, 4, 5}, 59, 0, "expected 60 bytes after the 16-byte header, found 59"},
        {"truncated data (gzip)", "trunc_data.idx.gz", 1, {0, 0, 8, 3}, 3, {3, 4, 5}, 30, 0, "expected 60 bytes after the 16-byte header, found 30"},
        {"trailing data", "trailing.idx", 0, {0, 0, 8, 3}, 3, {3, 4, 5}, 60 + 3, 0, "3 trailing bytes"},
        {"trailing data (gzip)", "trailing.idx.gz", 1, {0, 0, 8, 3}, 3, {3, 4, 5}, 60 + 1, 0, "trailing bytes"},
        {"huge dims 0x7fffffff^2", "huge.idx", 0, {0, 0, 8, 3}, 3, {0x7fffffff, 0x7fffffff, 1}, 60, 0, "more than 2^31"},
        {"huge dims 0xffffffff", "huge2.idx.gz", 1, {0, 0, 8, 1}, 1, {0xffffffffu}, 60, 0, "more than 2^31"},
        {"2 GB declared, 60 bytes present", "big.idx", 0, {0, 0, 8, 3}, 3, {0x7fff, 0x7fff, 2}, 60, 0, "found 60"},
        {"2 GB declared, 60 bytes present (gzip)", "big.idx.gz", 1, {0, 0, 8, 3}, 3, {0x7fff, 0x7fff, 2}, 60, 0, "found 60"},
        {"empty file", "empty.idx", 0, {0}, 0, {0}, 0, 0, "truncated header"},
    };
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        struct bad *b = &bads[i];
        unsigned char data[64] = {0};
        size_t len = b->file && !strcmp(b->file, "empty.idx") ? 0 : make_idx(buf, b->magic, b->nd, b->dims, data, b->n_data);
        if (b->cut) len = b->cut;
        if (b->gz) write_gz(b->file, buf, len);
        else write_file(b->file, buf, len);
        char name[160];
        snprintf(name, sizeof name, "idx refused: %s", b->what);
        T_CASE(name) {
            nnc_tensor t = {0};
            long allocs = t_alloc_count;
            nnc_status s = nnc_idx_read(tpath(b->file), &t);
            long used = t_alloc_count - allocs;
            expect_refused(b->what, s, NNC_ERR_FORMAT, b->msg);
            T_CHECKF(strstr(nnc_last_error(), b->file) != NULL, "message does not name the file: %s", nnc_last_error());
            T_CHECK(t.data == NULL);
            /* Plain files are refused before any allocation; gzip ones with at most one small buffer. */
            T_CHECKF(used <= (b->gz ? 1 : 0), "%ld allocations before refusing", used);
        }
    }

    T_CASE("idx refused: corrupt gzip stream") {
        unsigned char gz[4096];
        n = make_idx(buf, m3, 3, (uint32_t[]){3, 4, 5}, pixels, sizeof pixels);
        size_t gn = slurp("img.idx.gz", gz, sizeof gz);
        T_CHECK(gn > 30);
        for (size_t i = 12; i < gn - 8; i++) gz[i] ^= 0x5a; /* keep the gzip header, garble the deflate data */
        write_file("corrupt.idx.gz", gz, gn);
        nnc_tensor t = {0};
        expect_refused("corrupt gzip", nnc_idx_read(tpath("corrupt.idx.gz"), &t), NNC_ERR_FORMAT, "corrupt.idx.gz");
        T_CHECKF(strstr(nnc_last_error(), "gzip") || strstr(nnc_last_error(), "truncated"), "%s", nnc_last_error());
        T_CHECK(t.data == NULL);
    }

    T_CASE("idx refused: gzip stream cut in half") {
        static unsigned char big[16 + 4000], gz[8192];
        for (int i = 0; i < 4000; i++) big[16 + i] = (unsigned char)(rand() & 0xff);
        n = make_idx(big, m3, 3, (uint32_t[]){40, 10, 10}, big + 16, 4000);
        write_gz("half.idx.gz", big, n);
        size_t gn = slurp("half.idx.gz", gz, sizeof gz);
        write_file("half.idx.gz", gz, gn / 2);
        nnc_tensor t = {0};
        expect_refused("cut gzip", nnc_idx_read(tpath("half.idx.gz"), &t), NNC_ERR_FORMAT, "half.idx.gz");
        T_CHECK(t.data == NULL);
    }

    T_CASE("idx refused: missing file and directory") {
        nnc_tensor t = {0};
        expect_refused("missing", nnc_idx_read(tpath("no-such-file.idx"), &t), NNC_ERR_IO, "no-such-file.idx");
        expect_refused("directory", nnc_idx_read(tmpdir, &t), NNC_ERR_IO, "not a regular file");
        T_CHECK(t.data == NULL);
    }
}

/* Writes an MNIST-style pair: n images h x w with pixel (i*7+k)%256, labels i%10. */
static void write_mnist_pair(const char *img, const char *lab, int n, int h, int w, int gz_img, int gz_lab) {
    static unsigned char buf[16 + 8 * 64 * 64];
    unsigned char *d = buf + 16;
    for (int i = 0; i < n * h * w; i++) d[i] = (unsigned char)((i * 7) % 256);
    size_t len = make_idx(buf, (const unsigned char[]){0, 0, 8, 3}, 3, (uint32_t[]){(uint32_t)n, (uint32_t)h, (uint32_t)w}, d,
                          (size_t)n * h * w);
    if (gz_img) write_gz(img, buf, len);
    else write_file(img, buf, len);
    unsigned char l[64];
    for (int i = 0; i < n; i++) l[i] = (unsigned char)(i % 10);
    len = make_idx(buf, (const unsigned char[]){0, 0, 8, 1}, 1, (uint32_t[]){(uint32_t)n}, l, (size_t)n);
    if (gz_lab) write_gz(lab, buf, len);
    else write_file(lab, buf, len);
}

static void test_dataset_fixtures(void) {
    T_CASE("dataset: small IDX pair, pixel/255 and labels") {
        write_mnist_pair("s-img", "s-lab", 8, 5, 6, 0, 0);
        nnc_dataset ds;
        T_OK(nnc_dataset_load_idx(&ds, tpath("s-img"), tpath("s-lab"), 10));
        T_CHECK(ds.n == 8 && ds.n_classes == 10);
        T_CHECK(ds.x.dtype == NNC_F32 && ds.x.ndim == 4 && ds.x.shape[0] == 8 && ds.x.shape[1] == 1 &&
                ds.x.shape[2] == 5 && ds.x.shape[3] == 6);
        T_CHECK(ds.y.dtype == NNC_I64 && ds.y.ndim == 1 && ds.y.shape[0] == 8);
        int bad = 0;
        for (int i = 0; i < 8 * 30; i++) bad += ((float *)ds.x.data)[i] != (float)((i * 7) % 256) / 255.0f;
        T_CHECK(bad == 0);
        for (int i = 0; i < 8; i++) T_CHECK(((int64_t *)ds.y.data)[i] == i % 10);
        nnc_dataset_free(&ds);
        T_CHECK(ds.x.data == NULL && ds.y.data == NULL);
    }

    T_CASE("dataset refused: label out of range names index and value") {
        unsigned char buf[64], l[8] = {0, 1, 2, 3, 4, 5, 6, 7};
        size_t len = make_idx(buf, (const unsigned char[]){0, 0, 8, 1}, 1, (uint32_t[]){8}, l, 8);
        write_file("lab8", buf, len);
        nnc_dataset ds;
        expect_refused("labels >= 6", nnc_dataset_load_idx(&ds, tpath("s-img"), tpath("lab8"), 6), NNC_ERR_FORMAT,
                       "label 6 at index 6");
        T_CHECK(ds.x.data == NULL && ds.y.data == NULL);
    }

    T_CASE("dataset refused: image and label counts differ") {
        write_mnist_pair("c-img", "c-lab", 7, 5, 6, 1, 1);
        nnc_dataset ds;
        expect_refused("7 labels for 8 images", nnc_dataset_load_idx(&ds, tpath("s-img"), tpath("c-lab"), 10),
                       NNC_ERR_FORMAT, "7 labels, but");
        expect_refused("labels as images", nnc_dataset_load_idx(&ds, tpath("s-lab"), tpath("s-lab"), 10),
                       NNC_ERR_FORMAT, "3 dimensions");
    }

    T_CASE("dataset: MNIST directory with mixed gzip and plain files") {
        mkdir(tpath("mnist"), 0700);
        write_mnist_pair("mnist/train-images-idx3-ubyte.gz", "mnist/train-labels-idx1-ubyte", 20, 4, 4, 1, 0);
        write_mnist_pair("mnist/t10k-images-idx3-ubyte", "mnist/t10k-labels-idx1-ubyte.gz", 6, 4, 4, 0, 1);
        nnc_dataset tr, te;
        T_OK(nnc_dataset_load_mnist_dir(tpath("mnist"), &tr, &te));
        T_CHECK(tr.n == 20 && te.n == 6 && tr.x.shape[2] == 4 && te.x.shape[3] == 4);
        T_CHECK(((int64_t *)tr.y.data)[13] == 3 && ((int64_t *)te.y.data)[5] == 5);
        nnc_dataset_free(&tr);
        nnc_dataset_free(&te);
        unlink(tpath("mnist/t10k-images-idx3-ubyte"));
        expect_refused("missing t10k images", nnc_dataset_load_mnist_dir(tpath("mnist"), &tr, &te), NNC_ERR_IO,
                       "t10k-images-idx3-ubyte");
        T_CHECK(tr.x.data == NULL && te.x.data == NULL);
        expect_refused("missing directory", nnc_dataset_load_mnist_dir(tpath("no-such-dir"), &tr, &te), NNC_ERR_IO,
                       "no-such-dir");
    }

    T_CASE("dataset: take copies a range and refuses one outside") {
        nnc_dataset ds, sub;
        T_OK(nnc_dataset_load_idx(&ds, tpath("s-img"), tpath("s-lab"), 10));
        T_OK(nnc_dataset_take(&ds, 3, 4, &sub));
        T_CHECK(sub.n == 4 && sub.x.shape[0] == 4 && sub.x.shape[2] == 5 && sub.y.shape[0] == 4);
        T_CHECK(!memcmp(sub.x.data, (float *)ds.x.data + 3 * 30, 4 * 30 * sizeof(float)));
        T_CHECK(((int64_t *)sub.y.data)[0] == 3);
        nnc_dataset_free(&sub);
        expect_refused("take past the end", nnc_dataset_take(&ds, 5, 4, &sub), NNC_ERR_ARG, "outside");
        expect_refused("negative start", nnc_dataset_take(&ds, -1, 2, &sub), NNC_ERR_ARG, "outside");
        nnc_dataset_free(&ds);
    }
}

static void test_fashion_mnist(void) {
    const char *dir = NNC_FASHION_MNIST_DIR;
    struct stat st;
    if (stat(dir, &st) != 0) {
        printf("  note: %s not present, skipping the real-data cases\n", dir);
        return;
    }
    nnc_dataset tr = {0}, te = {0};
    T_CASE("fashion-mnist: loads 60000 + 10000 28x28 images, labels < 10") {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        T_OK(nnc_dataset_load_mnist_dir(NULL, &tr, &te));
        clock_gettime(CLOCK_MONOTONIC, &t1);
        printf("  load time %.2f s\n", (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
        T_CHECK(tr.n == 60000 && te.n == 10000 && tr.n_classes == 10);
        T_CHECK(tr.x.ndim == 4 && tr.x.shape[1] == 1 && tr.x.shape[2] == 28 && tr.x.shape[3] == 28);
        T_CHECK(te.x.shape[0] == 10000 && te.x.shape[2] == 28);
        int bad = 0;
        long count[10] = {0};
        for (int64_t i = 0; tr.y.data && i < tr.n; i++) {
            int64_t v = ((int64_t *)tr.y.data)[i];
            if (v < 0 || v >= 10) bad++;
            else count[v]++;
        }
        T_CHECK(bad == 0);
        for (int k = 0; k < 10; k++) T_CHECKF(count[k] == 6000, "class %d has %ld samples", k, count[k]);
        /* torchvision's FashionMNIST: train[0] and test[0] are both class 9 (ankle boot) */
        T_CHECK(tr.y.data && ((int64_t *)tr.y.data)[0] == 9 && ((int64_t *)te.y.data)[0] == 9);
    }
    T_CASE("fashion-mnist: mean 0.2860, std 0.3530 (PyTorch's numbers)") {
        double mean = 0, std = 0;
        nnc_dataset_stats(&tr, &mean, &std);
        printf("  train mean %.6f std %.6f\n", mean, std);
        T_CHECKF(fabs(mean - 0.2860) < 5e-5 && fabs(std - 0.3530) < 5e-5, "mean %.6f std %.6f", mean, std);
        nnc_dataset sub;
        T_OK(nnc_dataset_take(&tr, 0, 1000, &sub));
        nnc_dataset_normalize(&sub, (float)mean, (float)std);
        double m2, s2, m3, s3;
        nnc_dataset_stats(&sub, &m2, &s2);
        nnc_dataset_free(&sub);
        T_OK(nnc_dataset_take(&tr, 0, 1000, &sub));
        nnc_dataset_stats(&sub, &m3, &s3);
        T_CHECKF(fabs(m2 - (m3 - mean) / std) < 1e-5 && fabs(s2 - s3 / std) < 1e-5, "normalized mean %g std %g", m2, s2);
        nnc_dataset_free(&sub);
    }
    T_CASE("fashion-mnist: loader, batch 64 -> 938 batches, the last of 32, rows intact") {
        nnc_loader *l = NULL, *seq = NULL;
        T_OK(nnc_loader_new(&tr, 64, 1, 42, &l));
        T_OK(nnc_loader_new(&tr, 64, 0, 0, &seq));
        T_CHECK(l && nnc_loader_batches_per_epoch(l) == 938);
        static float x[64 * 784];
        int64_t y[64];
        int64_t k, batches = 0, last = 0, total = 0, bad = 0;
        long allocs = t_alloc_count;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int e = 0; e < 5; e++) {
            nnc_loader_start_epoch(l, (uint64_t)e);
            batches = total = 0;
            while (l && (k = nnc_loader_next(l, x, y, NNC_I64)) > 0) {
                batches++;
                last = k;
                total += k;
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long used = t_alloc_count - allocs;
        printf("  nnc_loader_next, batch 64, shuffled: %.2f ms per epoch\n",
               1e3 / 5 * ((double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec)));
        T_CHECK(batches == 938 && last == 32 && total == 60000);
        T_CHECKF(used == 0, "%ld allocations in 5 epochs", used);
        /* file order: every batch is the dataset's rows and labels, bit for bit */
        total = 0;
        while (seq && (k = nnc_loader_next(seq, x, y, NNC_I64)) > 0) {
            bad += memcmp(x, (float *)tr.x.data + total * 784, (size_t)k * 784 * sizeof(float)) != 0;
            bad += memcmp(y, (int64_t *)tr.y.data + total, (size_t)k * sizeof(int64_t)) != 0;
            total += k;
        }
        T_CHECK(total == 60000 && bad == 0);
        nnc_loader_free(l);
        nnc_loader_free(seq);
    }
    nnc_dataset_free(&tr);
    nnc_dataset_free(&te);
}

/* A synthetic dataset whose sample i holds the floats (i, -i) and label i % 7. */
static void make_index_dataset(nnc_dataset *ds, int64_t n) {
    memset(ds, 0, sizeof *ds);
    nnc_tensor_alloc(&ds->x, NNC_F32, 4, (int64_t[]){n, 2, 1, 1});
    nnc_tensor_alloc(&ds->y, NNC_I64, 1, (int64_t[]){n});
    for (int64_t i = 0; i < n; i++) {
        ((float *)ds->x.data)[2 * i] = (float)i;
        ((float *)ds->x.data)[2 * i + 1] = (float)-i;
        ((int64_t *)ds->y.data)[i] = i % 7;
    }
    ds->n = n;
    ds->n_classes = 7;
}

/* Runs one epoch; order[] gets the sample indices seen. Returns the count, or -1 if rows are inconsistent. */
static int64_t run_epoch(nnc_loader *l, int64_t *order, int64_t cap, int64_t batch, int i32, int64_t *n_batches, int64_t *last) {
    static float x[2 * 128];
    int64_t y64[128];
    int32_t y32[128];
    int64_t k, got = 0;
    *n_batches = 0;
    while ((k = nnc_loader_next(l, x, i32 ? (void *)y32 : (void *)y64, i32 ? NNC_I32 : NNC_I64)) > 0) {
        if (k > batch) return -1;
        for (int64_t i = 0; i < k; i++) {
            int64_t idx = (int64_t)x[2 * i];
            int64_t lab = i32 ? y32[i] : y64[i];
            if (x[2 * i + 1] != -x[2 * i] || lab != idx % 7 || got >= cap) return -1;
            order[got++] = idx;
        }
        (*n_batches)++;
        *last = k;
    }
    return got;
}

static int is_permutation(const int64_t *o, int64_t n) {
    char *seen = calloc((size_t)n, 1);
    int ok = 1;
    for (int64_t i = 0; i < n && ok; i++) {
        if (o[i] < 0 || o[i] >= n || seen[o[i]]) ok = 0;
        else seen[o[i]] = 1;
    }
    free(seen);
    return ok;
}

static void test_loader(void) {
    enum { N = 60000 };
    nnc_dataset ds;
    make_index_dataset(&ds, N);
    static int64_t a[N], b[N], c[N];
    T_CASE("loader: every sample exactly once per epoch, last partial batch kept") {
        nnc_loader *l = NULL;
        int64_t nb = 0, last = 0;
        T_OK(nnc_loader_new(&ds, 64, 1, 7, &l));
        T_CHECK(nnc_loader_batches_per_epoch(l) == 938);
        long allocs = t_alloc_count;
        int64_t got = run_epoch(l, a, N, 64, 0, &nb, &last);
        T_CHECKF(t_alloc_count == allocs, "nnc_loader_next allocated %ld times", t_alloc_count - allocs);
        T_CHECK(got == N && nb == 938 && last == 32);
        T_CHECK(is_permutation(a, N));
        T_CHECK(nnc_loader_next(l, (float[2]){0}, (int64_t[1]){0}, NNC_I64) == 0); /* stays at the end */
        int in_order = 1;
        for (int64_t i = 0; i < N; i++) in_order &= a[i] == i;
        T_CHECK(!in_order);
        nnc_loader_free(l);
    }
    T_CASE("loader: same seed same order, other epoch or seed another, replay after restart") {
        nnc_loader *l1 = NULL, *l2 = NULL;
        int64_t nb, last;
        T_OK(nnc_loader_new(&ds, 64, 1, 7, &l1));
        T_OK(nnc_loader_new(&ds, 100, 1, 7, &l2));
        nnc_loader_start_epoch(l1, 3);
        nnc_loader_start_epoch(l2, 3);
        T_CHECK(run_epoch(l1, a, N, 64, 0, &nb, &last) == N);
        T_CHECK(run_epoch(l2, b, N, 100, 1, &nb, &last) == N && nb == 600 && last == 100);
        T_CHECK(!memcmp(a, b, sizeof a)); /* the order does not depend on the batch size */
        nnc_loader_start_epoch(l1, 4);
        T_CHECK(run_epoch(l1, c, N, 64, 0, &nb, &last) == N && is_permutation(c, N));
        T_CHECK(memcmp(a, c, sizeof a) != 0);
        nnc_loader_start_epoch(l1, 3); /* back to epoch 3: the same order again */
        T_CHECK(run_epoch(l1, c, N, 64, 0, &nb, &last) == N && !memcmp(a, c, sizeof a));
        nnc_loader_free(l2);
        T_OK(nnc_loader_new(&ds, 64, 1, 8, &l2));
        nnc_loader_start_epoch(l2, 3);
        T_CHECK(run_epoch(l2, b, N, 64, 0, &nb, &last) == N && memcmp(a, b, sizeof a) != 0);
        nnc_loader_free(l1);
        nnc_loader_free(l2);
    }
    T_CASE("loader: shuffle off keeps file order; odd sizes; bad arguments") {
        nnc_loader *l = NULL;
        int64_t nb, last;
        nnc_dataset small;
        T_OK(nnc_dataset_take(&ds, 0, 10, &small));
        T_OK(nnc_loader_new(&small, 3, 0, 0, &l));
        T_CHECK(nnc_loader_batches_per_epoch(l) == 4);
        T_CHECK(run_epoch(l, a, N, 3, 1, &nb, &last) == 10 && nb == 4 && last == 1);
        for (int i = 0; i < 10; i++) T_CHECK(a[i] == i);
        nnc_loader_start_epoch(l, 1);
        T_CHECK(run_epoch(l, a, N, 3, 0, &nb, &last) == 10 && a[9] == 9);
        nnc_loader_start_epoch(l, 0);
        T_CHECK(nnc_loader_next(l, (float[6]){0}, (int64_t[3]){0}, NNC_F32) == -1);
        nnc_loader_free(l);
        T_OK(nnc_loader_new(&small, 1000, 1, 5, &l)); /* batch larger than the dataset */
        T_CHECK(nnc_loader_batches_per_epoch(l) == 1);
        T_CHECK(run_epoch(l, a, N, 128, 0, &nb, &last) == 10 && nb == 1 && is_permutation(a, 10));
        nnc_loader_free(l);
        l = NULL;
        expect_refused("batch 0", nnc_loader_new(&small, 0, 1, 0, &l), NNC_ERR_ARG, "batch 0");
        T_CHECK(l == NULL);
        nnc_dataset_free(&small);
    }
    nnc_dataset_free(&ds);
}

/* Writes a PNG with libpng: rows of w*channels samples (16-bit big-endian if depth 16). */
static int write_png(const char *name, int w, int h, int ctype, int depth, const unsigned char *data,
                     const png_color *pal, int n_pal) {
    FILE *f = fopen(tpath(name), "wb");
    if (!f) return -1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, ctype, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (pal) png_set_PLTE(png, info, pal, n_pal);
    png_write_info(png, info);
    int ch = ctype == PNG_COLOR_TYPE_RGB ? 3 : ctype == PNG_COLOR_TYPE_RGBA ? 4 : ctype == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
    size_t rb = depth < 8 ? ((size_t)w * (size_t)depth + 7) / 8 : (size_t)w * (size_t)ch * (size_t)(depth / 8);
    for (int y = 0; y < h; y++) png_write_row(png, data + (size_t)y * rb);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
    return 0;
}

static void test_images(void) {
    nnc_tensor t = {0};
    T_CASE("image: binary PGM 8-bit and 16-bit, ASCII PGM with comments") {
        unsigned char p5[64] = "P5\n# a comment\n3 2\n255\n";
        size_t h = strlen((char *)p5);
        const unsigned char px[6] = {0, 51, 102, 153, 204, 255};
        memcpy(p5 + h, px, 6);
        write_file("a.pgm", p5, h + 6);
        T_OK(nnc_image_read(tpath("a.pgm"), &t));
        T_CHECK(t.dtype == NNC_F32 && t.ndim == 3 && t.shape[0] == 1 && t.shape[1] == 2 && t.shape[2] == 3);
        float want[6] = {0, 0.2f, 0.4f, 0.6f, 0.8f, 1.0f};
        if (t.data) t_close("p5", t.data, want, 6, 1e-6, 1e-7);
        nnc_tensor_free(&t);

        unsigned char p16[64] = "P5 2 1 65535\n";
        h = strlen((char *)p16);
        p16[h] = 0x80; p16[h + 1] = 0x00; p16[h + 2] = 0xff; p16[h + 3] = 0xff;
        write_file("b.pgm", p16, h + 4);
        T_OK(nnc_image_read(tpath("b.pgm"), &t));
        float want16[2] = {32768.0f / 65535.0f, 1.0f};
        if (t.data) t_close("p5/16", t.data, want16, 2, 1e-6, 1e-7);
        nnc_tensor_free(&t);

        const char *p2 = "P2\n# ascii\n2 2\n# maxval next\n10\n0 5\n10 # end\n 2\n";
        write_file("c.pgm", p2, strlen(p2));
        T_OK(nnc_image_read(tpath("c.pgm"), &t));
        float want2[4] = {0, 0.5f, 1.0f, 0.2f};
        T_CHECK(t.shape[1] == 2 && t.shape[2] == 2);
        if (t.data) t_close("p2", t.data, want2, 4, 1e-6, 1e-7);
        nnc_tensor_free(&t);
    }
    T_CASE("image: PPM binary and ASCII become planar [3,H,W]") {
        unsigned char p6[64] = "P6 2 1 255\n";
        size_t h = strlen((char *)p6);
        const unsigned char px[6] = {255, 0, 51, 0, 255, 102}; /* (r,g,b) per pixel */
        memcpy(p6 + h, px, 6);
        write_file("a.ppm", p6, h + 6);
        T_OK(nnc_image_read(tpath("a.ppm"), &t));
        T_CHECK(t.shape[0] == 3 && t.shape[1] == 1 && t.shape[2] == 2);
        float want[6] = {1, 0, 0, 1, 0.2f, 0.4f}; /* R plane, G plane, B plane */
        if (t.data) t_close("p6", t.data, want, 6, 1e-6, 1e-7);
        nnc_tensor_free(&t);
        const char *p3 = "P3 2 1 255 255 0 51 0 255 102";
        write_file("b.ppm", p3, strlen(p3));
        T_OK(nnc_image_read(tpath("b.ppm"), &t));
        if (t.data) t_close("p3", t.data, want, 6, 1e-6, 1e-7);
        nnc_tensor_free(&t);
    }
    T_CASE("image: PNG gray, RGB, RGBA, palette, 16-bit, 1-bit") {
        unsigned char g[6] = {0, 51, 102, 153, 204, 255};
        T_CHECK(write_png("g.png", 3, 2, PNG_COLOR_TYPE_GRAY, 8, g, NULL, 0) == 0);
        T_OK(nnc_image_read(tpath("g.png"), &t));
        float wg[6] = {0, 0.2f, 0.4f, 0.6f, 0.8f, 1.0f};
        T_CHECK(t.shape[0] == 1 && t.shape[1] == 2 && t.shape[2] == 3);
        if (t.data) t_close("png gray", t.data, wg, 6, 1e-6, 1e-7);
        nnc_tensor_free(&t);

        unsigned char rgb[6] = {255, 0, 51, 0, 255, 102};
        float wrgb[6] = {1, 0, 0, 1, 0.2f, 0.4f};
        T_CHECK(write_png("rgb.png", 2, 1, PNG_COLOR_TYPE_RGB, 8, rgb, NULL, 0) == 0);
        T_OK(nnc_image_read(tpath("rgb.png"), &t));
        T_CHECK(t.shape[0] == 3 && t.shape[1] == 1 && t.shape[2] == 2);
        if (t.data) t_close("png rgb", t.data, wrgb, 6, 1e-6, 1e-7);
        nnc_tensor_free(&t);

        unsigned char rgba[8] = {255, 0, 51, 7, 0, 255, 102, 200};
        T_CHECK(write_png("rgba.png", 2, 1, PNG_COLOR_TYPE_RGBA, 8, rgba, NULL, 0) == 0);
        T_OK(nnc_image_read(tpath("rgba.png"), &t));
        T_CHECK(t.shape[0] == 3);
        if (t.data) t_close("png rgba", t.data, wrgb, 6, 1e-6, 1e-7);
        nnc_tensor_free(&t);

        png_color pal[2] = {{255, 0, 51}, {0, 255, 102}};
        unsigned char idx[2] = {0, 1};
        T_CHECK(write_png("pal.png", 2, 1, PNG_COLOR_TYPE_PALETTE, 8, idx, pal, 2) == 0);
        T_OK(nnc_image_read(tpath("pal.png"), &t));
        T_CHECK(t.shape[0] == 3 && t.shape[2] == 2);
        if (t.data) t_close("png palette", t.data, wrgb, 6, 1e-6, 1e-7);
        nnc_tensor_free(&t);

        unsigned char g16[4] = {0xff, 0xff, 0x33, 0x33}; /* 65535, 13107 = 0.2 */
        T_CHECK(write_png("g16.png", 2, 1, PNG_COLOR_TYPE_GRAY, 16, g16, NULL, 0) == 0);
        T_OK(nnc_image_read(tpath("g16.png"), &t));
        float w16[2] = {1.0f, 0.2f};
        if (t.data) t_close("png 16-bit", t.data, w16, 2, 1e-6, 1e-7);
        nnc_tensor_free(&t);

        unsigned char bits[1] = {0xa0}; /* 1,0,1,0 */
        T_CHECK(write_png("g1.png", 4, 1, PNG_COLOR_TYPE_GRAY, 1, bits, NULL, 0) == 0);
        T_OK(nnc_image_read(tpath("g1.png"), &t));
        float w1[4] = {1, 0, 1, 0};
        T_CHECK(t.shape[2] == 4);
        if (t.data) t_close("png 1-bit", t.data, w1, 4, 1e-6, 1e-7);
        nnc_tensor_free(&t);
    }

    struct bad { const char *what, *file, *content; int len; nnc_status st; const char *msg; } bads[] = {
        {"truncated P5 pixels", "t.pgm", "P5 4 4 255\nabcdefgh", -1, NNC_ERR_FORMAT, "needs 16 bytes, found 8"},
        {"truncated P5 16-bit", "t16.pgm", "P5 2 2 1000\nabcdef", -1, NNC_ERR_FORMAT, "needs 8 bytes, found 6"},
        {"width over 65536", "w.pgm", "P5 65537 1 255\n", -1, NNC_ERR_FORMAT, "width"},
        {"height huge", "hh.pgm", "P5 1 99999999999999999999 255\n", -1, NNC_ERR_FORMAT, "height"},
        {"width 0", "w0.pgm", "P5 0 1 255\n", -1, NNC_ERR_FORMAT, "width"},
        {"maxval 0", "m0.pgm", "P5 1 1 0\n", -1, NNC_ERR_FORMAT, "maxval"},
        {"maxval 70000", "m7.pgm", "P2 1 1 70000\n3", -1, NNC_ERR_FORMAT, "maxval"},
        {"ASCII sample above maxval", "s.pgm", "P2 2 1 10 3 11", -1, NNC_ERR_FORMAT, "sample 1"},
        {"ASCII samples missing", "sm.ppm", "P3 2 1 255 1 2 3 4 5", -1, NNC_ERR_FORMAT, "sample 5"},
        {"ASCII huge raster in a small file", "hr.pgm", "P2 65536 65536 255 1 2 3", -1, NNC_ERR_FORMAT, "truncated"},
        {"binary sample above maxval", "bs.pgm", "P5 1 1 15\n\x20", -1, NNC_ERR_FORMAT, "above maxval"},
        {"garbage in the header", "gh.pgm", "P5 4 x4 255\n", -1, NNC_ERR_FORMAT, "height"},
        {"header cut short", "hc.pgm", "P6 4 4", -1, NNC_ERR_FORMAT, "maxval"},
        {"not an image", "x.bin", "hello world", -1, NNC_ERR_FORMAT, "not a PNG"},
        {"empty file", "e.pgm", "", 0, NNC_ERR_FORMAT, "not a PNG"},
        {"PBM", "a.pbm", "P1 1 1 1", -1, NNC_ERR_UNSUPPORTED, "P1"},
    };
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        struct bad *b = &bads[i];
        write_file(b->file, b->content, b->len < 0 ? strlen(b->content) : (size_t)b->len);
        char name[160];
        snprintf(name, sizeof name, "image refused: %s", b->what);
        T_CASE(name) {
            long allocs = t_alloc_count;
            nnc_status s = nnc_image_read(tpath(b->file), &t);
            expect_refused(b->what, s, b->st, b->msg);
            T_CHECKF(strstr(nnc_last_error(), b->file) != NULL, "message does not name the file: %s", nnc_last_error());
            T_CHECK(t.data == NULL);
            /* the file buffer, and the tensor when a bad sample is only found while decoding */
            T_CHECKF(t_alloc_count - allocs <= 2, "%ld allocations", t_alloc_count - allocs);
        }
    }

    T_CASE("image refused: truncated, corrupt and oversized PNGs; missing file") {
        static unsigned char img[64 * 64], png[65536];
        for (int i = 0; i < 64 * 64; i++) img[i] = (unsigned char)(rand() & 0xff);
        T_CHECK(write_png("big.png", 64, 64, PNG_COLOR_TYPE_GRAY, 8, img, NULL, 0) == 0);
        size_t n = slurp("big.png", png, sizeof png);
        T_CHECK(n > 1000);
        write_file("cut.png", png, n / 2);
        expect_refused("PNG cut in half", nnc_image_read(tpath("cut.png"), &t), NNC_ERR_FORMAT, "truncated");
        T_CHECK(t.data == NULL);
        write_file("sig.png", png, 12);
        expect_refused("PNG signature only", nnc_image_read(tpath("sig.png"), &t), NNC_ERR_FORMAT, "sig.png");

        png[n / 2] ^= 0xff; /* inside IDAT: the chunk CRC no longer matches */
        write_file("crc.png", png, n);
        expect_refused("PNG with a bad CRC", nnc_image_read(tpath("crc.png"), &t), NNC_ERR_FORMAT, "crc.png");
        png[n / 2] ^= 0xff;

        /* IHDR rewritten to 60000 x 60000 with a valid CRC: more pixels than the file can hold. */
        unsigned char *ihdr = png + 8 + 8; /* signature, length + "IHDR" */
        const unsigned char dim[4] = {0, 0, 0xea, 0x60};
        memcpy(ihdr, dim, 4);
        memcpy(ihdr + 4, dim, 4);
        uLong crc = crc32(0, png + 12, 4 + 13);
        png[29] = (unsigned char)(crc >> 24); png[30] = (unsigned char)(crc >> 16);
        png[31] = (unsigned char)(crc >> 8); png[32] = (unsigned char)crc;
        write_file("lie.png", png, n);
        long allocs = t_alloc_count;
        expect_refused("PNG declaring 60000x60000", nnc_image_read(tpath("lie.png"), &t), NNC_ERR_FORMAT, "60000x60000");
        T_CHECKF(t_alloc_count - allocs <= 1, "%ld allocations", t_alloc_count - allocs);

        const unsigned char big_dim[4] = {0, 1, 0, 1}; /* 65537 */
        memcpy(ihdr, big_dim, 4);
        crc = crc32(0, png + 12, 4 + 13);
        png[29] = (unsigned char)(crc >> 24); png[30] = (unsigned char)(crc >> 16);
        png[31] = (unsigned char)(crc >> 8); png[32] = (unsigned char)crc;
        write_file("wide.png", png, n);
        expect_refused("PNG 65537 wide", nnc_image_read(tpath("wide.png"), &t), NNC_ERR_FORMAT, "65537x60000");

        expect_refused("missing image", nnc_image_read(tpath("nope.png"), &t), NNC_ERR_IO, "nope.png");
        T_CHECK(t.data == NULL);
    }
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "%s/nnc_test_data_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    srand(1);
    test_idx();
    test_dataset_fixtures();
    test_loader();
    test_images();
    test_fashion_mnist();
    rm_tmpdir();
    return t_finish();
}
