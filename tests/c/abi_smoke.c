/*
 * abi_smoke.c: the whole C API once, the right way and the wrong way, meant to be built with
 * -fsanitize=address,undefined (bindings/python/tests/test_c_sanitizers.py does that and runs
 * it). Exits 0 when every call returned the status expected; prints each mismatch.
 *
 *   cc -std=c99 -g -fsanitize=address,undefined -Iinclude tests/c/abi_smoke.c \
 *      -Lbuild_dir -llstmkit -Wl,-rpath,build_dir -lpthread -o abi_smoke && ./abi_smoke /tmp
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lstmkit.h"

static int failures = 0;

#define EXPECT(expected, call)                                                                 \
    do {                                                                                       \
        int got_ = (call);                                                                     \
        if (got_ != (expected)) {                                                              \
            fprintf(stderr, "%s:%d: %s returned %d, expected %d (%s)\n", __FILE__, __LINE__,   \
                    #call, got_, (expected), lstmkit_last_error());                            \
            failures++;                                                                        \
        }                                                                                      \
    } while (0)

static const char *CONFIG =
    "{\"input_shape\": [6], \"layers\": ["
    "{\"class_name\": \"Embedding\", \"config\": {\"input_dim\": 30, \"output_dim\": 4}},"
    "{\"class_name\": \"LSTM\", \"config\": {\"units\": 5}},"
    "{\"class_name\": \"Dense\", \"config\": {\"units\": 1, \"activation\": \"sigmoid\"}}]}";

enum { ROWS = 40, STEPS = 6 };
static int32_t ids[ROWS * STEPS];
static float labels[ROWS];
static int64_t x_shape[2] = {ROWS, STEPS};
static int64_t y_shape[1] = {ROWS};

static int stop_after_two(const lstmkit_progress *p, void *user) {
    int *batches = user;
    if (p->event == LSTMKIT_EVENT_BATCH_END) ++*batches;
    return *batches >= 2;
}

struct predictor { lstmkit_model *model; const float *reference; int mismatches; };

static void *predict_loop(void *arg) {
    struct predictor *p = arg;
    lstmkit_array x = {LSTMKIT_INT32, 2, x_shape, ids};
    float out[ROWS];
    size_t count = 0;
    for (int i = 0; i < 30; i++) {
        if (lstmkit_model_predict(p->model, &x, 7, out, ROWS, &count, NULL, 0, NULL) != LSTMKIT_OK
            || memcmp(out, p->reference, sizeof out) != 0)
            p->mismatches++;
    }
    return NULL;
}

struct loader { const char *path; int failures; };

static void *load_loop(void *arg) {
    struct loader *l = arg;
    for (int i = 0; i < 20; i++) {
        lstmkit_model *m = NULL;
        if (lstmkit_model_load(l->path, &m) != LSTMKIT_OK) l->failures++;
        lstmkit_model_free(m);
    }
    return NULL;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    char path[4096];
    snprintf(path, sizeof path, "%s/abi_smoke.lstmkit", dir);
    for (int i = 0; i < ROWS * STEPS; i++) ids[i] = (i * 7 + 3) % 30;
    for (int i = 0; i < ROWS; i++) labels[i] = (float)(ids[i * STEPS] > 15);
    lstmkit_array x = {LSTMKIT_INT32, 2, x_shape, ids};
    lstmkit_array y = {LSTMKIT_FLOAT32, 1, y_shape, labels};

    if (lstmkit_version() != LSTMKIT_VERSION) { fprintf(stderr, "version mismatch\n"); return 1; }

    /* The right way. */
    lstmkit_model *m = NULL;
    EXPECT(LSTMKIT_OK, lstmkit_model_create(CONFIG, 42, &m));
    EXPECT(LSTMKIT_E_WRONG_STATE, lstmkit_model_fit(m, &x, &y, NULL, NULL, NULL));
    EXPECT(LSTMKIT_OK, lstmkit_model_compile(m, "{\"loss\": \"binary_crossentropy\", \"metrics\": [\"accuracy\"]}"));
    EXPECT(LSTMKIT_OK, lstmkit_model_fit(m, &x, &y, "{\"epochs\": 2, \"batch_size\": 8}", NULL, NULL));
    int batches = 0;
    EXPECT(LSTMKIT_E_CANCELLED, lstmkit_model_fit(m, &x, &y, "{\"epochs\": 3, \"batch_size\": 8}", stop_after_two, &batches));
    if (batches != 2) { fprintf(stderr, "cancelled after %d batches\n", batches); failures++; }
    double results[2];
    size_t count = 0;
    EXPECT(LSTMKIT_OK, lstmkit_model_evaluate(m, &x, &y, 16, results, 2, &count));
    float probs[ROWS];
    int64_t out_shape[2];
    int32_t out_ndim = 0;
    EXPECT(LSTMKIT_OK, lstmkit_model_predict(m, &x, 16, probs, ROWS, &count, out_shape, 2, &out_ndim));
    if (count != ROWS || out_ndim != 2 || out_shape[1] != 1) { fprintf(stderr, "predict shape\n"); failures++; }
    size_t needed = 0;
    EXPECT(LSTMKIT_OK, lstmkit_model_summary(m, NULL, 0, &needed));
    char *text = malloc(needed);
    EXPECT(LSTMKIT_E_BUFFER_TOO_SMALL, lstmkit_model_summary(m, text, needed - 1, &needed));
    EXPECT(LSTMKIT_OK, lstmkit_model_summary(m, text, needed, &needed));
    free(text);
    EXPECT(LSTMKIT_OK, lstmkit_model_save(m, path));

    lstmkit_model *loaded = NULL;
    EXPECT(LSTMKIT_OK, lstmkit_model_load(path, &loaded));
    float again[ROWS];
    EXPECT(LSTMKIT_OK, lstmkit_model_predict(loaded, &x, 5, again, ROWS, &count, NULL, 0, NULL));
    if (memcmp(probs, again, sizeof probs) != 0) { fprintf(stderr, "loaded model predicts differently\n"); failures++; }

    /* Eight threads predict on one model while another thread loads models. */
    struct predictor pr[8];
    struct loader ld = {path, 0};
    pthread_t threads[9];
    for (int i = 0; i < 8; i++) {
        pr[i] = (struct predictor){loaded, probs, 0};
        pthread_create(&threads[i], NULL, predict_loop, &pr[i]);
    }
    pthread_create(&threads[8], NULL, load_loop, &ld);
    for (int i = 0; i < 9; i++) pthread_join(threads[i], NULL);
    for (int i = 0; i < 8; i++) if (pr[i].mismatches) { fprintf(stderr, "thread %d: %d mismatches\n", i, pr[i].mismatches); failures++; }
    if (ld.failures) { fprintf(stderr, "%d loads failed\n", ld.failures); failures++; }

    lstmkit_tokenizer *t = NULL;
    EXPECT(LSTMKIT_OK, lstmkit_tokenizer_create(NULL, &t));
    const char *texts[2] = {"the cat sat", "the dog ran \xc3\xa9"};
    EXPECT(LSTMKIT_OK, lstmkit_tokenizer_fit(t, texts, 2));
    int32_t seq[16];
    int64_t offsets[3];
    EXPECT(LSTMKIT_OK, lstmkit_tokenizer_texts_to_sequences(t, texts, 2, seq, 16, &count, offsets));
    int32_t padded[2 * 4];
    EXPECT(LSTMKIT_OK, lstmkit_pad_sequences(seq, offsets, 2, 4, LSTMKIT_PAD_PRE, LSTMKIT_PAD_PRE, 0, padded, 8));
    EXPECT(LSTMKIT_OK, lstmkit_model_set_tokenizer(m, t));

    /* Text in one call: the saved tokenizer and padding, then predict. */
    EXPECT(LSTMKIT_OK, lstmkit_model_set_text_padding(m, -1, LSTMKIT_PAD_POST, LSTMKIT_PAD_PRE, 0));
    EXPECT(LSTMKIT_OK, lstmkit_model_set_target_tokenizer(m, t));
    int64_t text_maxlen = 0, lengths[2] = {-1, -1};
    int32_t text_padding = -1;
    EXPECT(LSTMKIT_OK, lstmkit_model_get_text_padding(m, &text_maxlen, &text_padding, NULL, NULL));
    if (text_maxlen != STEPS || text_padding != LSTMKIT_PAD_POST) { fprintf(stderr, "text padding\n"); failures++; }
    float text_probs[2];
    EXPECT(LSTMKIT_OK, lstmkit_model_predict_texts(m, texts, 2, 1, text_probs, 2, &count, out_shape, 2, &out_ndim, lengths));
    if (count != 2 || lengths[0] != 3 || lengths[1] != 4) { fprintf(stderr, "predict_texts lengths\n"); failures++; }
    lstmkit_tokenizer *target = NULL;
    EXPECT(LSTMKIT_OK, lstmkit_model_get_target_tokenizer(m, &target));
    char words[64];
    EXPECT(LSTMKIT_OK, lstmkit_tokenizer_sequence_to_text(target, seq, 3, words, sizeof words, &needed));
    if (strcmp(words, "the cat sat") != 0) { fprintf(stderr, "sequence_to_text gave '%s'\n", words); failures++; }
    EXPECT(LSTMKIT_E_BUFFER_TOO_SMALL, lstmkit_tokenizer_sequence_to_text(target, seq, 3, words, 4, &needed));
    lstmkit_tokenizer_free(target);

    /* The wrong way: every call below must fail cleanly. */
    const char *holes[2] = {"the cat", NULL};
    EXPECT(LSTMKIT_E_INVALID_ARGUMENT, lstmkit_model_predict_texts(m, holes, 2, 1, text_probs, 2, &count, NULL, 0, NULL, NULL));
    EXPECT(LSTMKIT_E_INVALID_ARGUMENT, lstmkit_model_predict_texts(m, NULL, 2, 1, text_probs, 2, &count, NULL, 0, NULL, NULL));
    EXPECT(LSTMKIT_E_INVALID_ARGUMENT, lstmkit_model_predict_texts(m, texts, 0, 1, text_probs, 2, &count, NULL, 0, NULL, NULL));
    EXPECT(LSTMKIT_E_BUFFER_TOO_SMALL, lstmkit_model_predict_texts(m, texts, 2, 1, text_probs, 1, &count, NULL, 0, NULL, lengths));
    EXPECT(LSTMKIT_E_WRONG_STATE, lstmkit_model_predict_texts(loaded, texts, 2, 1, text_probs, 2, &count, NULL, 0, NULL, NULL));
    EXPECT(LSTMKIT_E_INVALID_ARGUMENT, lstmkit_model_set_text_padding(m, 0, 0, 0, 0));
    EXPECT(LSTMKIT_E_INVALID_ARGUMENT, lstmkit_tokenizer_sequence_to_text(t, NULL, 3, words, sizeof words, &needed));
    const char *bad_texts[1] = {"bad \xff utf-8"};
    EXPECT(LSTMKIT_E_INVALID_ARGUMENT, lstmkit_tokenizer_fit(t, bad_texts, 1));
    lstmkit_model *none = m;
    EXPECT(LSTMKIT_E_INVALID_ARGUMENT, lstmkit_model_create(NULL, 0, &none));
    if (none != NULL) { fprintf(stderr, "a failed create must set *out to NULL\n"); failures++; }
    EXPECT(LSTMKIT_E_BAD_CONFIG, lstmkit_model_create("{\"layers\": [{\"class_name\": \"Nope\"}]}", 0, &none));
    EXPECT(LSTMKIT_E_INVALID_ARGUMENT, lstmkit_model_predict(NULL, &x, 1, probs, ROWS, &count, NULL, 0, NULL));
    int64_t zero_shape[2] = {0, STEPS};
    lstmkit_array empty = {LSTMKIT_INT32, 2, zero_shape, ids};
    EXPECT(LSTMKIT_E_INVALID_ARGUMENT, lstmkit_model_predict(m, &empty, 1, probs, ROWS, &count, NULL, 0, NULL));
    lstmkit_array rank0 = {LSTMKIT_INT32, 0, x_shape, ids};
    EXPECT(LSTMKIT_E_INVALID_ARGUMENT, lstmkit_model_fit(m, &rank0, &y, NULL, NULL, NULL));
    ids[5] = 30;   /* == input_dim */
    EXPECT(LSTMKIT_E_INVALID_ARGUMENT, lstmkit_model_predict(m, &x, 1, probs, ROWS, &count, NULL, 0, NULL));
    ids[5] = 1;
    labels[3] = NAN;
    EXPECT(LSTMKIT_E_INVALID_ARGUMENT, lstmkit_model_fit(m, &x, &y, NULL, NULL, NULL));
    labels[3] = 1;
    EXPECT(LSTMKIT_E_BUFFER_TOO_SMALL, lstmkit_model_predict(m, &x, 1, probs, ROWS - 1, &count, NULL, 0, NULL));
    EXPECT(LSTMKIT_E_BAD_CONFIG, lstmkit_model_fit(m, &x, &y, "{\"batch_size\": 0}", NULL, NULL));
    EXPECT(LSTMKIT_E_IO, lstmkit_model_load("/nonexistent/x.lstmkit", &none));
    EXPECT(LSTMKIT_E_INVALID_ARGUMENT, lstmkit_pad_sequences(seq, offsets, 2, 0, 0, 0, 0, padded, 8));

    lstmkit_model *dead = m;
    lstmkit_model_free(m);
    EXPECT(LSTMKIT_E_INVALID_ARGUMENT, lstmkit_model_save(dead, path));   /* freed: refused */
    lstmkit_model_free(dead);                                            /* double free: ignored */
    lstmkit_model_free((lstmkit_model *)t);                              /* wrong type: ignored */
    EXPECT(LSTMKIT_OK, lstmkit_tokenizer_to_json(t, NULL, 0, &needed));  /* ... and t still works */
    lstmkit_tokenizer_free(t);
    lstmkit_model_free(loaded);
    lstmkit_model_free(NULL);
    lstmkit_tokenizer_free(NULL);
    remove(path);

    if (failures) fprintf(stderr, "%d failures\n", failures);
    else printf("abi_smoke: all calls returned the expected status\n");
    return failures != 0;
}
