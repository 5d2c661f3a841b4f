/*
 * rows_exact_blas M K N
 *
 * The row-exact product c = bias + a (M, K) b (K, N) three ways, best of 5, microseconds per call:
 * lk_rows_gemm (Sources/CKernels/rows_gemm.c, the engine's row-exact kernel), one cblas_sgemv per
 * row (also row-exact, since each row is its own call, and all BLAS), and one cblas_sgemm (not
 * row-exact: the reference BLAS speed). One thread; the OpenBLAS kernels are the environment's.
 *
 * Build: clang -O3 -c -I Sources/CKernels/include Sources/CKernels/rows_gemm.c -o /tmp/rows.o
 *        clang -O2 bench/rows_exact_blas.c /tmp/rows.o -o /tmp/rows_exact_blas -lopenblas
 * Run:   OPENBLAS_NUM_THREADS=1 /tmp/rows_exact_blas 16 100 400
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
void lk_rows_gemm(long m, long n, long k, const float *a, long lda, const float *b, long ldb,
                  const float *bias, int accumulate, float *c, long ldc);
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
/* bias, then the row times b: sgemv adds to what c holds */
static void rows_sgemv(long m,long n,long k,const float*a,long lda,const float*b,long ldb,const float*bias,float*c,long ldc){
  for(long i=0;i<m;i++){ float*ci=c+i*ldc; memcpy(ci,bias,n*4); cblas_sgemv(CblasRowMajor,CblasTrans,k,n,1,b,ldb,a+i*lda,1,1,ci,1);} }
int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: rows_exact_blas M K N\n"); return 2; }
  long m=atol(argv[1]),k=atol(argv[2]),n=atol(argv[3]);
  float*a=aligned_alloc(64,((m*k*4)+63)/64*64),*b=aligned_alloc(64,((k*n*4)+63)/64*64),*c=aligned_alloc(64,((m*n*4)+63)/64*64),*c2=aligned_alloc(64,((m*n*4)+63)/64*64),*bias=aligned_alloc(64,((n*4)+63)/64*64);
  for(long i=0;i<m*k;i++)a[i]=((i*7)%13)*0.01f; for(long i=0;i<k*n;i++)b[i]=((i*5)%11)*0.01f; for(long j=0;j<n;j++)bias[j]=0.1f;
  long reps = 2e8/(m*k*n) + 1; double t1=1e9,t2=1e9,t3=1e9;
  for(int r=0;r<5;r++){
    double t=now(); for(long i=0;i<reps;i++) lk_rows_gemm(m,n,k,a,k,b,n,bias,0,c,n); t=(now()-t)/reps; if(t<t1)t1=t;
    t=now(); for(long i=0;i<reps;i++) rows_sgemv(m,n,k,a,k,b,n,bias,c2,n); t=(now()-t)/reps; if(t<t2)t2=t;
    t=now(); for(long i=0;i<reps;i++){ for(long r2=0;r2<m;r2++) memcpy(c2+r2*n,bias,n*4); cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,m,n,k,1,a,k,b,n,1,c2,n);} t=(now()-t)/reps; if(t<t3)t3=t;
  }
  printf("m=%ld k=%ld n=%ld rows_gemm %.1f us  sgemv-per-row %.1f us (%.2fx)  sgemm %.1f us\n",m,k,n,t1*1e6,t2*1e6,t2/t1,t3*1e6);
}
