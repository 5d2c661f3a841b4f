/*
 * libFuzzer harness for lstmkit_model_load: every input is written to a private temp file and
 * loaded. Anything but LSTMKIT_OK, LSTMKIT_E_FORMAT or LSTMKIT_E_NO_MEMORY is a finding (abort),
 * as is any crash or sanitizer report. A model that loads is also summarised and run once on a
 * tiny input and trained for one step (using any optimizer state the file restored), so a file
 * that passes the checks cannot leave the model in an unusable state.
 *
 *   bash fuzz/run.sh            builds this against liblstmkit.so and starts one fuzz process
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lstmkit.h"

static char path[128];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    const char *dir = getenv("LSTMKIT_FUZZ_TMP");
    if (dir == NULL) dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(path, sizeof path, "%s/lstmkit-fuzz-%d.lstmkit", dir, (int)getpid());
    setenv("LSTMKIT_MEMORY_LIMIT", "1000000000", 0);   /* stay below -rss_limit_mb */
    return 0;
}

/* The text path of a loaded model: its tokenizers and text padding come from the file. A model
 * without a tokenizer or a length (WRONG_STATE), one that takes no ids or whose tokenizer gives
 * ids beyond its Embedding (INVALID_ARGUMENT), weights that overflow float32 on these texts
 * (NUMERIC) and a mixed_bfloat16 policy this machine cannot run (UNSUPPORTED) are fine answers;
 * anything else is a finding. */
static void exercise_text(lstmkit_model *m) {
    static const char *const texts[3] = {"the cat sat", "", "caf\xc3\xa9 na\xc3\xafve THE DOG ran!"};
    float out[64];
    size_t count = 0, needed = 0;
    int64_t lengths[3];
    int rc = lstmkit_model_predict_texts(m, texts, 3, 2, NULL, 0, &count, NULL, 0, NULL, lengths);
    if (rc == LSTMKIT_OK && count <= 64)
        rc = lstmkit_model_predict_texts(m, texts, 3, 2, out, 64, &count, NULL, 0, NULL, lengths);
    if (rc != LSTMKIT_OK && rc != LSTMKIT_E_WRONG_STATE && rc != LSTMKIT_E_INVALID_ARGUMENT &&
        rc != LSTMKIT_E_NO_MEMORY && rc != LSTMKIT_E_NUMERIC && rc != LSTMKIT_E_UNSUPPORTED) {
        fprintf(stderr, "predict_texts on a loaded model: status %d: %s\n", rc, lstmkit_last_error());
        abort();
    }
    if (lstmkit_model_get_text_padding(m, NULL, NULL, NULL, NULL) != LSTMKIT_OK) abort();
    lstmkit_tokenizer *target = NULL;
    if (lstmkit_model_get_target_tokenizer(m, &target) != LSTMKIT_OK) abort();
    if (target != NULL) {
        static const int32_t ids[6] = {0, 1, 2, 3, -1, 1 << 30};
        if (lstmkit_tokenizer_sequence_to_text(target, ids, 6, NULL, 0, &needed) != LSTMKIT_OK) abort();
        lstmkit_tokenizer_free(target);
    }
}

