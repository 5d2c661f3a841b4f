/*
 * onerow_sgemv K N
 *
 * One-row products c (1, N) += a (1, K) B (K, N), B row-major and 64-byte aligned, as batch-1
 * inference multiplies a state by a recurrent kernel: OpenBLAS's cblas_sgemm with m = 1 against
 * cblas_sgemv on the same operands. 20,000 calls per measurement, best of 5, microseconds per call.
 * The kernels are whatever OpenBLAS runs in this environment (OPENBLAS_CORETYPE decides; run it
 * once as the environment has it and once with OPENBLAS_CORETYPE=SkylakeX to compare).
 *
 * Build: cc -O2 -o onerow_sgemv bench/onerow_sgemv.c -lopenblas
 * Run:   OPENBLAS_NUM_THREADS=1 ./onerow_sgemv 100 400
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static float *aligned_floats(size_t n) {
    return aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: onerow_sgemv K N\n"); return 2; }
    int k = atoi(argv[1]), n = atoi(argv[2]);
    if (k < 1 || n < 1) { fprintf(stderr, "K and N must be positive\n"); return 2; }
    float *a = aligned_floats(k), *b = aligned_floats((size_t)k * n), *c = aligned_floats(n);
    for (int i = 0; i < k; i++) a[i] = i * 0.01f;
    for (long i = 0; i < (long)k * n; i++) b[i] = (i % 7) * 0.1f;
    for (int j = 0; j < n; j++) c[j] = 0;
    const int reps = 20000;
    double gemm = 1e9, gemv = 1e9;
    for (int r = 0; r < 5; r++) {
        double t = now();
        for (int i = 0; i < reps; i++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 1, n, k, 1, a, k, b, n, 1, c, n);
        t = (now() - t) / reps;
        if (t < gemm) gemm = t;
        t = now();
        for (int i = 0; i < reps; i++)
            cblas_sgemv(CblasRowMajor, CblasTrans, k, n, 1, b, n, a, 1, 1, c, 1);
        t = (now() - t) / reps;
        if (t < gemv) gemv = t;
    }
    printf("k=%d n=%d sgemm_us=%.2f sgemv_us=%.2f\n", k, n, gemm * 1e6, gemv * 1e6);
    free(a); free(b); free(c);
    return 0;
}
