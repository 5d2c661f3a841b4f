/*
 * matvec_split H T
 *
 * Would batch-1 LSTM inference get faster by splitting each step's recurrent product over the
 * two cores? Times T steps of z += h U (U: H x 4H, the batch-1 recurrent product) three ways:
 *   single   one cblas_sgemv over all 4H columns per step, one thread
 *   split4   two threads, each 4 sgemv calls on its half of every gate's columns, writing the
 *            shared z; a spin barrier after every step (the next step needs all of h)
 *   packed   two threads, each one sgemv on a private copy of its columns, into a private buffer
 * and prints the best of 200 runs of each (thread start included for the split variants).
 * The per-step elementwise work is a stand-in; only the products and the synchronisation count.
 * A third argument "unaligned" puts U 16 bytes past a cache line, as a Swift array's storage is.
 *
 * Build: cc -O2 -o matvec_split bench/matvec_split.c -lopenblas -lpthread
 * Run:   OPENBLAS_CORETYPE=SkylakeX OPENBLAS_NUM_THREADS=1 ./matvec_split 100 600   (M1)
 *        OPENBLAS_CORETYPE=SkylakeX OPENBLAS_NUM_THREADS=1 ./matvec_split 100 600 unaligned
 *        OPENBLAS_CORETYPE=SkylakeX OPENBLAS_NUM_THREADS=1 ./matvec_split 256 39    (M4)
 */
#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int H, T, split_at, variant;
static float *U, *packed[2], *z, *h, *zp[2];
static volatile int arrived;
static volatile unsigned generation;

static void barrier(void) {
    unsigned gen = __atomic_load_n(&generation, __ATOMIC_ACQUIRE);
    if (__atomic_add_fetch(&arrived, 1, __ATOMIC_ACQ_REL) == 2) {
        __atomic_store_n(&arrived, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&generation, gen + 1, __ATOMIC_RELEASE);
        return;
    }
    while (__atomic_load_n(&generation, __ATOMIC_ACQUIRE) == gen) __builtin_ia32_pause();
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void step(int p, int s) {
    int u0 = p ? split_at : 0, n = p ? H - split_at : split_at;
    float *hp = h + (size_t)s * H, *hn = hp + H, *zs = z + (size_t)s * 4 * H;
    if (variant == 0) {
        for (int g = 0; g < 4; g++)
            cblas_sgemv(CblasRowMajor, CblasTrans, H, n, 1.f, U + g * H + u0, 4 * H, hp, 1, 1.f, zs + g * H + u0, 1);
        for (int j = 0; j < n; j++) hn[u0 + j] = 0.25f * (zs[u0 + j] + zs[H + u0 + j] + zs[2 * H + u0 + j] + zs[3 * H + u0 + j]);
    } else {
        float *q = zp[p];
        cblas_sgemv(CblasRowMajor, CblasTrans, H, 4 * n, 1.f, packed[p], 4 * n, hp, 1, 0.f, q, 1);
        for (int j = 0; j < n; j++) hn[u0 + j] = 0.25f * (zs[u0 + j] + q[j] + q[n + j] + q[2 * n + j] + q[3 * n + j]);
    }
}

static void *worker(void *arg) {
    (void)arg;
    for (int s = 0; s < T; s++) { step(1, s); barrier(); }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: matvec_split H T [unaligned]\n"); return 2; }
    int unaligned = argc > 3 && strcmp(argv[3], "unaligned") == 0;
    H = atoi(argv[1]); T = atoi(argv[2]);
    if (H < 32 || T < 1) { fprintf(stderr, "H >= 32 and T >= 1\n"); return 2; }
    split_at = H / 2 / 16 * 16;
    /* on a cache line, as the engine's FloatBuffer, or 16 bytes past one */
    float *block = aligned_alloc(64, sizeof(float) * H * 4 * H + 64);
    U = block + (unaligned ? 4 : 0);
    z = malloc(sizeof(float) * T * 4 * H);
    h = malloc(sizeof(float) * (T + 1) * H);
    for (int i = 0; i < H * 4 * H; i++) U[i] = ((i * 7) % 13 - 6) * 0.001f;
    for (int p = 0; p < 2; p++) {
        int u0 = p ? split_at : 0, n = p ? H - split_at : split_at;
        packed[p] = malloc(sizeof(float) * H * 4 * n);
        zp[p] = malloc(sizeof(float) * 4 * n);
        for (int k = 0; k < H; k++)
            for (int g = 0; g < 4; g++)
                for (int j = 0; j < n; j++) packed[p][(size_t)k * 4 * n + g * n + j] = U[(size_t)k * 4 * H + g * H + u0 + j];
    }
    double single = 1e9, split[2] = {1e9, 1e9};
    for (int r = 0; r < 200; r++) {
        memset(h, 0, sizeof(float) * (T + 1) * H);
        double t0 = now();
        for (int s = 0; s < T; s++)
            cblas_sgemv(CblasRowMajor, CblasTrans, H, 4 * H, 1.f, U, 4 * H, h + (size_t)s * H, 1, 1.f, z + (size_t)s * 4 * H, 1);
        double el = now() - t0;
        if (el < single) single = el;
    }
    for (variant = 0; variant < 2; variant++) {
        for (int r = 0; r < 200; r++) {
            memset(h, 0, sizeof(float) * (T + 1) * H);
            memset(z, 0, sizeof(float) * T * 4 * H);
            double t0 = now();
            pthread_t t;
            pthread_create(&t, NULL, worker, NULL);
            for (int s = 0; s < T; s++) { step(0, s); barrier(); }
            pthread_join(t, NULL);
            double el = now() - t0;
            if (el < split[variant]) split[variant] = el;
        }
    }
    printf("H=%d T=%d%s  single %.3f ms  split4 %.3f ms  packed %.3f ms\n", H, T, unaligned ? " unaligned" : "", single * 1e3, split[0] * 1e3, split[1] * 1e3);
    return 0;
}