static void exercise(lstmkit_model *m) {
    size_t needed = 0;
    if (lstmkit_model_summary(m, NULL, 0, &needed) != LSTMKIT_OK) abort();
    exercise_text(m);
    int64_t params = 0;
    if (lstmkit_model_count_params(m, &params) != LSTMKIT_OK || params < 0) abort();

    int64_t shape[9] = {0};
    int32_t ndim = 0, dtype = 0;
    if (lstmkit_model_input_spec(m, shape, 9, &ndim, &dtype) != LSTMKIT_OK) abort();
    if (ndim < 2 || ndim > 8) return;
    /* One sample, unknown lengths as 3 steps; small models only, to keep each run fast. */
    shape[0] = 1;
    int64_t cells = 1;
    for (int i = 1; i < ndim; i++) {
        if (shape[i] < 0) shape[i] = 3;
        if (shape[i] > 4096) return;
        cells *= shape[i];
        if (cells > 65536) return;
    }
    if (params > 4000000) return;
    void *data = calloc((size_t)cells, 4);      /* zeros: id 0 and 0.0f are valid inputs */
    if (data == NULL) return;
    lstmkit_array x = {dtype, ndim, shape, data};
    size_t count = 0;
    int64_t out_shape[9] = {0};
    int32_t out_ndim = 0;
    int rc = lstmkit_model_predict(m, &x, 1, NULL, 0, &count, out_shape, 9, &out_ndim);
    if (rc == LSTMKIT_OK && count > 0 && count < (1u << 24)) {
        float *out = malloc(count * sizeof(float));
        if (out != NULL) {
            rc = lstmkit_model_predict(m, &x, 1, out, count, &count, NULL, 0, NULL);
            if (rc == LSTMKIT_OK) {
                /* One training step on zero targets, so a restored optimizer state (the
                 * optimizer/... tensors) is used, not just parsed. Not compiled (WRONG_STATE),
                 * targets the loss cannot take (INVALID_ARGUMENT), a step that overflows
                 * (NUMERIC) and a mixed_bfloat16 policy this machine cannot run (UNSUPPORTED)
                 * are fine answers; anything else is a finding. */
                memset(out, 0, count * sizeof(float));
                lstmkit_array y = {LSTMKIT_FLOAT32, out_ndim, out_shape, out};
                int frc = lstmkit_model_fit(m, &x, &y, "{\"epochs\": 1, \"batch_size\": 1}", NULL, NULL);
                if (frc != LSTMKIT_OK && frc != LSTMKIT_E_WRONG_STATE && frc != LSTMKIT_E_INVALID_ARGUMENT &&
                    frc != LSTMKIT_E_NUMERIC && frc != LSTMKIT_E_NO_MEMORY && frc != LSTMKIT_E_UNSUPPORTED) {
                    fprintf(stderr, "fit on a loaded model: status %d: %s\n", frc, lstmkit_last_error());
                    abort();
                }
            }
            free(out);
        }
    }
    /* A loaded model may still reject this input (e.g. a declared shape it cannot take), but
     * only with an argument error, never an internal one; or report NUMERIC: finite weights as
     * large as a damaged file can hold overflow float32 (Dense's inf - inf), which predict
     * names instead of returning NaN; or UNSUPPORTED: a mixed_bfloat16 policy this machine
     * cannot run. */
    if (rc != LSTMKIT_OK && rc != LSTMKIT_E_INVALID_ARGUMENT && rc != LSTMKIT_E_NO_MEMORY &&
        rc != LSTMKIT_E_NUMERIC && rc != LSTMKIT_E_UNSUPPORTED) {
        fprintf(stderr, "predict on a loaded model: status %d: %s\n", rc, lstmkit_last_error());
        abort();
    }
    free(data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (f == NULL) { perror(path); abort(); }
    if (size > 0 && fwrite(data, 1, size, f) != size) { perror(path); abort(); }
    if (fclose(f) != 0) { perror(path); abort(); }

    lstmkit_model *m = NULL;
    int rc = lstmkit_model_load(path, &m);
    if (rc == LSTMKIT_OK) {
        if (m == NULL) abort();
        exercise(m);
        lstmkit_model_free(m);
    } else {
        if (m != NULL) abort();                        /* a failed load hands out no handle */
        if (rc != LSTMKIT_E_FORMAT && rc != LSTMKIT_E_NO_MEMORY) {
            fprintf(stderr, "load: unexpected status %d: %s\n", rc, lstmkit_last_error());
            abort();
        }
        if (lstmkit_last_error()[0] == '\0') abort();  /* every failure has a message */
    }
    return 0;
}
