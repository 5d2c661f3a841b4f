/*
 * lstmkit.h — train and run recurrent neural networks (LSTM and friends) from C.
 *
 * A short tour
 * ------------
 *     lstmkit_model *m = NULL;
 *     if (lstmkit_model_load("imdb.lstmkit", &m) != LSTMKIT_OK) {
 *         fprintf(stderr, "%s\n", lstmkit_last_error());
 *         return 1;
 *     }
 *     int64_t shape[2] = {n, 600};
 *     lstmkit_array x = {LSTMKIT_INT32, 2, shape, ids};   // token ids, row-major
 *     size_t count = 0;
 *     lstmkit_model_predict(m, &x, 256, probs, n, &count, NULL, 0, NULL);
 *     // or straight from text, with the tokenizer and padding saved in the model file:
 *     const char *reviews[1] = {"A wonderful little film."};
 *     lstmkit_model_predict_texts(m, reviews, 1, 1, probs, 1, &count, NULL, 0, NULL, NULL);
 *     lstmkit_model_free(m);
 *
 * A model is built from a JSON configuration shaped like Keras's Sequential config:
 *     {"layers": [{"class_name": "Embedding", "config": {"input_dim": 5001, "output_dim": 32}},
 *                 {"class_name": "LSTM", "config": {"units": 100}},
 *                 {"class_name": "Dense", "config": {"units": 1, "activation": "sigmoid"}}]}
 * or like Keras's functional Model (several layers reading one tensor, an encoder handing its
 * states to a decoder): {"class_name": "Functional", "layers": [...], "input_layers": [...],
 * "output_layers": [...]}, each layer naming the tensors it reads as [layer, 0, output index]
 * in "inbound_nodes" (and "initial_state" for a recurrent layer); README.md has an example.
 * then compiled ({"optimizer": "adam", "loss": "binary_crossentropy", "metrics": ["accuracy"]}),
 * trained with lstmkit_model_fit, and saved to one file (safetensors: a JSON header holding the
 * configuration, the tokenizers, the text padding and a checksum, then raw little-endian
 * float32 tensors: the weights and, once trained, the optimizer's state, so training can resume
 * after a load).
 *
 * Errors
 * ------
 * The library never aborts its host process on bad input: every argument of every function is
 * checked, and every failure is reported, never "handled" by crashing.
 *  - Every function that can fail returns an int status: LSTMKIT_OK (0) or one of the negative
 *    LSTMKIT_E_* codes below (new codes may be appended; treat unknown negatives as failures).
 *    lstmkit_version*, lstmkit_last_error and the *_free functions cannot fail.
 *  - After a failure, lstmkit_last_error() returns a readable message naming the argument or the
 *    place at fault ("x[17] = 5001 is not a token id in 0..<5001", "the loss became nan at
 *    epoch 2, batch 31; ..."). The message is owned by the library, is per thread, and stays
 *    valid until the next failing call on the same thread. Successful calls leave it alone.
 *  - A failed call leaves weights, settings and tokenizers as they were (a model declared
 *    without an input shape may have been built from the data's shape), and sets *out handles
 *    to NULL. The exceptions are the ones that stop training part way, which keep the work done:
 *    LSTMKIT_E_CANCELLED and LSTMKIT_E_NUMERIC (the weights of the last good batch; the
 *    optimizer state is kept too, compile again to reset it).
 * Which calls fail how:
 *  - INVALID_ARGUMENT: a NULL pointer where one is required; a freed, foreign or wrongly typed
 *    handle (handles are checked against a registry, never dereferenced blindly, and a freed
 *    handle's value is never reused); an lstmkit_array with a bad dtype, ndim outside 1..8, a
 *    dimension < 1, more than 2^40 elements, or NULL shape/data; data that does not fit the model
 *    (shape, x/y row counts, token ids outside 0..input_dim-1, NaN or Inf in inputs or labels,
 *    labels outside their classes); batch_size < 1; a path that is empty or not UTF-8; invalid
 *    UTF-8 in a text (the tokenizer is left unchanged).
 *  - BAD_CONFIG: a model, compile, fit-options or tokenizer JSON that is not valid JSON or is not
 *    understood (unknown layer, loss, optimizer, metric or fit option; a missing field; a value
 *    of the wrong type or outside its range; layers that do not fit together).
 *  - WRONG_STATE: fit or evaluate before compile (predict on an uncompiled model is fine, as in
 *    Keras); weights or save before the model has an input shape; a call on a model that another
 *    thread is training (see Threading).
 *  - IO: a file that cannot be opened, read, written, synced or renamed (the message carries the
 *    system's reason, e.g. "No space left on device").
 *  - FORMAT: a model file that is truncated, corrupt (CRC-32 mismatch), not a model, or made by
 *    an incompatible version.
 *  - NO_MEMORY: sizes that would not fit in memory are refused before anything is allocated:
 *    weights (with gradients and optimizer state) beyond physical memory, RLIMIT_AS/DATA or
 *    the environment variable LSTMKIT_MEMORY_LIMIT (bytes, read at each check),
 *    a batch whose activations would not fit, an output too large to address.
 *  - BUFFER_TOO_SMALL: see Memory; the size needed is still reported.
 *  - CANCELLED: the progress callback returned non-zero; fit stopped after that batch and the
 *    model is usable. NUMERIC: a loss, gradient or weight update became NaN or Inf during fit;
 *    the message names the epoch and batch.
 *  - UNSUPPORTED: fit, evaluate or predict of a model compiled with "dtype_policy":
 *    "mixed_bfloat16" where oneDNN (libdnnl.so.2) or the CPU's bfloat16 instructions are missing;
 *    the message says which. Compiling it again with "float32" runs it.
 *  - INTERNAL: a bug in lstmkit; please report the message.
 *
 * Memory
 * ------
 * Handles are created by lstmkit_*_create / lstmkit_*_load and released by the matching
 * lstmkit_*_free; freeing NULL, a handle already freed, or a handle of the other type does
 * nothing. Input arrays are borrowed for the duration of the call only. Output buffers are
 * always allocated by the caller: pass NULL and capacity 0 to learn the size needed (returned
 * through the count/needed argument with status LSTMKIT_OK); a capacity that is too small returns
 * LSTMKIT_E_BUFFER_TOO_SMALL with the size still reported. Strings written into caller buffers
 * are NUL-terminated; sizes include the NUL.
 *
 * Threading
 * ---------
 * Different handles may be used from different threads at the same time. On one model handle,
 * calls that only read it run at the same time from several threads: lstmkit_model_predict,
 * lstmkit_model_predict_texts, lstmkit_model_evaluate, the getters (summary, config,
 * count_params, input_spec, weight_count, weight_info, get_weight, get_tokenizer,
 * get_target_tokenizer, get_text_padding), lstmkit_model_save and the steps of its states
 * (lstmkit_state_step); their results are bitwise what the same calls give one after the other.
 * Every other call on a model (compile, build, set_weight, set_tokenizer, set_target_tokenizer,
 * set_text_padding, reset_states) waits for the reading calls in progress, has the model to
 * itself, and goes before reading calls that arrive while it waits. Predict and evaluate on a
 * model with a stateful recurrent layer ("stateful": true) advance its carried states, so they
 * too have the model to themselves: they run one at a time, in the order the threads get the
 * model. Predict and evaluate on a model not built yet (its first call creates the weights) also
 * run alone. Calls on one tokenizer or one state handle are serialised (each waits for the one
 * before). While lstmkit_model_fit runs, other threads' calls on that model fail with
 * LSTMKIT_E_WRONG_STATE rather than wait for the whole fit. The progress callback runs on the thread that called
 * lstmkit_model_fit; from it, that model may be read, predicted with and saved, but not
 * compiled or fitted again (LSTMKIT_E_WRONG_STATE). Freeing a handle that another thread is
 * using is safe: the object lives until that call returns.
 */
