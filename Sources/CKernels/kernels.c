#include "ckernels.h"
#include <float.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

/* Each exported kernel is cloned per instruction set; the static helpers are inlined into every
 * clone, and the loops are plain enough for the vectoriser (selects rather than branches). */
#if defined(__x86_64__) && defined(__clang__)
#define KERNEL __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define KERNEL
#endif

static inline float lk_expf(float x) {
    x = x < -87.3f ? -87.3f : x;
    x = x > 88.3f ? 88.3f : x;
    /* n = round(x / ln 2) by the 1.5 * 2^23 trick, which also leaves n in the low mantissa bits */
    const float magic = 12582912.0f;
    float t = x * 1.44269504f + magic;
    float n = t - magic;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    int32_t tb, mb;
    memcpy(&tb, &t, 4);
    memcpy(&mb, &magic, 4);
    int32_t sb = (int32_t)((uint32_t)(tb - mb + 127) << 23);
    float scale;
    memcpy(&scale, &sb, 4);
    return p * scale;
}

static inline float lk_sigmoidf(float x) { return 1.0f / (1.0f + lk_expf(-x)); }

/* tanh as x p(x^2) / q(x^2) on |x| < 7.9053, where float tanh reaches 1, and exactly +-1 beyond;
 * Eigen's minimax coefficients: within 3.3e-7 of tanh everywhere, no exponential and one
 * division: cheaper in the LSTM cell than tanh through exp, which also needs a Taylor series
 * near 0, where 1 - 2/(e^2x + 1) cancels (bench/NOTES-perf.md has the figures). */
#define LK_TANH_BOUND 7.90531110763549805f
static inline float lk_tanhf(float x) {
    const float bound = LK_TANH_BOUND;
    float xc = x < -bound ? -bound : x;
    xc = xc > bound ? bound : xc;
    float x2 = xc * xc;
    float p = -2.76076847742355e-16f;
    p = p * x2 + 2.00018790482477e-13f;
    p = p * x2 + -8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    float q = 1.19825839466702e-06f;
    q = q * x2 + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    float r = xc * p / q;
    r = x >= bound ? 1.0f : r;
    return x <= -bound ? -1.0f : r;
}

/* The recurrent cells' gates: sigmoid(x) = (1 + tanh(x/2)) / 2, within 2.3e-7 of it, and exactly
 * 0 and 1 where tanh saturates, so a gate a large bias closes passes nothing (the padding skip
 * relies on exact zeros). Below sigmoid = 1e-7 it is no longer close in relative terms, which a
 * gate cannot tell; lk_sigmoidf keeps the tails for outputs a loss takes the log of. */
static inline float lk_gatef(float x) {
    float r = 0.5f + 0.5f * lk_tanhf(0.5f * x);
    return x <= -2 * LK_TANH_BOUND ? 0.0f : r;
}

KERNEL void lk_sigmoid(float *p, long n) {
    for (long j = 0; j < n; j++) p[j] = lk_sigmoidf(p[j]);
}

KERNEL void lk_tanh(float *p, long n) {
    for (long j = 0; j < n; j++) p[j] = lk_tanhf(p[j]);
}

/* Rows go in chunks of LANES floats, the last one through a padded copy: a row of 351 classes
 * otherwise ends in 31 scalar exponentials after the vector loop, which took half the time. */
#define LANES 16
KERNEL void lk_softmax_rows(float *p, long rows, long width) {
    for (long r = 0; r < rows; r++) {
        float *row = p + r * width;
        long full = width / LANES * LANES, rest = width - full;
        float tail[LANES], mx[LANES], sums[LANES];
        for (long l = 0; l < LANES; l++) tail[l] = l < rest ? row[full + l] : -FLT_MAX;
        for (long l = 0; l < LANES; l++) mx[l] = tail[l];
        for (long j = 0; j < full; j += LANES)
            for (long l = 0; l < LANES; l++) mx[l] = row[j + l] > mx[l] ? row[j + l] : mx[l];
        float m = mx[0];
        for (long l = 1; l < LANES; l++) m = mx[l] > m ? mx[l] : m;
        for (long l = 0; l < LANES; l++) {
            tail[l] = lk_expf(tail[l] - m);
            sums[l] = l < rest ? tail[l] : 0;
        }
        for (long j = 0; j < full; j += LANES)
            for (long l = 0; l < LANES; l++) {
                float e = lk_expf(row[j + l] - m);
                row[j + l] = e;
                sums[l] += e;
            }
        float s = 0;
        for (long l = 0; l < LANES; l++) s += sums[l];
        float inv = 1.0f / s;
        for (long j = 0; j < full; j += LANES)
            for (long l = 0; l < LANES; l++) row[j + l] *= inv;
        for (long l = 0; l < rest; l++) row[full + l] = tail[l] * inv;
    }
}

