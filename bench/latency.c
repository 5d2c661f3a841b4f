/*
 * latency MODEL [N [WARMUP [IDS]]]
 *
 * Batch-1 inference latency of lstmkit_model_predict, called from C with no Python in between.
 * Loads MODEL (a file written by lstmkit_model_save), makes one input row of the model's input
 * shape (token ids 1..IDS-1 for an Embedding model, IDS = 64 unless given: pass the vocabulary
 * size to read the embedding's whole table as real text does; values in [-1, 1) otherwise),
 * calls predict
 * WARMUP times untimed, then N times timed with CLOCK_MONOTONIC, and prints one line:
 *     median_ms=... min_ms=... max_ms=... n=...
 * OpenBLAS threads follow OPENBLAS_NUM_THREADS as usual.
 *
 * Build: cc -O2 -o latency latency.c -I include -L .build/release -llstmkit
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "lstmkit.h"

#define MAX_RANK 8

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    lstmkit_model *model = NULL;
    int64_t shape[MAX_RANK];
    int32_t ndim = 0, dtype = 0;
    void *input = NULL;
    float *out = NULL;
    double *times = NULL;
    size_t count = 0, elems = 1;
    int n, warmup, ids, i, status = 1;

    if (argc < 2) {
        fprintf(stderr, "usage: latency MODEL [N [WARMUP]]\n");
        return 2;
    }
    n = argc > 2 ? atoi(argv[2]) : 100;
    warmup = argc > 3 ? atoi(argv[3]) : 5;
    ids = argc > 4 ? atoi(argv[4]) : 64;
    if (n < 1 || warmup < 0 || ids < 2) {
        fprintf(stderr, "latency: N must be >= 1, WARMUP >= 0 and IDS >= 2\n");
        return 2;
    }
    if (lstmkit_version() != LSTMKIT_VERSION)
        fprintf(stderr, "latency: warning: header %d, library %d\n", LSTMKIT_VERSION, lstmkit_version());

    if (lstmkit_model_load(argv[1], &model) != LSTMKIT_OK) goto lstmkit_failed;
    if (lstmkit_model_input_spec(model, shape, MAX_RANK, &ndim, &dtype) != LSTMKIT_OK)
        goto lstmkit_failed;
    shape[0] = 1;
    for (i = 1; i < ndim; i++) {
        if (shape[i] < 1) {
            fprintf(stderr, "latency: the model's input shape is not fixed (dimension %d)\n", i);
            goto done;
        }
        elems *= (size_t)shape[i];
    }
    input = malloc(elems * 4);
    times = malloc((size_t)n * sizeof *times);
    if (input == NULL || times == NULL) {
        fprintf(stderr, "latency: out of memory\n");
        goto done;
    }
    srand(0);
    for (i = 0; i < (int)elems; i++) {
        if (dtype == LSTMKIT_INT32) ((int32_t *)input)[i] = 1 + rand() % (ids - 1);
        else ((float *)input)[i] = (float)rand() / RAND_MAX * 2.0f - 1.0f;
    }
    lstmkit_array x = {dtype, ndim, shape, input};

    /* Ask for the output size once, then reuse the buffer. */
    if (lstmkit_model_predict(model, &x, 1, NULL, 0, &count, NULL, 0, NULL) != LSTMKIT_OK)
        goto lstmkit_failed;
    out = malloc((count ? count : 1) * sizeof *out);
    if (out == NULL) {
        fprintf(stderr, "latency: out of memory\n");
        goto done;
    }
    for (i = 0; i < warmup; i++)
        if (lstmkit_model_predict(model, &x, 1, out, count, &count, NULL, 0, NULL) != LSTMKIT_OK)
            goto lstmkit_failed;
    for (i = 0; i < n; i++) {
        double t0 = now_ms();
        if (lstmkit_model_predict(model, &x, 1, out, count, &count, NULL, 0, NULL) != LSTMKIT_OK)
            goto lstmkit_failed;
        times[i] = now_ms() - t0;
    }
    qsort(times, (size_t)n, sizeof *times, cmp_double);
    printf("median_ms=%.4f min_ms=%.4f max_ms=%.4f n=%d\n",
           n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]), times[0], times[n - 1], n);
    status = 0;
    goto done;

lstmkit_failed:
    fprintf(stderr, "latency: %s\n", lstmkit_last_error());
done:
    free(out);
    free(times);
    free(input);
    lstmkit_model_free(model);
    return status;
}