#ifndef LSTMKIT_H
#define LSTMKIT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version is defined in the file VERSION; scripts/version.py writes these three lines
 * (and the library's and the Python binding's copies). */
#define LSTMKIT_VERSION_MAJOR 0
#define LSTMKIT_VERSION_MINOR 2
#define LSTMKIT_VERSION_PATCH 0
/* MAJOR * 10000 + MINOR * 100 + PATCH; compare with lstmkit_version(). */
#define LSTMKIT_VERSION (LSTMKIT_VERSION_MAJOR * 10000 + LSTMKIT_VERSION_MINOR * 100 + LSTMKIT_VERSION_PATCH)

/* Status codes. Values are only ever appended. */
#define LSTMKIT_OK                      0
#define LSTMKIT_E_INVALID_ARGUMENT     -1  /* NULL pointer, bad size, shape mismatch, bad id   */
#define LSTMKIT_E_BAD_CONFIG           -2  /* model/compile/tokenizer JSON not understood        */
#define LSTMKIT_E_WRONG_STATE          -3  /* e.g. fit before compile                            */
#define LSTMKIT_E_IO                   -4  /* a file could not be opened, written or renamed     */
#define LSTMKIT_E_FORMAT               -5  /* a model file is truncated, corrupt or not ours     */
#define LSTMKIT_E_NO_MEMORY            -6  /* an allocation failed or would exceed limits        */
#define LSTMKIT_E_BUFFER_TOO_SMALL     -7  /* caller buffer too small; needed size reported      */
#define LSTMKIT_E_CANCELLED            -8  /* the progress callback asked to stop; model usable  */
#define LSTMKIT_E_NUMERIC              -9  /* loss became NaN or Inf; last good weights kept     */
#define LSTMKIT_E_UNSUPPORTED         -10  /* this machine lacks what the request needs (e.g.   */
                                           /* mixed_bfloat16 without oneDNN or BF16 instructions) */