/* One row's step over h units: gates of z plus add (adds >= 1), then plus add2 (adds == 2), whose
 * gate k starts at k * stride; c_next and h_next; with keeps, also the gates written over z and
 * tanh(c) into tanh_c, which backward reads (z is not written otherwise). adds, keeps and, where
 * it is h, stride are constants at each call below, so each gets its own loop. */
static inline __attribute__((always_inline)) void lstm_step(float *restrict z, const float *restrict add,
                                                            const float *restrict add2, long stride, int adds,
                                                            int keeps, const float *restrict c_prev,
                                                            float *restrict c_next, float *restrict tanh_c,
                                                            float *restrict h_next, long h) {
    float *zi = z, *zf = z + h, *zg = z + 2 * h, *zo = z + 3 * h;
    for (long j = 0; j < h; j++) {
        float pi = zi[j], pf = zf[j], pg = zg[j], po = zo[j];
        if (adds >= 1) { pi += add[j]; pf += add[stride + j]; pg += add[2 * stride + j]; po += add[3 * stride + j]; }
        if (adds == 2) { pi += add2[j]; pf += add2[stride + j]; pg += add2[2 * stride + j]; po += add2[3 * stride + j]; }
        float i = lk_gatef(pi), f = lk_gatef(pf), g = lk_tanhf(pg), o = lk_gatef(po);
        float c = f * c_prev[j] + i * g;
        float tc = lk_tanhf(c);
        if (keeps) {
            zi[j] = i; zf[j] = f; zg[j] = g; zo[j] = o;
            tanh_c[j] = tc;
        }
        c_next[j] = c;
        h_next[j] = o * tc;
    }
}

KERNEL void lk_lstm_forward(float *restrict z, const float *restrict add, const float *restrict c_prev,
                            float *restrict c_next, float *restrict tanh_c, float *restrict h_next, long h) {
    if (add != NULL) lstm_step(z, add, NULL, h, 1, 1, c_prev, c_next, tanh_c, h_next, h);
    else lstm_step(z, z, NULL, h, 0, 1, c_prev, c_next, tanh_c, h_next, h);
}

KERNEL void lk_lstm_forward_only(const float *restrict z, const float *restrict add, const float *restrict c_prev,
                                 float *restrict c_next, float *restrict h_next, long h) {
    float *zr = (float *)z;   /* read only: keeps is 0 */
    if (add != NULL) lstm_step(zr, add, NULL, h, 1, 0, c_prev, c_next, NULL, h_next, h);
    else lstm_step(zr, zr, NULL, h, 0, 0, c_prev, c_next, NULL, h_next, h);
}

KERNEL void lk_lstm_forward_only_units(const float *restrict z, const float *restrict add,
                                       const float *restrict add2, long stride, const float *restrict c_prev,
                                       float *restrict c_next, float *restrict h_next, long n) {
    float *zr = (float *)z;   /* read only: keeps is 0 */
    if (add2 != NULL) lstm_step(zr, add, add2, stride, 2, 0, c_prev, c_next, NULL, h_next, n);
    else lstm_step(zr, add, NULL, stride, 1, 0, c_prev, c_next, NULL, h_next, n);
}

/* a and dz may be the same row (lk_lstm_backward_inplace): each unit's four gates are read before
 * its four gradients are written. */
static inline __attribute__((always_inline)) void lstm_backward(const float *a, const float *restrict c_prev,
                                                                const float *restrict tanh_c, const float *restrict dh,
                                                                float *restrict dc, float *dz, long h) {
    for (long j = 0; j < h; j++) {
        float ig = a[j], fg = a[h + j], gg = a[2 * h + j], og = a[3 * h + j];
        float dhj = dh[j], tcj = tanh_c[j];
        float dcj = dc[j] + dhj * og * (1 - tcj * tcj);
        dz[j] = dcj * gg * ig * (1 - ig);
        dz[h + j] = dcj * c_prev[j] * fg * (1 - fg);
        dz[2 * h + j] = dcj * ig * (1 - gg * gg);
        dz[3 * h + j] = dhj * tcj * og * (1 - og);
        dc[j] = dcj * fg;
    }
}

KERNEL void lk_lstm_backward(const float *restrict a, const float *restrict c_prev, const float *restrict tanh_c,
                             const float *restrict dh, float *restrict dc, float *restrict dz, long h) {
    lstm_backward(a, c_prev, tanh_c, dh, dc, dz, h);
}

KERNEL void lk_lstm_backward_inplace(float *restrict az, const float *restrict c_prev, const float *restrict tanh_c,
                                     const float *restrict dh, float *restrict dc, long h) {
    lstm_backward(az, c_prev, tanh_c, dh, dc, az, h);
}

