/*
 * libFuzzer harness for the JSON arguments of the C API. The first input byte picks the entry
 * point, the rest is the JSON text (or, for 4, a text to tokenize):
 *   0 lstmkit_model_create (then summary, config round trip, compile, predict, fit on small data)
 *   1 lstmkit_model_compile on a small model          2 lstmkit_tokenizer_from_json
 *   3 lstmkit_tokenizer_create                        4 tokenizer fit/texts_to_sequences on text
 *   5 lstmkit_model_fit options on a small model
 * Any status outside the ones documented for that call, a handle from a failed call, or a
 * sanitizer report is a finding.
 *
 *   bash fuzz/run.sh [seconds] json      builds and runs this one instead of fuzz_load
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lstmkit.h"

#define REQUIRE(cond)                                                                          \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: %s failed (%s)\n", __FILE__, __LINE__, #cond,              \
                    lstmkit_last_error());                                                     \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

static const char *SMALL =
    "{\"input_shape\": [4], \"layers\": [{\"class_name\": \"Embedding\", \"config\": "
    "{\"input_dim\": 8, \"output_dim\": 2}}, {\"class_name\": \"LSTM\", \"config\": {\"units\": 2}},"
    "{\"class_name\": \"Dense\", \"config\": {\"units\": 1, \"activation\": \"sigmoid\"}}]}";

static int32_t ids[8 * 4];
static float labels[8] = {0, 1, 0, 1, 1, 0, 1, 0};
static int64_t x_shape[2] = {8, 4}, y_shape[1] = {8};

static int stop_after_20(const lstmkit_progress *p, void *user) {
    int *batches = user;
    return p->event == LSTMKIT_EVENT_BATCH_END && ++*batches >= 20;
}

static void run_model(lstmkit_model *m) {
    size_t needed = 0;
    REQUIRE(lstmkit_model_summary(m, NULL, 0, &needed) == LSTMKIT_OK);
    REQUIRE(lstmkit_model_config(m, NULL, 0, &needed) == LSTMKIT_OK);
    char *config = malloc(needed);
    REQUIRE(config != NULL && lstmkit_model_config(m, config, needed, &needed) == LSTMKIT_OK);
    lstmkit_model *again = NULL;
    int rc = lstmkit_model_create(config, 0, &again);   /* the config it reports must be accepted */
    REQUIRE(rc == LSTMKIT_OK || rc == LSTMKIT_E_NO_MEMORY);
    lstmkit_model_free(again);
    free(config);

    int64_t shape[9];
    int32_t ndim = 0, dtype = 0;
    int64_t params = 0;
    REQUIRE(lstmkit_model_count_params(m, &params) == LSTMKIT_OK);
    REQUIRE(lstmkit_model_input_spec(m, shape, 9, &ndim, &dtype) == LSTMKIT_OK);
    if (ndim < 2 || params > 100000) return;
    shape[0] = 2;
    int64_t cells = 2;
    for (int i = 1; i < ndim; i++) {
        if (shape[i] < 0) shape[i] = 3;
        if (shape[i] > 64) return;
        cells *= shape[i];
    }
    if (cells > 4096) return;
    float *x = calloc((size_t)cells, 4);
    lstmkit_array xa = {dtype, ndim, shape, x};
    size_t count = 0;
    rc = lstmkit_model_predict(m, &xa, 2, NULL, 0, &count, NULL, 0, NULL);
    REQUIRE(rc == LSTMKIT_OK || rc == LSTMKIT_E_INVALID_ARGUMENT || rc == LSTMKIT_E_NO_MEMORY);
    if (rc == LSTMKIT_OK && count <= 65536) {
        float *out = malloc((count ? count : 1) * sizeof(float));
        REQUIRE(lstmkit_model_predict(m, &xa, 2, out, count, &count, NULL, 0, NULL) == LSTMKIT_OK);
        free(out);
        /* Train one step on zeros against zero targets of the output's shape. */
        rc = lstmkit_model_compile(m, "{\"loss\": \"mse\"}");
        REQUIRE(rc == LSTMKIT_OK);
        float *y = calloc(count ? count : 1, sizeof(float));
        int64_t yshape[9];
        int32_t yndim = 0;
        REQUIRE(lstmkit_model_predict(m, &xa, 2, NULL, 0, &count, yshape, 9, &yndim) == LSTMKIT_OK);
        lstmkit_array ya = {LSTMKIT_FLOAT32, yndim, yshape, y};
        rc = lstmkit_model_fit(m, &xa, &ya, "{\"epochs\": 1, \"batch_size\": 1}", NULL, NULL);
        REQUIRE(rc == LSTMKIT_OK || rc == LSTMKIT_E_NUMERIC || rc == LSTMKIT_E_NO_MEMORY);
        free(y);
    }
    free(x);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    /* Models the engine would accept on this machine but that exceed -rss_limit_mb are refused. */
    setenv("LSTMKIT_MEMORY_LIMIT", "1000000000", 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    lstmkit_model *m = NULL;
    lstmkit_tokenizer *t = NULL;
    int rc;
    switch (data[0] % 6) {
    case 0:
        rc = lstmkit_model_create(text, 1, &m);
        REQUIRE(rc == LSTMKIT_OK || rc == LSTMKIT_E_BAD_CONFIG || rc == LSTMKIT_E_NO_MEMORY);
        REQUIRE((rc == LSTMKIT_OK) == (m != NULL));
        if (m) run_model(m);
        break;
    case 1:
    case 5:
        REQUIRE(lstmkit_model_create(SMALL, 1, &m) == LSTMKIT_OK);
        if (data[0] % 6 == 1) {
            rc = lstmkit_model_compile(m, text);
            REQUIRE(rc == LSTMKIT_OK || rc == LSTMKIT_E_BAD_CONFIG);
        } else {
            REQUIRE(lstmkit_model_compile(m, "{\"loss\": \"binary_crossentropy\"}") == LSTMKIT_OK);
            for (int i = 0; i < 32; i++) ids[i] = i % 8;
            lstmkit_array xa = {LSTMKIT_INT32, 2, x_shape, ids};
            lstmkit_array ya = {LSTMKIT_FLOAT32, 1, y_shape, labels};
            /* The callback stops a long fit (many epochs) so it cannot time the fuzzer out. */
            int batches = 0;
            rc = lstmkit_model_fit(m, &xa, &ya, text, stop_after_20, &batches);
            REQUIRE(rc == LSTMKIT_OK || rc == LSTMKIT_E_BAD_CONFIG || rc == LSTMKIT_E_INVALID_ARGUMENT
                    || rc == LSTMKIT_E_CANCELLED);
        }
        break;
    case 2:
        rc = lstmkit_tokenizer_from_json(text, &t);
        REQUIRE(rc == LSTMKIT_OK || rc == LSTMKIT_E_BAD_CONFIG);
        REQUIRE((rc == LSTMKIT_OK) == (t != NULL));
        break;
    case 3:
        rc = lstmkit_tokenizer_create(text, &t);
        REQUIRE(rc == LSTMKIT_OK || rc == LSTMKIT_E_BAD_CONFIG);
        break;
    case 4:
        REQUIRE(lstmkit_tokenizer_create("{\"oov_token\": \"?\", \"num_words\": 50}", &t) == LSTMKIT_OK);
        break;
    }
    if (t) {
        const char *texts[2] = {text, "the cat sat"};
        rc = lstmkit_tokenizer_fit(t, texts, 2);
        REQUIRE(rc == LSTMKIT_OK || rc == LSTMKIT_E_INVALID_ARGUMENT);
        size_t count = 0;
        rc = lstmkit_tokenizer_texts_to_sequences(t, texts, 2, NULL, 0, &count, NULL);
        REQUIRE(rc == LSTMKIT_OK || rc == LSTMKIT_E_INVALID_ARGUMENT);
        if (rc == LSTMKIT_OK) {
            int32_t *seq = malloc((count + 1) * sizeof(int32_t));
            int64_t offsets[3];
            REQUIRE(lstmkit_tokenizer_texts_to_sequences(t, texts, 2, seq, count, &count, offsets) == LSTMKIT_OK);
            int32_t padded[2 * 5];
            REQUIRE(lstmkit_pad_sequences(seq, offsets, 2, 5, LSTMKIT_PAD_PRE, LSTMKIT_PAD_POST, 0, padded, 10) == LSTMKIT_OK);
            free(seq);
        }
        size_t needed = 0;
        REQUIRE(lstmkit_tokenizer_to_json(t, NULL, 0, &needed) == LSTMKIT_OK);
        char *json = malloc(needed);
        REQUIRE(lstmkit_tokenizer_to_json(t, json, needed, &needed) == LSTMKIT_OK);
        lstmkit_tokenizer *back = NULL;
        REQUIRE(lstmkit_tokenizer_from_json(json, &back) == LSTMKIT_OK);   /* round trip */
        lstmkit_tokenizer_free(back);
        free(json);
        if (m) REQUIRE(lstmkit_model_set_tokenizer(m, t) == LSTMKIT_OK);
        lstmkit_tokenizer_free(t);
    }
    lstmkit_model_free(m);
    free(text);
    return 0;
}
