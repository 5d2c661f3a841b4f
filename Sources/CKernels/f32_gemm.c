#include "lk_f32.h"

#include <dlfcn.h>
#include <pthread.h>

#include "dnnl_library.h"

/* dnnl_sgemm from oneDNN 2.x's C API (dnnl.h), declared here so that building needs no oneDNN
 * headers: row-major, returns dnnl_success (0) or an error status. */
typedef int (*dnnl_sgemm_fn)(char transa, char transb, long m, long n, long k, float alpha, const float *a,
                             long lda, const float *b, long ldb, float beta, float *c, long ldc);

static dnnl_sgemm_fn p_sgemm;
static pthread_once_t open_once = PTHREAD_ONCE_INIT;

static void open_dnnl(void) {
    void *lib = lk_dnnl_library(NULL, NULL);
    if (lib) p_sgemm = (dnnl_sgemm_fn)dlsym(lib, "dnnl_sgemm");
}

int lk_f32_gemm_available(void) {
    pthread_once(&open_once, open_dnnl);
    return p_sgemm != NULL;
}

int lk_f32_gemm(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                const float *b, long ldb, float beta, float *c, long ldc) {
    if (!lk_f32_gemm_available()) return -1;
    lk_dnnl_one_thread();
    sigset_t saved;
    lk_dnnl_hold_signals(&saved);   /* dnnl_library.h says why */
    int status = p_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    lk_dnnl_release_signals(&saved);
    return status == 0 ? 0 : -2;
}
