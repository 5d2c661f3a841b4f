/*
 * text_latency MODEL TEXTS_FILE CALLS [WARMUP]
 *
 * Batch-1 text -> probability latency of lstmkit_model_predict_texts, called from C: the model's
 * own tokenizer and saved text padding, then predict, one text per call. Loads MODEL (saved with
 * its tokenizer), reads TEXTS_FILE (one text per line), makes WARMUP untimed calls, then CALLS
 * timed ones (CLOCK_MONOTONIC), text i % lines for call i, and then the same calls of
 * lstmkit_tokenizer_texts_to_sequences alone (the tokenizer's share). Prints one line:
 *     median_ms=... p90_ms=... min_ms=... tokenize_median_ms=... n=...
 * bench/text_latency.py runs it against ONNX Runtime with a hand tokenizer.
 *
 * Build: cc -O2 -o text_latency text_latency.c -I include -L .build/release -llstmkit
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lstmkit.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int fail(const char *what) {
    fprintf(stderr, "text_latency: %s: %s\n", what, lstmkit_last_error());
    return 1;
}

/* All lines of path (without '\n'), any length; NULL on error. */
static char **read_lines(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    char **lines = NULL, *line = NULL;
    size_t cap = 0, len = 0, lcap = 0;
    int c;
    *n = 0;
    if (f == NULL) { perror(path); return NULL; }
    for (;;) {
        c = getc(f);
        if (c == EOF && len == 0 && line == NULL) break;
        if (line == NULL) { lcap = 1024; len = 0; if ((line = malloc(lcap)) == NULL) exit(1); }
        if (c == '\n' || c == EOF) {
            line[len] = '\0';
            if (*n == cap) {
                cap = cap ? cap * 2 : 256;
                if ((lines = realloc(lines, cap * sizeof *lines)) == NULL) exit(1);
            }
            lines[(*n)++] = line;
            line = NULL;
            len = 0;
            if (c == EOF) break;
            continue;
        }
        if (len + 1 >= lcap && (line = realloc(line, lcap *= 2)) == NULL) exit(1);
        line[len++] = (char)c;
    }
    fclose(f);
    return lines;
}

int main(int argc, char **argv) {
    lstmkit_model *model = NULL;
    lstmkit_tokenizer *tok = NULL;
    size_t n_texts = 0, calls, warmup, i, count = 0, n_ids = 0;
    double *times, *tok_times;
    float out[16];
    int32_t *ids;
    int64_t offsets[2];
    char **texts;

    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: %s MODEL TEXTS_FILE CALLS [WARMUP]\n", argv[0]);
        return 2;
    }
    calls = (size_t)strtoul(argv[3], NULL, 10);
    warmup = argc > 4 ? (size_t)strtoul(argv[4], NULL, 10) : 20;
    if (calls == 0) { fprintf(stderr, "text_latency: CALLS must be at least 1\n"); return 2; }
    if ((texts = read_lines(argv[2], &n_texts)) == NULL || n_texts == 0) {
        fprintf(stderr, "text_latency: no texts in %s\n", argv[2]);
        return 1;
    }
    if (lstmkit_model_load(argv[1], &model) != LSTMKIT_OK) return fail("loading the model");
    if (lstmkit_model_get_tokenizer(model, &tok) != LSTMKIT_OK || tok == NULL) return fail("the model's tokenizer");
    times = malloc(calls * sizeof *times);
    tok_times = malloc(calls * sizeof *tok_times);
    ids = malloc(((size_t)1 << 20) * sizeof *ids);   /* a million ids: more than any review has */
    if (times == NULL || tok_times == NULL || ids == NULL) return 1;

    for (i = 0; i < warmup + calls; i++) {
        const char *text = texts[i % n_texts];
        double t0 = now_ms();
        if (lstmkit_model_predict_texts(model, &text, 1, 1, out, 16, &count, NULL, 0, NULL, NULL) != LSTMKIT_OK)
            return fail("lstmkit_model_predict_texts");
        if (i >= warmup) times[i - warmup] = now_ms() - t0;
    }
    for (i = 0; i < warmup + calls; i++) {
        const char *text = texts[i % n_texts];
        double t0 = now_ms();
        if (lstmkit_tokenizer_texts_to_sequences(tok, &text, 1, ids, 1 << 20, &n_ids, offsets) != LSTMKIT_OK)
            return fail("lstmkit_tokenizer_texts_to_sequences");
        if (i >= warmup) tok_times[i - warmup] = now_ms() - t0;
    }
    qsort(times, calls, sizeof *times, cmp_double);
    qsort(tok_times, calls, sizeof *tok_times, cmp_double);
    printf("median_ms=%.4f p90_ms=%.4f min_ms=%.4f tokenize_median_ms=%.4f n=%zu\n",
           times[calls / 2], times[(calls * 9) / 10], times[0], tok_times[calls / 2], calls);

    lstmkit_tokenizer_free(tok);
    lstmkit_model_free(model);
    for (i = 0; i < n_texts; i++) free(texts[i]);
    free(texts);
    free(times);
    free(tok_times);
    free(ids);
    return 0;
}
