#ifndef LSTMKIT_BF16_H
#define LSTMKIT_BF16_H

#include <stdint.h>

/* The mixed_bfloat16 compute policy's matrix products: operands rounded to bfloat16, products
 * accumulated and stored in float32, run by oneDNN's matmul (AMX or AVX512-BF16 kernels).
 * Debian's OpenBLAS 0.3.21 is built without cblas_sbgemm, so oneDNN (Debian's libdnnl2) is opened
 * at run time, on first use: the library needs it only when a model asks for bfloat16. */

/* 0 when bfloat16 products can run here; otherwise a negative code, and lk_bf16_error() says why.
 * Opens oneDNN on the first call; later calls return the same answer. Thread-safe. */
int lk_bf16_open(void);
const char *lk_bf16_error(void);

/* Whether the calling thread routes its products to bfloat16 (lk_bf16_gemm); per thread, so two
 * models can compute concurrently with different policies. */
void lk_bf16_set_thread_enabled(int on);
int lk_bf16_thread_enabled(void);

/* C = op(A) op(B) + beta C, row-major, float32 in and out, beta 0 or 1 (other values: -1 is
 * returned and C is untouched). op(A) is (m, k), op(B) (k, n). Returns 0, or a negative code
 * (oneDNN failed: lk_bf16_error() says how). lk_bf16_open() must have returned 0. */
int lk_bf16_gemm(int trans_a, int trans_b, long m, long n, long k, const float *a, long lda,
                 const float *b, long ldb, float beta, float *c, long ldc);

/* The same with B already converted (lk_bf16_convert), stored with row stride ldb: (k, n), or
 * (n, k) when transposed. For a weight read by many products of one pass (a recurrent kernel at
 * every step), converted once. */
int lk_bf16_gemm_b16(int trans_a, int trans_b, long m, long n, long k, const float *a, long lda,
                     const uint16_t *b16, long ldb, float beta, float *c, long ldc);

/* dst (rows, cols), compact, = src (rows, cols) with row stride ld, rounded to bfloat16 (nearest,
 * ties to even). */
void lk_bf16_convert(const float *src, long ld, uint16_t *dst, long rows, long cols);

/* A compact copy of src (rows, cols; row stride ld) rounded to bfloat16 values, kept in float32,
 * in a buffer of the calling thread (slot 0 or 1) that the next call with the same slot reuses;
 * NULL when out of memory. The small products' operands, which OpenBLAS multiplies. */
float *lk_bf16_rounded_copy(const float *src, long ld, long rows, long cols, int slot);

/* oneDNN's name for the kernel the last product on this thread ran (for tests and benchmarks),
 * e.g. "brg:avx512_core_amx_bf16"; "" before any. */
const char *lk_bf16_last_impl(void);

/* dst[i] = src[i] rounded to the nearest bfloat16 (ties to even) and widened back to float32:
 * what a product sees of its operands (for tests). */
void lk_bf16_round(const float *src, float *dst, long n);

#endif