#define LSTMKIT_E_INTERNAL            -99  /* a bug in lstmkit; please report the message        */

/* Element types of lstmkit_array. */
#define LSTMKIT_FLOAT32 1
#define LSTMKIT_INT32   2

/* A borrowed, dense, row-major (C order) n-dimensional array. */
typedef struct lstmkit_array {
    int32_t dtype;          /* LSTMKIT_FLOAT32 or LSTMKIT_INT32                  */
    int32_t ndim;           /* 1..8                                              */
    const int64_t *shape;   /* ndim entries, each >= 1                           */
    const void *data;       /* product(shape) elements of dtype                  */
} lstmkit_array;

/* Events passed to the progress callback. */
#define LSTMKIT_EVENT_BATCH_END 1
#define LSTMKIT_EVENT_EPOCH_END 2

/* What the progress callback sees. Pointers are valid only during the callback. */
typedef struct lstmkit_progress {
    int32_t event;               /* LSTMKIT_EVENT_*                                        */
    int32_t epoch;               /* 0-based                                                */
    int32_t epochs;
    int64_t step;                /* batches done in this epoch                             */
    int64_t steps;               /* batches per epoch                                      */
    double elapsed_seconds;      /* since the epoch began                                  */
    int32_t n_values;            /* e.g. 4: loss, accuracy, val_loss, val_accuracy         */
    const char *const *names;    /* Keras History keys                                     */
    const double *values;        /* running means over the epoch so far                    */
} lstmkit_progress;

/* Return 0 to go on, non-zero to stop after this batch (fit then returns LSTMKIT_E_CANCELLED). */
typedef int (*lstmkit_progress_fn)(const lstmkit_progress *progress, void *user_data);

/* ---- library ---------------------------------------------------------------------------- */

/* LSTMKIT_VERSION of the library that is loaded. */
int lstmkit_version(void);
/* "MAJOR.MINOR.PATCH"; owned by the library, never freed. */
const char *lstmkit_version_string(void);
/* Message of this thread's last failure ("" if none); owned by the library. */
const char *lstmkit_last_error(void);

/* ---- models ------------------------------------------------------------------------------ */

typedef struct lstmkit_model lstmkit_model;
typedef struct lstmkit_tokenizer lstmkit_tokenizer;
typedef struct lstmkit_state lstmkit_state;

/* Builds a model from its JSON configuration. Weights are initialised as Keras does,
 * reproducibly from seed. *out receives a new handle owned by the caller. */
int lstmkit_model_create(const char *config_json, uint64_t seed, lstmkit_model **out);
void lstmkit_model_free(lstmkit_model *model);

/* Sets optimizer, loss and metrics, e.g.
 * {"optimizer": {"class_name": "adam", "learning_rate": 0.001}, "loss": "binary_crossentropy",
 *  "metrics": ["accuracy"]}. Resets the optimizer state. Optimizers: adam, sgd, rmsprop, adagrad
 * (a name or {"class_name": ..., hyperparameters}, Keras 3's defaults; clipnorm, clipvalue or
 * global_clipnorm; learning_rate may be {"class_name": "ExponentialDecay", "config": {...}}).
 * Losses: binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy,
 * mse, mae. Metrics are reported under the names given, as Keras's history keys.
 * "dtype_policy": "float32" (default) or "mixed_bfloat16": the matrix products then take
 * bfloat16 operands and accumulate in float32 (weights, optimizer state and everything else stay
 * float32); it needs oneDNN (Debian's libdnnl2, opened at first use) and a CPU with AVX512-BF16
 * or AMX, else fit, evaluate and predict fail with LSTMKIT_E_UNSUPPORTED. Saved with the model. */
