#include "lk_rows.h"

#if defined(__x86_64__) && defined(__clang__)
#define KERNEL __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define KERNEL
#endif

/* Blocks of RB rows by CB columns: each b row loaded serves RB rows, and the RB x CB sums stay
 * in registers over the whole k loop (4 x 64 floats: 16 AVX-512 registers). Every element is
 * the same chain of multiply-adds in any block, full or partial, so the blocking decides speed
 * only, never bits. */
#define RB 4
#define CB 64

static inline __attribute__((always_inline)) void finish(long rows, long cols, float acc[RB][CB], const float *bias,
                                                        int accumulate, float *c, long ldc) {
    for (long r = 0; r < rows; r++) {
        float *cr = c + r * ldc;
        if (accumulate) {
            for (long j = 0; j < cols; j++) cr[j] = cr[j] + acc[r][j];
        } else if (bias) {
            for (long j = 0; j < cols; j++) cr[j] = bias[j] + acc[r][j];
        } else {
            for (long j = 0; j < cols; j++) cr[j] = acc[r][j];
        }
    }
}

/* A block of `rows` rows (a constant once inlined, so the sums stay in registers) by CB columns. */
static inline __attribute__((always_inline)) void full_columns(const long rows, long k, const float *restrict a, long lda,
                                                              const float *restrict b, long ldb, float acc[RB][CB]) {
    for (long r = 0; r < rows; r++)
        for (long j = 0; j < CB; j++) acc[r][j] = 0;
    for (long p = 0; p < k; p++) {
        const float *bp = b + p * ldb;
        for (long r = 0; r < rows; r++) {
            float ar = a[r * lda + p];
            for (long j = 0; j < CB; j++) acc[r][j] += ar * bp[j];
        }
    }
}

KERNEL void lk_rows_gemm(long m, long n, long k, const float *restrict a, long lda, const float *restrict b, long ldb,
                         const float *restrict bias, int accumulate, float *restrict c, long ldc) {
    for (long j0 = 0; j0 < n; j0 += CB) {
        long cols = n - j0 < CB ? n - j0 : CB;
        const float *bj = b + j0;
        for (long i0 = 0; i0 < m; i0 += RB) {
            long rows = m - i0 < RB ? m - i0 : RB;
            const float *ai = a + i0 * lda;
            float acc[RB][CB];
            if (cols == CB) {
                switch (rows) {
                case 4: full_columns(4, k, ai, lda, bj, ldb, acc); break;
                case 3: full_columns(3, k, ai, lda, bj, ldb, acc); break;
                case 2: full_columns(2, k, ai, lda, bj, ldb, acc); break;
                default: full_columns(1, k, ai, lda, bj, ldb, acc); break;
                }
            } else {
                for (long r = 0; r < rows; r++)
                    for (long j = 0; j < cols; j++) acc[r][j] = 0;
                for (long p = 0; p < k; p++) {
                    const float *bp = bj + p * ldb;
                    for (long r = 0; r < rows; r++) {
                        float ar = ai[r * lda + p];
                        for (long j = 0; j < cols; j++) acc[r][j] += ar * bp[j];
                    }
                }
            }
            finish(rows, cols, acc, bias ? bias + j0 : 0, accumulate, c + i0 * ldc + j0, ldc);
        }
    }
}

static __thread int rows_exact;
void lk_rows_exact_set_thread(int on) { rows_exact = on != 0; }
int lk_rows_exact_thread(void) { return rows_exact; }