KERNEL void lk_lstm_padding_map(const float *restrict v, const float *restrict coef, float *restrict m, long h, long w) {
    const float *ki = coef + h, *kf = coef + 2 * h, *kg = coef + 3 * h, *ko = coef + 4 * h;
    for (long k = 0; k < h; k++) {
        const float *vi = v + k * w, *vf = v + (h + k) * w, *vg = v + (2 * h + k) * w, *vo = v + (3 * h + k) * w;
        float *mc = m + k * w, *mh = m + (h + k) * w;
        float ci = ki[k], cf = kf[k], cg = kg[k], co = ko[k];
        for (long j = 0; j < w; j++) {
            mc[j] = ci * vi[j] + cf * vf[j] + cg * vg[j];
            mh[j] = co * vo[j];
        }
    }
}

KERNEL void lk_lstm_padding_row(const float *restrict dh, float *restrict dc, const float *restrict coef,
                                float *restrict x, float *restrict sums, long h) {
    const float *kb = coef, *fg = coef + 5 * h;
    for (long k = 0; k < h; k++) {
        float dct = dc[k] + dh[k] * kb[k];
        x[k] = dct;
        x[h + k] = dh[k];
        sums[k] += dct;
        sums[h + k] += dh[k];
        dc[k] = dct * fg[k];
    }
}

KERNEL void lk_gru_forward(float *restrict z, const float *restrict inner, float *restrict inner_h,
                           const float *restrict h_prev, float *restrict h_next, long h) {
    for (long j = 0; j < h; j++) {
        float zg = lk_gatef(z[j] + inner[j]);
        float r = lk_gatef(z[h + j] + inner[h + j]);
        float ih = inner[2 * h + j];
        float hh = lk_tanhf(z[2 * h + j] + r * ih);
        z[j] = zg; z[h + j] = r; z[2 * h + j] = hh;
        inner_h[j] = ih;
        h_next[j] = zg * h_prev[j] + (1 - zg) * hh;
    }
}

KERNEL void lk_gru_output(float *restrict z, const float *restrict h_prev, float *restrict h_next, long h) {
    for (long j = 0; j < h; j++) {
        float zg = z[j], hh = lk_tanhf(z[2 * h + j]);
        z[2 * h + j] = hh;
        h_next[j] = zg * h_prev[j] + (1 - zg) * hh;
    }
}

KERNEL void lk_gru_backward(const float *restrict a, const float *restrict h_prev, const float *restrict dh,
                            const float *restrict inner_h, float *restrict dz, float *restrict dr,
                            float *restrict dh_prev, long h) {
    for (long j = 0; j < h; j++) {
        float zg = a[j], hh = a[2 * h + j], dhj = dh[j];
        dz[j] = dhj * (h_prev[j] - hh) * zg * (1 - zg);
        dz[2 * h + j] = dhj * (1 - zg) * (1 - hh * hh);
        dh_prev[j] += dhj * zg;
    }
    if (!inner_h) return;
    for (long j = 0; j < h; j++) {
        float r = a[h + j], dAh = dz[2 * h + j];
        dz[h + j] = dAh * inner_h[j] * r * (1 - r);
        dr[j] = dz[j];
        dr[h + j] = dz[h + j];
        dr[2 * h + j] = dAh * r;
    }
}

KERNEL void lk_activation_backward(int kind, const float *restrict y, const float *restrict dy,
                                   float *restrict dz, long n) {
    if (kind == 0) {
        for (long j = 0; j < n; j++) dz[j] = dy[j] * (1 - y[j] * y[j]);
    } else {
        for (long j = 0; j < n; j++) dz[j] = dy[j] * y[j] * (1 - y[j]);
    }
}

unsigned long long lk_next_generation(void) {
    static _Atomic unsigned long long last;
    return atomic_fetch_add_explicit(&last, 1, memory_order_relaxed) + 1;
}

struct lk_spin_barrier {
    _Alignas(64) atomic_int arrived;
    _Alignas(64) atomic_uint generation;
};

lk_spin_barrier *lk_spin_barrier_create(void) {
    lk_spin_barrier *b = aligned_alloc(64, sizeof *b);
    if (b) {
        atomic_init(&b->arrived, 0);
        atomic_init(&b->generation, 0);
    }
    return b;
}

void lk_spin_barrier_destroy(lk_spin_barrier *b) { free(b); }

void lk_spin_barrier_wait(lk_spin_barrier *b, int parties) {
    unsigned gen = atomic_load_explicit(&b->generation, memory_order_acquire);
    if (atomic_fetch_add_explicit(&b->arrived, 1, memory_order_acq_rel) + 1 == parties) {
        atomic_store_explicit(&b->arrived, 0, memory_order_relaxed);
        atomic_store_explicit(&b->generation, gen + 1, memory_order_release);
        return;
    }
    for (long spins = 0; atomic_load_explicit(&b->generation, memory_order_acquire) == gen; spins++) {
        if (spins < 20000) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        } else {
            sched_yield();
        }
    }
}

KERNEL void lk_add_row_sums(float *restrict acc, const float *restrict rows, long n, long width) {
    for (long r = 0; r < n; r++) {
        const float *row = rows + r * width;
        for (long j = 0; j < width; j++) acc[j] += row[j];
    }
}