int lstmkit_model_compile(lstmkit_model *model, const char *compile_json);

/* Writes text into buf (capacity bytes); *needed receives the size including the NUL.
 * summary: Keras's table; config: the model's JSON configuration (with input shape once
 * known); the latter can be passed to lstmkit_model_create. */
int lstmkit_model_summary(const lstmkit_model *model, char *buf, size_t capacity, size_t *needed);
int lstmkit_model_config(const lstmkit_model *model, char *buf, size_t capacity, size_t *needed);

/* Total number of weights (trainable and not). */
int lstmkit_model_count_params(const lstmkit_model *model, int64_t *out);

/* Input shape the model takes, batch dimension first as -1. A length the configuration leaves
 * open (an Embedding without input_length) is the one of the data the model was trained on,
 * which is saved with it; -1 where neither says.
 * shape has capacity entries; *ndim receives the rank. dtype receives LSTMKIT_INT32 when the
 * model starts with an Embedding, else LSTMKIT_FLOAT32. Any out pointer may be NULL. */
int lstmkit_model_input_spec(const lstmkit_model *model, int64_t *shape, int32_t capacity,
                             int32_t *ndim, int32_t *dtype);

/* Fit options as JSON, all optional: {"epochs": 1, "batch_size": 32, "validation_split": 0.0,
 * "shuffle": true, "seed": 0, "initial_epoch": 0}. The last validation_split fraction of the rows
 * (taken before shuffling, as Keras does) is held out. Epochs initial_epoch .. epochs-1 are run
 * (Keras's initial_epoch; it must be 0 or less than epochs, else BAD_CONFIG); progress reports
 * those epoch numbers. Each epoch's shuffle and dropout depend only on (seed, epoch), so a model
 * saved after epoch k-1, loaded and fitted with initial_epoch k and the same seed ends with the
 * same weights as the uninterrupted run (same LSTMKIT_NUM_THREADS). progress may be NULL. x and
 * y are borrowed. */
int lstmkit_model_fit(lstmkit_model *model, const lstmkit_array *x, const lstmkit_array *y,
                      const char *options_json, lstmkit_progress_fn progress, void *user_data);
/* lstmkit_model_fit with Keras's validation_data: x_val and y_val (borrowed, shaped as x and y)
 * are evaluated at the end of every epoch, in inference mode and in batches of batch_size, and
 * reported as val_<name> after the training values; they take the place of validation_split. */
int lstmkit_model_fit_validation(lstmkit_model *model, const lstmkit_array *x, const lstmkit_array *y,
                                 const lstmkit_array *x_val, const lstmkit_array *y_val,
                                 const char *options_json, lstmkit_progress_fn progress,
                                 void *user_data);

/* Keras's build(input_shape) for a model whose configuration gives no input shape (it may be
 * compiled already): creates the weights for shape (ndim entries, batch dimension first; -1 for
 * an unknown size). A model built already succeeds if the shape agrees with its own and fails
 * with INVALID_ARGUMENT if not. */
int lstmkit_model_build(lstmkit_model *model, const int64_t *shape, int32_t ndim);

/* Keras's reset_states: the stateful recurrent layers ("stateful": true) start the next batch
 * from zero states instead of the states the last batch ended with. layer_name NULL resets them
 * all; otherwise the named layer, which must be a stateful recurrent layer (INVALID_ARGUMENT if
 * not). A stateful model runs each batch on one thread and needs batches of one size: the
 * batch is min(batch_size, samples), and fit, evaluate and predict refuse (INVALID_ARGUMENT) a
 * sample count that is not a multiple of it, validation data whose batches would differ from
 * the training batches, or a batch size other than the one whose states are carried. */
int lstmkit_model_reset_states(lstmkit_model *model, const char *layer_name);

