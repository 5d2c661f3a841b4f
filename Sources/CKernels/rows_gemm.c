#include "lk_rows.h"
#include <stdlib.h>

#if defined(__x86_64__) && defined(__clang__)
#define KERNEL __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define KERNEL
#endif

/* Blocks of RB rows by CB columns: each b row loaded serves RB rows, and the RB x CB sums stay
 * in registers over the whole k loop: 4 x 64 floats (16 AVX-512 registers), or 3 x 32 (12 of
 * AVX2's 16; the larger block would not fit them). Every element is the same chain of
 * multiply-adds in any block, full or partial, so the blocking decides speed only, never bits. */
#define ROWS_BLOCKS(NAME, RB, CB)                                                                               \
    static inline __attribute__((always_inline)) void NAME##_full(const long rows, long k, const float *restrict a, \
                                                                  long lda, const float *restrict b, long ldb,   \
                                                                  float acc[RB][CB]) {                           \
        for (long r = 0; r < rows; r++)                                                                          \
            for (long j = 0; j < CB; j++) acc[r][j] = 0;                                                         \
        for (long p = 0; p < k; p++) {                                                                           \
            const float *bp = b + p * ldb;                                                                       \
            for (long r = 0; r < rows; r++) {                                                                    \
                float ar = a[r * lda + p];                                                                       \
                for (long j = 0; j < CB; j++) acc[r][j] += ar * bp[j];                                           \
            }                                                                                                    \
        }                                                                                                        \
    }                                                                                                            \
    static inline __attribute__((always_inline)) void NAME(long m, long n, long k, const float *restrict a,      \
                                                           long lda, const float *restrict b, long ldb,         \
                                                           const float *restrict bias, int accumulate,          \
                                                           float *restrict c, long ldc, float *restrict pack) {                       \
        for (long j0 = 0; j0 < n; j0 += CB) {                                                                    \
            long cols = n - j0 < CB ? n - j0 : CB;                                                               \
            const float *bj = b + j0;                                                                            \
            long bld = ldb;                                                                                      \
            if (pack && cols == CB) {                                                                            \
                /* the strip's rows side by side: one stream the prefetcher follows */                        \
                for (long p = 0; p < k; p++)                                                                     \
                    for (long j = 0; j < CB; j++) pack[p * CB + j] = b[p * ldb + j0 + j];                        \
                bj = pack;                                                                                       \
                bld = CB;                                                                                        \
            }                                                                                                    \
            for (long i0 = 0; i0 < m; i0 += RB) {                                                                \
                long rows = m - i0 < RB ? m - i0 : RB;                                                           \
                const float *ai = a + i0 * lda;                                                                  \
                float acc[RB][CB];                                                                               \
                if (cols == CB) {                                                                                \
                    /* constant row counts: the sums stay in registers */                                      \
                    if (rows == RB) NAME##_full(RB, k, ai, lda, bj, bld, acc);                                   \
                    else if (rows == 1) NAME##_full(1, k, ai, lda, bj, bld, acc);                                \
                    else if (rows == 2) NAME##_full(2, k, ai, lda, bj, bld, acc);                                \
                    else NAME##_full(3, k, ai, lda, bj, bld, acc);                                               \
                } else {                                                                                         \
                    for (long r = 0; r < rows; r++)                                                              \
                        for (long j = 0; j < cols; j++) acc[r][j] = 0;                                           \
                    for (long p = 0; p < k; p++) {                                                               \
                        const float *bp = bj + p * ldb;                                                          \
                        for (long r = 0; r < rows; r++) {                                                        \
                            float ar = ai[r * lda + p];                                                          \
                            for (long j = 0; j < cols; j++) acc[r][j] += ar * bp[j];                             \
                        }                                                                                        \
                    }                                                                                            \
                }                                                                                                \
                const float *bb = bias ? bias + j0 : 0;                                                          \
                for (long r = 0; r < rows; r++) {                                                                \
                    float *cr = c + (i0 + r) * ldc + j0;                                                         \
                    if (accumulate) {                                                                            \
                        for (long j = 0; j < cols; j++) cr[j] = cr[j] + acc[r][j];                               \
                    } else if (bb) {                                                                             \
                        for (long j = 0; j < cols; j++) cr[j] = bb[j] + acc[r][j];                               \
                    } else {                                                                                     \
                        for (long j = 0; j < cols; j++) cr[j] = acc[r][j];                                       \
                    }                                                                                            \
                }                                                                                                \
            }                                                                                                    \
        }                                                                                                        \
    }

ROWS_BLOCKS(blocks_wide, 4, 64)
ROWS_BLOCKS(blocks_narrow, 3, 32)

static int wide_registers = -1;   /* AVX-512's 32 registers of 16 floats: set once */

KERNEL void lk_rows_gemm(long m, long n, long k, const float *restrict a, long lda, const float *restrict b, long ldb,
                         const float *restrict bias, int accumulate, float *restrict c, long ldc) {
    int wide = __atomic_load_n(&wide_registers, __ATOMIC_RELAXED);
    if (wide < 0) {
#if defined(__x86_64__) && defined(__clang__)
        __builtin_cpu_init();
        wide = __builtin_cpu_supports("avx512f") != 0;
#else
        wide = 0;
#endif
        __atomic_store_n(&wide_registers, wide, __ATOMIC_RELAXED);
    }
        /* From 32 rows each column block's strip of b is copied contiguous first (k x 64 floats;
     * without the copy, NULL, the strip is read in place: the same sums either way). */
    float *pack = 0;
    if (m >= 32 && k <= 4096) pack = aligned_alloc(64, (size_t)k * 64 * sizeof(float));
    if (wide) blocks_wide(m, n, k, a, lda, b, ldb, bias, accumulate, c, ldc, pack);
    else blocks_narrow(m, n, k, a, lda, b, ldb, bias, accumulate, c, ldc, pack);
    free(pack);
}

static __thread int rows_exact;
void lk_rows_exact_set_thread(int on) { rows_exact = on != 0; }
int lk_rows_exact_thread(void) { return rows_exact; }
