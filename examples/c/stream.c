/*
 * stream MODEL STREAMS
 *
 * Runs STREAMS independent streams on one loaded model (lstmkit_state_*), one timestep at a
 * time. Standard input holds one line per timestep with the next input of every stream: one
 * token id per stream for a model starting with Embedding, else `features` numbers per stream,
 * stream after stream. For every timestep and stream it prints
 *     <stream> <timestep> <output values...>
 * the model's output after that timestep, which is what lstmkit_model_predict gives for the
 * stream's sequence so far (the last timestep's row when the output has timesteps). Values are
 * printed with 9 significant digits, enough to give back every float32 exactly.
 *
 *     printf '1 7\n4 2\n9 9\n' | ./stream imdb.lstmkit 2
 */
#include <stdio.h>
#include <stdlib.h>

#include "lstmkit.h"

typedef struct {
    lstmkit_model *model;
    lstmkit_state **states;
    long n_states;
    float *out;
    void *x;
} resources;

static void release(resources *r) {
    long i;
    for (i = 0; i < r->n_states; i++) lstmkit_state_free(r->states ? r->states[i] : NULL);
    free(r->states);
    free(r->out);
    free(r->x);
    lstmkit_model_free(r->model);
}

static int fail_call(resources *r, const char *what) {
    fprintf(stderr, "stream: %s failed: %s\n", what, lstmkit_last_error());
    release(r);
    return 1;
}

static int fail(resources *r, const char *message) {
    fprintf(stderr, "stream: %s\n", message);
    release(r);
    return 1;
}

int main(int argc, char **argv) {
    resources r = {0};
    int64_t spec[8], step_shape[3], out_shape[8];
    int32_t spec_ndim = 0, dtype = 0, out_ndim = 0;
    long n, i, features = 1, t;
    size_t need = 0, count = 0, j;
    char *end;
    if (argc != 3) {
        fprintf(stderr, "usage: stream MODEL STREAMS  (inputs on standard input, one line per timestep)\n");
        return 2;
    }
    n = strtol(argv[2], &end, 10);
    if (*end != '\0' || n < 1 || n > 1000000) {
        fprintf(stderr, "stream: STREAMS must be a number from 1 to 1000000, got '%s'\n", argv[2]);
        return 2;
    }
    if (lstmkit_model_load(argv[1], &r.model) != LSTMKIT_OK) return fail_call(&r, "loading the model");
    if (lstmkit_model_input_spec(r.model, spec, 8, &spec_ndim, &dtype) != LSTMKIT_OK)
        return fail_call(&r, "lstmkit_model_input_spec");
    if (dtype == LSTMKIT_FLOAT32) {
        if (spec_ndim != 3 || spec[2] < 1) return fail(&r, "the model's input must be (batch, timesteps, features)");
        features = (long)spec[2];
    }
    r.states = calloc((size_t)n, sizeof *r.states);
    r.x = malloc((size_t)features * 4);
    if (r.states == NULL || r.x == NULL) return fail(&r, "out of memory");
    for (i = 0; i < n; i++) {
        if (lstmkit_state_create(r.model, &r.states[i]) != LSTMKIT_OK) return fail_call(&r, "lstmkit_state_create");
        r.n_states = i + 1;
    }

    /* one timestep of one stream: (1, 1) ids or (1, 1, features) values */
    step_shape[0] = 1;
    step_shape[1] = 1;
    step_shape[2] = features;
    lstmkit_array x = {dtype, dtype == LSTMKIT_FLOAT32 ? 3 : 2, step_shape, r.x};
    for (t = 0;; t++) {
        for (i = 0; i < n; i++) {
            for (j = 0; j < (size_t)features; j++) {
                int got;
                if (dtype == LSTMKIT_INT32) got = scanf("%d", (int *)r.x + j);
                else got = scanf("%f", (float *)r.x + j);
                if (got == EOF && i == 0 && j == 0) {
                    release(&r);
                    return 0;   /* end of input between timesteps */
                }
                if (got != 1) {
                    fprintf(stderr, "stream: timestep %ld: expected %ld %s per line (%ld streams)\n", t,
                            n * features, dtype == LSTMKIT_INT32 ? "token ids" : "numbers", n);
                    release(&r);
                    return 1;
                }
            }
            if (need == 0) {   /* the output's size, the same for every step */
                if (lstmkit_state_step(r.states[i], &x, NULL, 0, &need, NULL, 0, NULL) != LSTMKIT_OK)
                    return fail_call(&r, "lstmkit_state_step");
                r.out = malloc(need * sizeof(float));
                if (r.out == NULL) return fail(&r, "out of memory");
            }
            if (lstmkit_state_step(r.states[i], &x, r.out, need, &count, out_shape, 8, &out_ndim) != LSTMKIT_OK)
                return fail_call(&r, "lstmkit_state_step");
            printf("%ld %ld", i, t);
            for (j = 0; j < count; j++) printf(" %.9g", r.out[j]);
            printf("\n");
        }
    }
}
