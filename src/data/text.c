/* text.c -- a character (byte) corpus for language models: one file, or a
 * directory whose regular files are concatenated in sorted name order
 * (hidden files and fortune's index files *.dat and *.u8 links skipped), so
 * /usr/share/games/fortunes is read as one text. The vocabulary is the set
 * of distinct bytes, in byte order; ids index it. Refuses a missing or
 * unreadable path, an empty corpus and corpora over 1 GiB, by name. */
#include "nnc.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TEXT_MAX_BYTES ((int64_t)1 << 30)

static int skip_name(const char *name) {
    size_t n = strlen(name);
    if (name[0] == '.') return 1;
    if (n >= 4 && !strcmp(name + n - 4, ".dat")) return 1;
    if (n >= 3 && !strcmp(name + n - 3, ".u8")) return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Appends the file's bytes to *buf (size *n, capacity *cap). */
static nnc_status append_file(const char *path, uint8_t **buf, int64_t *n, int64_t *cap) {
    FILE *f = fopen(path, "rb");
    if (!f) return nnc_error(NNC_ERR_IO, "text corpus: cannot open '%s': %s", path, strerror(errno));
    for (;;) {
        if (*n == *cap) {
            if (*cap >= TEXT_MAX_BYTES) {
                fclose(f);
                return nnc_error(NNC_ERR_ARG, "text corpus: '%s' makes the corpus larger than 1 GiB", path);
            }
            int64_t nc = *cap ? *cap * 2 : 1 << 16;
            uint8_t *nb = realloc(*buf, (size_t)nc);
            if (!nb) { fclose(f); return nnc_error(NNC_ERR_OOM, "text corpus: out of memory reading '%s'", path); }
            *buf = nb;
            *cap = nc;
        }
        size_t got = fread(*buf + *n, 1, (size_t)(*cap - *n), f);
        *n += (int64_t)got;
        if (got == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) return nnc_error(NNC_ERR_IO, "text corpus: error reading '%s'", path);
    return NNC_OK;
}

static nnc_status read_dir(const char *path, uint8_t **buf, int64_t *n, int64_t *cap, int *files) {
    DIR *d = opendir(path);
    if (!d) return nnc_error(NNC_ERR_IO, "text corpus: cannot open directory '%s': %s", path, strerror(errno));
    char **names = NULL;
    int count = 0, capn = 0;
    nnc_status s = NNC_OK;
    struct dirent *e;
    while ((e = readdir(d)) && !s) {
        if (skip_name(e->d_name)) continue;
        if (count == capn) {
            capn = capn ? capn * 2 : 64;
            char **nn = realloc(names, (size_t)capn * sizeof *names);
            if (!nn) { s = nnc_error(NNC_ERR_OOM, "text corpus: out of memory listing '%s'", path); break; }
            names = nn;
        }
        if (!(names[count] = strdup(e->d_name))) { s = nnc_error(NNC_ERR_OOM, "text corpus: out of memory"); break; }
        count++;
    }
    closedir(d);
    if (!s && count > 1) qsort(names, (size_t)count, sizeof *names, cmp_str);
    for (int i = 0; i < count && !s; i++) {
        char full[4096];
        struct stat st;
        snprintf(full, sizeof full, "%s/%s", path, names[i]);
        if (stat(full, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        s = append_file(full, buf, n, cap);
        (*files)++;
    }
    for (int i = 0; i < count; i++) free(names[i]);
    free(names);
    return s;
}

nnc_status nnc_text_load(const char *path, nnc_text **out) {
    if (!path || !out) return nnc_error(NNC_ERR_ARG, "nnc_text_load: NULL argument");
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0) return nnc_error(NNC_ERR_IO, "text corpus: '%s': %s", path, strerror(errno));
    uint8_t *buf = NULL;
    int64_t n = 0, cap = 0;
    int files = 0;
    nnc_status s;
    if (S_ISDIR(st.st_mode)) {
        s = read_dir(path, &buf, &n, &cap, &files);
        if (!s && files == 0) s = nnc_error(NNC_ERR_FORMAT, "text corpus: directory '%s' holds no text files", path);
    } else {
        s = append_file(path, &buf, &n, &cap);
    }
    if (!s && n < 2) s = nnc_error(NNC_ERR_FORMAT, "text corpus: '%s' is empty (%lld bytes; need at least 2)", path, (long long)n);
    nnc_text *t = s ? NULL : calloc(1, sizeof *t);
    if (!s && !t) s = nnc_error(NNC_ERR_OOM, "text corpus: out of memory");
    if (s) { free(buf); return s; }
    int present[256] = {0};
    for (int64_t i = 0; i < n; i++) present[buf[i]] = 1;
    for (int b = 0; b < 256; b++) {
        t->id_of[b] = -1;
        if (present[b]) { t->id_of[b] = (int16_t)t->vocab; t->byte_of[t->vocab++] = (uint8_t)b; }
    }
    for (int64_t i = 0; i < n; i++) buf[i] = (uint8_t)t->id_of[buf[i]];
    t->ids = buf;
    t->n = n;
    *out = t;
    return NNC_OK;
}

nnc_status nnc_text_set_vocab(nnc_text *t, const uint8_t *bytes, int vocab) {
    if (!t || !bytes || vocab < 1 || vocab > 256) return nnc_error(NNC_ERR_ARG, "nnc_text_set_vocab: bad arguments (vocab %d)", vocab);
    int16_t id_of[256];
    for (int b = 0; b < 256; b++) id_of[b] = -1;
    for (int i = 0; i < vocab; i++) {
        if (id_of[bytes[i]] >= 0) return nnc_error(NNC_ERR_ARG, "vocabulary: byte %d appears twice", bytes[i]);
        id_of[bytes[i]] = (int16_t)i;
    }
    for (int64_t i = 0; i < t->n; i++) {
        int b = t->byte_of[t->ids[i]];
        if (id_of[b] < 0) return nnc_error(NNC_ERR_FORMAT, "text corpus: byte %d at offset %lld is not in the model's vocabulary", b, (long long)i);
    }
    for (int64_t i = 0; i < t->n; i++) t->ids[i] = (uint8_t)id_of[t->byte_of[t->ids[i]]];
    memcpy(t->id_of, id_of, sizeof id_of);
    memset(t->byte_of, 0, sizeof t->byte_of);
    memcpy(t->byte_of, bytes, (size_t)vocab);
    t->vocab = vocab;
    return NNC_OK;
}

void nnc_text_free(nnc_text *t) {
    if (!t) return;
    free(t->ids);
    free(t);
}
