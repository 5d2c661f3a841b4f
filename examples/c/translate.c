/*
 * translate MODEL [TEXTS_FILE]
 *
 * Loads an encoder-decoder translation model saved with both its tokenizers (the source
 * language's, which reads the input, and the target language's; examples/python/translate_en_fr.py
 * saves one), reads sentences one per line (from TEXTS_FILE, or standard input) and prints each
 * one's translation: at every output step the most probable word (argmax over the softmax),
 * decoded by the target tokenizer, padding dropped.
 *
 *     echo "new jersey is sometimes quiet during autumn" | translate translate_en_fr.lstmkit
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lstmkit.h"

enum { BATCH_LINES = 256 };

/* Handles and buffers, freed in one place whatever the exit path. */
typedef struct {
    lstmkit_model *model;
    lstmkit_tokenizer *target;
    char *texts[BATCH_LINES];
    size_t n_texts;
    float *outputs;
    size_t outputs_capacity;
    int32_t *ids;
    char *words;
    size_t words_capacity;
} resources;

static void drop_texts(resources *r) {
    size_t i;
    for (i = 0; i < r->n_texts; i++) free(r->texts[i]);
    r->n_texts = 0;
}

static void release(resources *r) {
    drop_texts(r);
    free(r->outputs);
    free(r->ids);
    free(r->words);
    lstmkit_tokenizer_free(r->target);
    lstmkit_model_free(r->model);
}

static int fail_call(const char *what) {
    fprintf(stderr, "translate: %s failed: %s\n", what, lstmkit_last_error());
    return 1;
}

static int fail(const char *message) {
    fprintf(stderr, "translate: %s\n", message);
    return 1;
}

/* Reads one line of any length without its '\n' (and a '\r' before it). Returns 1 and sets
 * *line, 0 at end of input, -1 on a read or allocation error. */
static int read_line(FILE *in, char **line) {
    size_t cap = 256, len = 0;
    char *buf = malloc(cap);
    int c;
    if (buf == NULL) return -1;
    while ((c = getc(in)) != EOF && c != '\n') {
        if (len + 1 >= cap) {
            char *bigger = realloc(buf, cap * 2);
            if (bigger == NULL) { free(buf); return -1; }
            buf = bigger;
            cap *= 2;
        }
        buf[len++] = (char)c;
    }
    if (ferror(in) || (c == EOF && len == 0)) {
        free(buf);
        return ferror(in) ? -1 : 0;
    }
    if (len > 0 && buf[len - 1] == '\r') len--;
    buf[len] = '\0';
    *line = buf;
    return 1;
}

/* The words of n ids in r->words (grown as needed). */
static int decode(resources *r, const int32_t *ids, size_t n) {
    size_t needed = 0;
    int status = lstmkit_tokenizer_sequence_to_text(r->target, ids, n, r->words, r->words_capacity, &needed);
    if (status == LSTMKIT_E_BUFFER_TOO_SMALL || (status == LSTMKIT_OK && r->words == NULL)) {
        char *bigger = realloc(r->words, needed);
        if (bigger == NULL) return fail("out of memory");
        r->words = bigger;
        r->words_capacity = needed;
        status = lstmkit_tokenizer_sequence_to_text(r->target, ids, n, r->words, r->words_capacity, &needed);
    }
    return status == LSTMKIT_OK ? 0 : fail_call("lstmkit_tokenizer_sequence_to_text");
}

/* Translates r->texts and prints one line per text. */
static int translate_batch(resources *r) {
    size_t n = r->n_texts, count = 0, steps, vocab, i, t, k;
    int64_t shape[8];
    int32_t ndim = 0;
    int status = lstmkit_model_predict_texts(r->model, (const char *const *)r->texts, n, 64,
                                             r->outputs, r->outputs_capacity, &count,
                                             shape, 8, &ndim, NULL);
    if (status == LSTMKIT_E_BUFFER_TOO_SMALL || (status == LSTMKIT_OK && r->outputs == NULL)) {
        /* The first batch learns the output size; later batches of up to as many lines fit. */
        size_t rows = n > BATCH_LINES ? n : BATCH_LINES;
        float *bigger = realloc(r->outputs, (count / n) * rows * sizeof *bigger);
        if (bigger == NULL) return fail("out of memory");
        r->outputs = bigger;
        r->outputs_capacity = (count / n) * rows;
        status = lstmkit_model_predict_texts(r->model, (const char *const *)r->texts, n, 64,
                                             r->outputs, r->outputs_capacity, &count,
                                             shape, 8, &ndim, NULL);
    }
    if (status != LSTMKIT_OK) return fail_call("lstmkit_model_predict_texts");
    if (ndim != 3) return fail("the model does not output a word distribution per step (samples, steps, words)");
    steps = (size_t)shape[1];
    vocab = (size_t)shape[2];
    if (r->ids == NULL && (r->ids = malloc(steps * sizeof *r->ids)) == NULL) return fail("out of memory");

    for (i = 0; i < n; i++) {
        for (t = 0; t < steps; t++) {
            /* argmax, the first of equal maxima as numpy's */
            const float *p = r->outputs + (i * steps + t) * vocab;
            size_t best = 0;
            for (k = 1; k < vocab; k++)
                if (p[k] > p[best]) best = k;
            r->ids[t] = (int32_t)best;
        }
        if (decode(r, r->ids, steps) != 0) return 1;
        printf("%s\n", r->words);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) return fail("could not write the results");
    return 0;
}

int main(int argc, char **argv) {
    resources r;
    size_t batch_lines = BATCH_LINES;
    FILE *in = stdin;
    int got, rc = 1;

    memset(&r, 0, sizeof r);
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s MODEL [TEXTS_FILE]\n"
                        "Prints the translation of each line of TEXTS_FILE "
                        "(default: standard input).\n", argv[0]);
        return 2;
    }
    if (lstmkit_version() / 10000 != LSTMKIT_VERSION_MAJOR) {
        fprintf(stderr, "translate: built for lstmkit %d.x, but the library is %s\n",
                LSTMKIT_VERSION_MAJOR, lstmkit_version_string());
        return 1;
    }

    if (lstmkit_model_load(argv[1], &r.model) != LSTMKIT_OK) { rc = fail_call("loading the model"); goto done; }
    if (lstmkit_model_get_target_tokenizer(r.model, &r.target) != LSTMKIT_OK) {
        rc = fail_call("lstmkit_model_get_target_tokenizer"); goto done;
    }
    if (r.target == NULL) { rc = fail("the model was saved without a target tokenizer to decode its output"); goto done; }

    if (argc == 3 && (in = fopen(argv[2], "rb")) == NULL) {
        perror(argv[2]);
        goto done;
    }
    if (isatty(fileno(in))) batch_lines = 1;
    for (;;) {
        char *line = NULL;
        got = read_line(in, &line);
        if (got == 1) r.texts[r.n_texts++] = line;
        if (r.n_texts > 0 && (r.n_texts == batch_lines || got != 1)) {
            if (translate_batch(&r) != 0) goto done;
            drop_texts(&r);
        }
        if (got != 1) break;
    }
    if (got < 0) { rc = fail("could not read the texts"); goto done; }
    rc = 0;

done:
    if (in != NULL && in != stdin) fclose(in);
    release(&r);
    return rc;
}