/* Keras's layer.trainable for the top-level layer named layer_name (INVALID_ARGUMENT if there is
 * none): 0 freezes its weights, non-zero lets them train again. A frozen layer's weights are left
 * as they are by fit (and get no optimizer state); gradients still pass through it to the layers
 * before it. A wrapper (Bidirectional, TimeDistributed) freezes its inner layers. The config key
 * "trainable": false does the same when the model is created, and the config (and a saved file)
 * keeps it. Takes effect at the next fit; if it changes which weights train after the optimizer
 * has taken steps, the optimizer starts again from its settings, as after a new compile.
 * Refused (WRONG_STATE) during fit. */
int lstmkit_model_set_trainable(lstmkit_model *model, const char *layer_name, int trainable);

/* results receives the loss then each compiled metric, in compile order; *count their number
 * (query with results NULL, capacity 0). */
int lstmkit_model_evaluate(lstmkit_model *model, const lstmkit_array *x, const lstmkit_array *y,
                           int64_t batch_size, double *results, size_t capacity, size_t *count);

/* Writes the model's outputs for x (inference: no dropout) as float32, row-major, into out
 * (capacity floats); *count receives the number of floats. out_shape (shape_capacity entries)
 * and *out_ndim receive the output's shape; either may be NULL. */
int lstmkit_model_predict(lstmkit_model *model, const lstmkit_array *x, int64_t batch_size,
                          float *out, size_t capacity, size_t *count,
                          int64_t *out_shape, int32_t shape_capacity, int32_t *out_ndim);

/* Weights in Keras's order (model.get_weights()): index 0 .. n-1. name (e.g. "lstm/kernel")
 * and shape are written like the other text and shape outputs; values as float32. */
int lstmkit_model_weight_count(const lstmkit_model *model, int32_t *n);
int lstmkit_model_weight_info(const lstmkit_model *model, int32_t index, char *name,
                              size_t name_capacity, size_t *name_needed,
                              int64_t *shape, int32_t shape_capacity, int32_t *ndim);
int lstmkit_model_get_weight(const lstmkit_model *model, int32_t index, float *out,
                             size_t capacity, size_t *count);
int lstmkit_model_set_weight(lstmkit_model *model, int32_t index, const float *values,
                             size_t count);

/* Saves configuration, weights, compile settings, the optimizer's state once it has taken a
 * step (moments and iteration count, as Keras's model.save) and the attached tokenizer (if any)
 * to one file. The file is written beside the target as "<path>.tmp.<pid>.<n>" (unique per call,
 * so saves from several threads to one path all succeed and the last one wins) and renamed over
 * it, so a failed save leaves the old file intact. A symlink is followed (its target is
 * replaced, the link stays); an existing file keeps its permission bits, a new one gets 0666
 * minus the umask; a path that exists but is not a regular file (a FIFO, a directory) is IO.
 * Temp files left by killed saves to the same path are removed once their process is gone. */
int lstmkit_model_save(const lstmkit_model *model, const char *path);
/* Loads a file written by lstmkit_model_save; *out receives a new handle, compiled if the saved
 * model was, with its optimizer state restored (a file without one gets a fresh optimizer).
 * Anything but a regular file is refused with IO without blocking (a FIFO with no writer). */
int lstmkit_model_load(const char *path, lstmkit_model **out);

/* Attaches a copy of tokenizer to the model (saved with it); NULL detaches. */
int lstmkit_model_set_tokenizer(lstmkit_model *model, const lstmkit_tokenizer *tokenizer);
/* *out receives a new tokenizer handle (a copy) or NULL if the model has none. */
int lstmkit_model_get_tokenizer(const lstmkit_model *model, lstmkit_tokenizer **out);
/* The same pair for the tokenizer of the model's outputs (a translation model's target
 * language), saved with the model too: decode predicted ids with lstmkit_tokenizer_sequence_to_text. */
int lstmkit_model_set_target_tokenizer(lstmkit_model *model, const lstmkit_tokenizer *tokenizer);
int lstmkit_model_get_target_tokenizer(const lstmkit_model *model, lstmkit_tokenizer **out);

/* ---- text in one call ---------------------------------------------------------------------- */

