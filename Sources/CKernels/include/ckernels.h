#ifndef LSTMKIT_CKERNELS_H
#define LSTMKIT_CKERNELS_H

/* The recurrent layers' elementwise kernels, in C so that each is compiled three times (AVX-512,
 * AVX2+FMA, baseline x86-64) and the loader picks the one the CPU supports (target_clones, an
 * ifunc): the library still runs on any x86-64 CPU. One call covers one row of a batch: h units,
 * gate blocks laid out as in Keras (LSTM i, f, g, o; GRU z, r, hh). The approximations are the
 * Cephes exp polynomial and a rational minimax tanh (the gates' sigmoid through it), within a few
 * 1e-7 of libm. */

#include <stddef.h>

/* p[0..<n] = sigmoid(p), tanh(p), in place. */
void lk_sigmoid(float *p, long n);
void lk_tanh(float *p, long n);

/* Softmax of each of `rows` rows of `width` floats, in place (the row's maximum subtracted first). */
void lk_softmax_rows(float *p, long rows, long width);

/* acc[j] += the sum over the n rows of rows[r * width + j]. */
void lk_add_row_sums(float *acc, const float *rows, long n, long width);

/* LSTM step, one row. z: (4h) preactivations, to which add (4h, the bias; may be NULL) is added,
 * replaced by the gates; c_next = f*c_prev + i*g; tanh_c = tanh(c_next); h_next = o*tanh_c. */
void lk_lstm_forward(float *z, const float *add, const float *c_prev, float *c_next, float *tanh_c, float *h_next,
                     long h);

/* The same for a pass no backward follows: preactivations z + add (both 4h, read only; add may be
 * NULL), and only the states written. */
void lk_lstm_forward_only(const float *z, const float *add, const float *c_prev, float *c_next, float *h_next, long h);

/* The same over n of a layer's units (the batch-1 unit split): z holds their recurrent products
 * gate by gate (4n); add, then add2 unless NULL, are the layer's rows for those units, gate k
 * starting at k * stride (the layer's units), added in that order as the whole-row step adds them. */
void lk_lstm_forward_only_units(const float *z, const float *add, const float *add2, long stride, const float *c_prev,
                                float *c_next, float *h_next, long n);

/* LSTM backward, one row. a: (4h) activated gates; dc: (h) dL/dc from the step after, replaced by
 * dL/dc_prev; dz: (4h) written. */
void lk_lstm_backward(const float *a, const float *c_prev, const float *tanh_c, const float *dh,
                      float *dc, float *dz, long h);
/* The same with dz written over the gates a (az). */
void lk_lstm_backward_inplace(float *az, const float *c_prev, const float *tanh_c, const float *dh, float *dc, long h);

/* The LSTM's shared padding backward (LSTM.backwardSharedPadding). coef: (6h) the step's factors
 * b, i, f, g, o and the forget gate. v: (4h, w) one row per gate column; m: (2h, w) receives rows
 * k = i*v[k] + f*v[h+k] + g*v[2h+k] and h+k = o*v[3h+k]. */
void lk_lstm_padding_map(const float *v, const float *coef, float *m, long h, long w);

/* One padding row: dc~ = dc + dh*b; x = [dc~, dh] (2h); sums += x; dc = dc~ * forget gate. */
void lk_lstm_padding_row(const float *dh, float *dc, const float *coef, float *x, float *sums, long h);

/* GRU step with reset_after, one row. z: (3h) input preactivations (x W + b), activated in place;
 * inner: (3h) h_prev U + b_r; inner_h: (h) receives inner's hh part (saved for backward). */
void lk_gru_forward(float *z, const float *inner, float *inner_h, const float *h_prev, float *h_next, long h);

/* GRU's last part, both reset modes: z's hh block already holds its preactivation; activates it
 * and h_next = zg*h_prev + (1-zg)*hh. */
void lk_gru_output(float *z, const float *h_prev, float *h_next, long h);

/* GRU backward, one row, the z and hh parts; dh_prev += dh*zg. With inner_h (reset_after) also the
 * r part of dz and the recurrent-side gradient dr (3h). */
void lk_gru_backward(const float *a, const float *h_prev, const float *dh, const float *inner_h,
                     float *dz, float *dr, float *dh_prev, long h);

/* dz = dy * act'(y) from the activated output y: kind 0 tanh, 1 sigmoid. */
void lk_activation_backward(int kind, const float *y, const float *dy, float *dz, long n);

/* A number no earlier call returned, from any thread: the versions of the weights (Param). */
unsigned long long lk_next_generation(void);

/* A barrier for two threads that meet once per timestep (a batch-1 step split over both cores):
 * spins, since a futex wake-up costs more than the step (a few microseconds), and yields the CPU
 * after a while in case the other thread is not running. */
typedef struct lk_spin_barrier lk_spin_barrier;
lk_spin_barrier *lk_spin_barrier_create(void);   /* NULL when out of memory */
void lk_spin_barrier_destroy(lk_spin_barrier *b);
void lk_spin_barrier_wait(lk_spin_barrier *b, int parties);

#include "lk_bf16.h"
#include "lk_rows.h"
#include "lk_f32.h"

#endif
