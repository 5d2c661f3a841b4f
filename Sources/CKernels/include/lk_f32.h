#ifndef LSTMKIT_F32_H
#define LSTMKIT_F32_H

/* float32 matrix products by oneDNN's sgemm, for the shapes where it beats OpenBLAS's (the
 * recurrent steps of 32-128 rows, and products whose B is large even at 4-16 rows, because OpenBLAS
 * packs B at every call; bench/NOTES-perf.md has the figures). oneDNN (Debian's libdnnl2) is
 * opened at run time on first use; where it is missing the engine keeps to OpenBLAS. */

/* 1 when oneDNN's sgemm can be called here, else 0. Opens it on the first call; thread-safe. */
int lk_f32_gemm_available(void);

/* C = alpha op(A) op(B) + beta C, row-major; op(A) (m, k), op(B) (k, n). Runs on the calling
 * thread only. 0 on success, negative when oneDNN is unavailable or refused the call (C is then
 * untouched and the caller multiplies elsewhere). */
int lk_f32_gemm(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                const float *b, long ldb, float beta, float *c, long ldc);

#endif
