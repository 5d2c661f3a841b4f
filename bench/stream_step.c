/*
 * stream_step MODEL [STEPS] [REPEATS]
 *
 * Latency of a stream's step (lstmkit_state_step, one token) against a whole-sequence predict
 * at batch 1 (lstmkit_model_predict of STEPS ids) on a saved model starting with Embedding:
 * prints the median and minimum microseconds of each, over REPEATS sequences of STEPS random
 * ids (each sequence: one predict, then STEPS steps of a fresh state), and checks that the last
 * step's output equals predict's bitwise.
 *
 *   cc -O2 -std=c99 -Iinclude bench/stream_step.c -L.build/release -llstmkit -Wl,-rpath,.build/release -o /tmp/stream_step
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lstmkit.h"

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int check(int status, const char *what) {
    if (status != LSTMKIT_OK) {
        fprintf(stderr, "stream_step: %s: %s\n", what, lstmkit_last_error());
        exit(1);
    }
    return status;
}

int main(int argc, char **argv) {
    lstmkit_model *model;
    int64_t spec[8];
    int32_t ndim, dtype;
    long steps = argc > 2 ? atol(argv[2]) : 600, repeats = argc > 3 ? atol(argv[3]) : 20, r, t, vocab = 5000;
    if (argc < 2) {
        fprintf(stderr, "usage: stream_step MODEL [STEPS] [REPEATS]\n");
        return 2;
    }
    check(lstmkit_model_load(argv[1], &model), "load");
    check(lstmkit_model_input_spec(model, spec, 8, &ndim, &dtype), "input_spec");
    if (dtype != LSTMKIT_INT32) { fprintf(stderr, "stream_step: the model must take token ids\n"); return 1; }
    int32_t *ids = malloc(steps * sizeof *ids);
    double *pred = malloc(repeats * sizeof *pred), *step = malloc(repeats * steps * sizeof *step);
    float whole[64], last[64];
    size_t n = 0;
    int mismatches = 0;
    srand(7);
    for (r = 0; r < repeats; r++) {
        for (t = 0; t < steps; t++) ids[t] = 1 + rand() % (vocab - 1);
        int64_t shape[2] = {1, steps}, one[2] = {1, 1};
        lstmkit_array x = {LSTMKIT_INT32, 2, shape, ids};
        double t0 = now_us();
        check(lstmkit_model_predict(model, &x, 1, whole, 64, &n, NULL, 0, NULL), "predict");
        pred[r] = now_us() - t0;
        lstmkit_state *state;
        check(lstmkit_state_create(model, &state), "state_create");
        for (t = 0; t < steps; t++) {
            lstmkit_array xt = {LSTMKIT_INT32, 2, one, ids + t};
            double s0 = now_us();
            check(lstmkit_state_step(state, &xt, last, 64, &n, NULL, 0, NULL), "state_step");
            step[r * steps + t] = now_us() - s0;
        }
        if (memcmp(last, whole, n * sizeof(float)) != 0) mismatches++;
        lstmkit_state_free(state);
    }
    qsort(pred, repeats, sizeof *pred, cmp);
    qsort(step, repeats * steps, sizeof *step, cmp);
    printf("RESULT {\"steps\": %ld, \"repeats\": %ld, \"predict_median_us\": %.1f, \"predict_min_us\": %.1f, "
           "\"step_median_us\": %.2f, \"step_min_us\": %.2f, \"step_p99_us\": %.2f, \"last_step_differs_from_predict\": %d}\n",
           steps, repeats, pred[repeats / 2], pred[0], step[repeats * steps / 2], step[0],
           step[(long)(repeats * steps * 0.99)], mismatches);
    lstmkit_model_free(model);
    return mismatches != 0;
}
