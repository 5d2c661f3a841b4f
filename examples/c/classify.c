/*
 * classify MODEL [TEXTS_FILE]
 *
 * Loads a model saved with its tokenizer (e.g. by examples/python/imdb_lstm.py), reads texts
 * one per line (from TEXTS_FILE, or standard input), and prints the model's output for each
 * text: one probability per line for a single-output model, else the row's values separated
 * by spaces. Texts go to the library as they are (lstmkit_model_predict_texts tokenizes and pads
 * them with the settings saved in the model file), a batch of lines at a time, so the input may
 * be as long as you like; from a terminal, each line is answered as soon as it is typed.
 *
 *     echo "A wonderful little film, beautifully acted." | classify imdb_lstm.lstmkit
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
    char *texts[BATCH_LINES];
    size_t n_texts;
    int64_t lengths[BATCH_LINES];
    float *outputs;
    size_t outputs_capacity;
} resources;

static void drop_texts(resources *r) {
    size_t i;
    for (i = 0; i < r->n_texts; i++) free(r->texts[i]);
    r->n_texts = 0;
}

static void release(resources *r) {
    drop_texts(r);
    free(r->outputs);
    lstmkit_model_free(r->model);
}

static int fail_call(const char *what) {
    fprintf(stderr, "classify: %s failed: %s\n", what, lstmkit_last_error());
    return 1;
}

static int fail(const char *message) {
    fprintf(stderr, "classify: %s\n", message);
    return 1;
}

/* Reads one line of any length without its '\n' (and a '\r' before it). Returns 1 and sets
 * *line, 0 at end of input, -1 on a read or allocation error. Only '\n' ends a line: reviews
 * can hold U+0085, which some readers take for a line break. */
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

/* Predicts r->texts and prints one line per text; first_line numbers them in messages. */
static int classify_batch(resources *r, size_t first_line) {
    size_t n = r->n_texts, count = 0, per_row, i, j;
    int status = lstmkit_model_predict_texts(r->model, (const char *const *)r->texts, n, 64,
                                             r->outputs, r->outputs_capacity, &count,
                                             NULL, 0, NULL, r->lengths);
    if (status == LSTMKIT_E_BUFFER_TOO_SMALL || (status == LSTMKIT_OK && r->outputs == NULL)) {
        /* The first batch learns the output size; later batches of up to as many lines fit. */
        size_t rows = n > BATCH_LINES ? n : BATCH_LINES;
        float *bigger = realloc(r->outputs, (count / n) * rows * sizeof *bigger);
        if (bigger == NULL) return fail("out of memory");
        r->outputs = bigger;
        r->outputs_capacity = (count / n) * rows;
        status = lstmkit_model_predict_texts(r->model, (const char *const *)r->texts, n, 64,
                                             r->outputs, r->outputs_capacity, &count,
                                             NULL, 0, NULL, r->lengths);
    }
    if (status != LSTMKIT_OK) return fail_call("lstmkit_model_predict_texts");
    if (count % n != 0) return fail("the model's output does not split into one row per text");

    per_row = count / n;
    for (i = 0; i < n; i++) {
        /* Keras would predict on such a text's all-padding row too; say so rather than hide it. */
        if (r->lengths[i] == 0)
            fprintf(stderr, "classify: line %zu has no word the tokenizer knows; its output is "
                            "the model's for an empty text\n", first_line + i);
        for (j = 0; j < per_row; j++)
            printf(j + 1 < per_row ? "%.9g " : "%.9g\n", (double)r->outputs[i * per_row + j]);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) return fail("could not write the results");
    return 0;
}

int main(int argc, char **argv) {
    resources r;
    lstmkit_tokenizer *tokenizer = NULL;
    int64_t maxlen = 0;
    size_t batch_lines = BATCH_LINES, line_number = 1;
    FILE *in = stdin;
    int got, rc = 1;

    memset(&r, 0, sizeof r);
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s MODEL [TEXTS_FILE]\n"
                        "Prints the model's prediction for each line of TEXTS_FILE "
                        "(default: standard input).\n", argv[0]);
        return 2;
    }
    if (lstmkit_version() / 10000 != LSTMKIT_VERSION_MAJOR) {
        fprintf(stderr, "classify: built for lstmkit %d.x, but the library is %s\n",
                LSTMKIT_VERSION_MAJOR, lstmkit_version_string());
        return 1;
    }

    if (lstmkit_model_load(argv[1], &r.model) != LSTMKIT_OK) { rc = fail_call("loading the model"); goto done; }
    /* Refuse a model that cannot read texts before reading any. */
    if (lstmkit_model_get_tokenizer(r.model, &tokenizer) != LSTMKIT_OK) { rc = fail_call("lstmkit_model_get_tokenizer"); goto done; }
    if (tokenizer == NULL) { rc = fail("the model was saved without a tokenizer"); goto done; }
    lstmkit_tokenizer_free(tokenizer);
    if (lstmkit_model_get_text_padding(r.model, &maxlen, NULL, NULL, NULL) != LSTMKIT_OK) {
        rc = fail_call("lstmkit_model_get_text_padding"); goto done;
    }
    if (maxlen < 1) { rc = fail("the model was saved without a sequence length to pad texts to"); goto done; }

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
            if (classify_batch(&r, line_number) != 0) goto done;
            line_number += r.n_texts;
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
