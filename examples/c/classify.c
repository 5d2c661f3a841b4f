/*
 * classify MODEL [TEXTS_FILE]
 *
 * Loads a model saved with its tokenizer (e.g. by examples/python/imdb_lstm.py), reads texts
 * one per line (from TEXTS_FILE, or standard input), and prints the model's output for each
 * text: one probability per line for a single-output model, else the row's values separated
 * by spaces.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lstmkit.h"

/* Handles and buffers, freed in one place whatever the exit path. */
typedef struct {
    lstmkit_model *model;
    lstmkit_tokenizer *tokenizer;
    char **texts;
    size_t n_texts;
    int32_t *ids;
    int64_t *offsets;
    int32_t *padded;
    float *outputs;
} resources;

static void release(resources *r) {
    size_t i;
    for (i = 0; i < r->n_texts; i++) free(r->texts[i]);
    free(r->texts);
    free(r->ids);
    free(r->offsets);
    free(r->padded);
    free(r->outputs);
    lstmkit_tokenizer_free(r->tokenizer);
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

static int read_texts(FILE *in, resources *r) {
    size_t cap = 0;
    char *line = NULL;
    int got;
    while ((got = read_line(in, &line)) == 1) {
        if (r->n_texts == cap) {
            size_t new_cap = cap ? cap * 2 : 64;
            char **bigger = realloc(r->texts, new_cap * sizeof *bigger);
            if (bigger == NULL) { free(line); return -1; }
            r->texts = bigger;
            cap = new_cap;
        }
        r->texts[r->n_texts++] = line;
    }
    return got;
}

int main(int argc, char **argv) {
    resources r;
    size_t n, n_ids = 0, n_out = 0, per_row, i, j;
    int64_t shape[8], maxlen = 0, x_shape[2];
    int32_t ndim = 0, dtype = 0;
    lstmkit_array x;
    int status, rc = 1;

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
    if (lstmkit_model_get_tokenizer(r.model, &r.tokenizer) != LSTMKIT_OK) { rc = fail_call("lstmkit_model_get_tokenizer"); goto done; }
    if (r.tokenizer == NULL) { rc = fail("the model was saved without a tokenizer"); goto done; }
    if (lstmkit_model_input_spec(r.model, shape, 8, &ndim, &dtype) != LSTMKIT_OK) { rc = fail_call("lstmkit_model_input_spec"); goto done; }
    if (dtype != LSTMKIT_INT32 || ndim != 2) { rc = fail("the model does not take sequences of token ids"); goto done; }

    {
        FILE *in = stdin;
        int got;
        if (argc == 3 && (in = fopen(argv[2], "rb")) == NULL) {
            perror(argv[2]);
            goto done;
        }
        got = read_texts(in, &r);
        if (in != stdin) fclose(in);
        if (got < 0) { rc = fail("could not read the texts"); goto done; }
    }
    n = r.n_texts;
    if (n == 0) { rc = 0; goto done; }

    /* texts_to_sequences: ask for the total number of ids, then fill. */
    if (lstmkit_tokenizer_texts_to_sequences(r.tokenizer, (const char *const *)r.texts, n,
                                             NULL, 0, &n_ids, NULL) != LSTMKIT_OK) {
        rc = fail_call("lstmkit_tokenizer_texts_to_sequences"); goto done;
    }
    r.ids = malloc((n_ids ? n_ids : 1) * sizeof *r.ids);
    r.offsets = malloc((n + 1) * sizeof *r.offsets);
    if (r.ids == NULL || r.offsets == NULL) { rc = fail("out of memory"); goto done; }
    if (lstmkit_tokenizer_texts_to_sequences(r.tokenizer, (const char *const *)r.texts, n,
                                             r.ids, n_ids ? n_ids : 1, &n_ids, r.offsets) != LSTMKIT_OK) {
        rc = fail_call("lstmkit_tokenizer_texts_to_sequences"); goto done;
    }

    /* Pad 'pre' to the length the model was built for, else to the longest text. */
    maxlen = shape[1];
    if (maxlen < 1) {
        maxlen = 1;
        for (i = 0; i < n; i++)
            if (r.offsets[i + 1] - r.offsets[i] > maxlen) maxlen = r.offsets[i + 1] - r.offsets[i];
    }
    r.padded = malloc(n * (size_t)maxlen * sizeof *r.padded);
    if (r.padded == NULL) { rc = fail("out of memory"); goto done; }
    if (lstmkit_pad_sequences(r.ids, r.offsets, n, maxlen, LSTMKIT_PAD_PRE, LSTMKIT_PAD_PRE, 0,
                              r.padded, n * (size_t)maxlen) != LSTMKIT_OK) {
        rc = fail_call("lstmkit_pad_sequences"); goto done;
    }

    /* A classifier usually gives one value per text; a larger output is retried at its size. */
    x_shape[0] = (int64_t)n;
    x_shape[1] = maxlen;
    x.dtype = LSTMKIT_INT32;
    x.ndim = 2;
    x.shape = x_shape;
    x.data = r.padded;
    n_out = n;
    r.outputs = malloc(n_out * sizeof *r.outputs);
    if (r.outputs == NULL) { rc = fail("out of memory"); goto done; }
    status = lstmkit_model_predict(r.model, &x, 256, r.outputs, n_out, &n_out, NULL, 0, NULL);
    if (status == LSTMKIT_E_BUFFER_TOO_SMALL) {
        float *bigger = realloc(r.outputs, n_out * sizeof *bigger);
        if (bigger == NULL) { rc = fail("out of memory"); goto done; }
        r.outputs = bigger;
        status = lstmkit_model_predict(r.model, &x, 256, r.outputs, n_out, &n_out, NULL, 0, NULL);
    }
    if (status != LSTMKIT_OK) { rc = fail_call("lstmkit_model_predict"); goto done; }
    if (n_out % n != 0) { rc = fail("the model's output does not split into one row per text"); goto done; }

    per_row = n_out / n;
    for (i = 0; i < n; i++) {
        for (j = 0; j < per_row; j++)
            printf(j + 1 < per_row ? "%.9g " : "%.9g\n", (double)r.outputs[i * per_row + j]);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) { rc = fail("could not write the results"); goto done; }
    rc = 0;

done:
    release(&r);
    return rc;
}