/* How lstmkit_model_predict_texts pads the token ids of its texts, saved with the model:
 * pad_sequences's arguments. maxlen -1 means the model's input length (the one its configuration
 * fixes, else the one of the data it was trained on); padding and truncating are LSTMKIT_PAD_PRE
 * or LSTMKIT_PAD_POST; value pads, and must be a token id of the model's Embedding (0 as in Keras).
 * INVALID_ARGUMENT for a model that does not start with an Embedding, or a maxlen other than the
 * length its configuration fixes. A model without these settings (every file saved before they
 * existed) pads as Keras's defaults do: the model's input length, "pre" and "pre", value 0. */
int lstmkit_model_set_text_padding(lstmkit_model *model, int64_t maxlen, int32_t padding,
                                   int32_t truncating, int32_t value);
/* The settings lstmkit_model_predict_texts uses: *maxlen receives the length it pads to (the
 * saved one, else the model's input length; -1 when neither is known, and predict_texts then
 * fails with WRONG_STATE). Any out pointer may be NULL. */
int lstmkit_model_get_text_padding(const lstmkit_model *model, int64_t *maxlen, int32_t *padding,
                                   int32_t *truncating, int32_t *value);

/* lstmkit_model_predict on n UTF-8 texts: each is turned into token ids by the model's tokenizer
 * (lstmkit_tokenizer_texts_to_sequences: lowercased, filtered, split; words beyond num_words and
 * unknown words become the oov_token's id when the tokenizer has one and are dropped otherwise),
 * the ids are padded and truncated with the model's text padding (lstmkit_pad_sequences), and the
 * model runs on the (n, maxlen) rows. out, capacity, count, out_shape, shape_capacity, out_ndim
 * and batch_size are as for lstmkit_model_predict (query the size with out NULL, capacity 0); the
 * outputs are bit for bit those of lstmkit_model_predict on the same rows and batch_size.
 * A text that gives no token id (empty, or every word unknown to a tokenizer without oov_token)
 * is not an error: as in Keras it is predicted on a row of padding only, which says nothing about
 * the text. lengths (n entries, may be NULL) receives each text's number of ids before padding
 * and truncation, so such texts show as 0; check it before trusting their outputs.
 * Errors: INVALID_ARGUMENT for n = 0, NULL texts or texts[i] (named), a text that is not UTF-8
 * (named), an id beyond the Embedding's input_dim (a tokenizer fitted without num_words), or a
 * model that does not start with an Embedding; WRONG_STATE for a model without a tokenizer
 * (attach one with lstmkit_model_set_tokenizer) or without a known input length (set maxlen with
 * lstmkit_model_set_text_padding). lengths is written as soon as the texts are tokenized, also
 * when the call then reports BUFFER_TOO_SMALL or a size query. */
int lstmkit_model_predict_texts(lstmkit_model *model, const char *const *texts, size_t n,
                                int64_t batch_size, float *out, size_t capacity, size_t *count,
                                int64_t *out_shape, int32_t shape_capacity, int32_t *out_ndim,
                                int64_t *lengths);

/* ---- streams: a sequence fed a few timesteps at a time -------------------------------------- */

/* A state holds one stream's place in a sequence: the recurrent layers' states (h, and an LSTM's
 * c) after the timesteps stepped so far, starting from zeros. One model serves any number of
 * states; each is small (the states only), and the steps of different states run at the same
 * time from several threads (see Threading). A state keeps its model alive: freeing the model
 * handle first is allowed, and the state still steps. Steps use the model's weights as they are
 * at the time of the step (a set_weight between steps applies to the next one).
 *
 * Supported models: Sequential ones whose every layer is causal (its output at a timestep
 * depends only on that timestep and the ones before): Embedding, Masking, LSTM, GRU and
 * SimpleRNN (return_sequences true or false, stateful or not: a state carries its own states,
 * the model's carried states are neither read nor changed), Dense, Dropout, SpatialDropout1D
 * and TimeDistributed(Dense) on the timesteps, and after the recurrent layer that returns only
 * its last output (return_sequences false), Dense and Dropout. lstmkit_state_create refuses
 * anything else with INVALID_ARGUMENT naming the layer (Bidirectional and go_backwards read the
 * sequence from its end; Conv1D, pooling, Flatten and RepeatVector look at several timesteps or
 * the whole sequence; functional models), and a model without weights yet with WRONG_STATE. */
int lstmkit_state_create(const lstmkit_model *model, lstmkit_state **out);
void lstmkit_state_free(lstmkit_state *state);
/* Back to zero states, as a new state. */
int lstmkit_state_reset(lstmkit_state *state);
/* *out receives a new, independent state at the same place in the sequence (e.g. to try two
 * continuations). */
