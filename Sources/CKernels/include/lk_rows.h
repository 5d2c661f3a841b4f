#ifndef LSTMKIT_LK_ROWS_H
#define LSTMKIT_LK_ROWS_H

/* A product whose every output row is computed the same way whatever the other rows are:
 * c[i][j] = init + (a[i][0] b[0][j] + a[i][1] b[1][j] + ... + a[i][k-1] b[k-1][j]), the sum
 * accumulated in that order from zero (with fused multiply-adds where the CPU has them), then
 * added to init once: init is c[i][j] itself when accumulate is set, else bias[j] (or nothing
 * when bias is NULL). Row-major; a (m, k) with row stride lda, b (k, n) with ldb, c (m, n) with
 * ldc. BLAS libraries choose kernels by the product's shape, and one row of a 16-row product can
 * come out different in its last bits from the same row alone; this one cannot, which is what
 * lets a forward-only pass give a row the same bits on every call (whether the projection table
 * is built yet or not), and a stream (CAPI/StateAPI.swift) the same bits step by step as the
 * whole sequence at once. */
void lk_rows_gemm(long m, long n, long k, const float *a, long lda, const float *b, long ldb,
                  const float *bias, int accumulate, float *c, long ldc);

/* The calling thread's choice, set around forward-only passes: products of independent rows
 * (input projections, Dense, and recurrent steps of up to 16 rows) go through lk_rows_gemm. */
void lk_rows_exact_set_thread(int on);
int lk_rows_exact_thread(void);

#endif
