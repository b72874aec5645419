/* test_text.c -- the character corpus reader (src/data/text.c): a file, a
 * directory in sorted order skipping hidden files and *.dat / *.u8, the
 * vocabulary, re-mapping to a model's vocabulary, and bad paths refused. */
#include "testlib.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];

static void put(const char *name, const char *text) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f) { T_CHECKF(0, "cannot create %s", p); return; }
    fputs(text, f);
    fclose(f);
}

static void decode(const nnc_text *t, char *out) {
    for (int64_t i = 0; i < t->n; i++) out[i] = (char)t->byte_of[t->ids[i]];
    out[t->n] = 0;
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/nnc_text_%d", (int)getpid());
    mkdir(dir, 0777);
    put("b", "ba\n");
    put("a", "ab\n");
    put("a.dat", "XXXX");
    put(".hidden", "YYYY");
    put("c.u8", "ZZZZ");
    T_CASE("directory: files in sorted order, index files and hidden files skipped") {
        nnc_text *t = NULL;
        T_OK(nnc_text_load(dir, &t));
        if (t) {
            char s[64];
            decode(t, s);
            T_CHECKF(!strcmp(s, "ab\nba\n"), "got '%s'", s);
            T_CHECK(t->vocab == 3);
            T_CHECK(t->byte_of[0] == '\n' && t->byte_of[1] == 'a' && t->byte_of[2] == 'b');
            T_CHECK(t->id_of['a'] == 1 && t->id_of['z'] == -1);
        }
        nnc_text_free(t);
    }
    T_CASE("a model's vocabulary: re-mapped, a byte outside it refused with its offset") {
        char p[512];
        snprintf(p, sizeof p, "%s/a", dir);
        nnc_text *t = NULL;
        T_OK(nnc_text_load(p, &t));
        if (t) {
            const uint8_t v[4] = {'b', 'a', '\n', 'q'};
            T_OK(nnc_text_set_vocab(t, v, 4));
            T_CHECK(t->vocab == 4 && t->ids[0] == 1 && t->ids[1] == 0 && t->ids[2] == 2);
            const uint8_t w[2] = {'a', 'b'};
            T_CHECK(nnc_text_set_vocab(t, w, 2) != NNC_OK);
            T_CHECKF(strstr(nnc_last_error(), "byte 10 at offset 2"), "message: %s", nnc_last_error());
            const uint8_t d[2] = {'a', 'a'};
            T_CHECK(nnc_text_set_vocab(t, d, 2) == NNC_ERR_ARG);
        }
        nnc_text_free(t);
    }
    T_CASE("missing path, empty file and empty directory refused by name") {
        nnc_text *t = NULL;
        T_CHECK(nnc_text_load("/nonexistent/corpus", &t) == NNC_ERR_IO && !t);
        T_CHECKF(strstr(nnc_last_error(), "/nonexistent/corpus"), "message: %s", nnc_last_error());
        put("empty", "");
        char p[512];
        snprintf(p, sizeof p, "%s/empty", dir);
        T_CHECK(nnc_text_load(p, &t) == NNC_ERR_FORMAT && !t);
        T_CHECKF(strstr(nnc_last_error(), "is empty"), "message: %s", nnc_last_error());
        snprintf(p, sizeof p, "%s/sub", dir);
        mkdir(p, 0777);
        T_CHECK(nnc_text_load(p, &t) == NNC_ERR_FORMAT);
        T_CHECKF(strstr(nnc_last_error(), "no text files"), "message: %s", nnc_last_error());
        rmdir(p);
        T_CHECK(nnc_text_load(NULL, &t) == NNC_ERR_ARG);
    }
    const char *names[] = {"a", "b", "a.dat", ".hidden", "c.u8", "empty"};
    for (int i = 0; i < 6; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
    return t_finish();
}