int lstmkit_state_copy(const lstmkit_state *state, lstmkit_state **out);

/* Feeds the next timesteps of the stream: x has shape (1, k) token ids (int32, or integral
 * float32) for a model starting with Embedding, else (1, k, features) float32, for any k >= 1;
 * the stream may be fed one timestep at a time or in chunks. out receives what
 * lstmkit_model_predict gives for x continuing from the state, shaped as predict's output for x:
 * (1, k, ...) for a model whose output has timesteps (the outputs of the k timesteps), else
 * (1, ...) (the output after the last of them); count, out_shape and out_ndim as for predict
 * (query with out NULL and capacity 0: the state does not move). Then the state is at the end
 * of x. The output after the last timestep is bitwise the output lstmkit_model_predict gives for
 * the whole sequence at once as a batch of one row, however the sequence was cut into steps
 * (float32 models; under "dtype_policy": "mixed_bfloat16" they agree to bfloat16's rounding).
 * Masking follows Keras: a timestep that is masked (the padding id 0 of an Embedding with
 * mask_zero, or a Masking layer's mask_value in every feature) leaves the states as they were,
 * and the recurrent layers' output at it is their previous one (zeros before any unmasked
 * timestep), which the layers after them then process as predict does. A failed step
 * (bad x, NUMERIC) leaves the state where it was. */
int lstmkit_state_step(lstmkit_state *state, const lstmkit_array *x, float *out, size_t capacity,
                       size_t *count, int64_t *out_shape, int32_t shape_capacity, int32_t *out_ndim);

/* ---- text preprocessing (Keras's Tokenizer and pad_sequences) ---------------------------- */

/* options_json, all optional: {"num_words": null, "filters": "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n",
 * "lower": true, "split": " ", "char_level": false, "oov_token": null}. */
int lstmkit_tokenizer_create(const char *options_json, lstmkit_tokenizer **out);
void lstmkit_tokenizer_free(lstmkit_tokenizer *tokenizer);

/* Counts words in n UTF-8 texts (may be called several times, as fit_on_texts). */
int lstmkit_tokenizer_fit(lstmkit_tokenizer *tokenizer, const char *const *texts, size_t n);

/* texts_to_sequences, ragged: ids receives every text's ids one after another; offsets
 * (n + 1 entries, may be NULL only when querying) receives where each text starts, offsets[n]
 * being the total. *count receives the total number of ids. */
int lstmkit_tokenizer_texts_to_sequences(const lstmkit_tokenizer *tokenizer,
                                         const char *const *texts, size_t n,
                                         int32_t *ids, size_t capacity, size_t *count,
                                         int64_t *offsets);

/* The tokenizer as JSON: its options, word_counts, word_index, document_count. */
int lstmkit_tokenizer_to_json(const lstmkit_tokenizer *tokenizer, char *buf, size_t capacity,
                              size_t *needed);
int lstmkit_tokenizer_from_json(const char *json, lstmkit_tokenizer **out);

/* sequences_to_texts for one sequence of n ids (ids may be NULL when n is 0): the words of the ids,
 * joined by one space (by nothing when char_level), written into buf as UTF-8 like the other text
 * outputs. As in Keras, an id the tokenizer has no word for (negative, beyond its vocabulary) or
 * at least num_words becomes the oov_token when the tokenizer has one and is skipped otherwise;
 * unlike Keras, 0 is always skipped, being padding (Keras writes the oov_token for it). */
int lstmkit_tokenizer_sequence_to_text(const lstmkit_tokenizer *tokenizer, const int32_t *ids,
                                       size_t n, char *buf, size_t capacity, size_t *needed);

#define LSTMKIT_PAD_PRE  0
#define LSTMKIT_PAD_POST 1

/* pad_sequences over n ragged sequences (flat ids + n+1 offsets, as texts_to_sequences gives):
 * out receives n * maxlen int32 values. padding/truncating: LSTMKIT_PAD_PRE or _POST. */
int lstmkit_pad_sequences(const int32_t *ids, const int64_t *offsets, size_t n, int64_t maxlen,
                          int32_t padding, int32_t truncating, int32_t value, int32_t *out,
                          size_t capacity);

#ifdef __cplusplus
}
#endif
#endif /* LSTMKIT_H */
