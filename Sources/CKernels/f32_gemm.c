#include "lk_f32.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>

/* dnnl_sgemm from oneDNN 2.x's C API (dnnl.h), declared here so that building needs no oneDNN
 * headers: row-major, returns dnnl_success (0) or an error status. */
typedef int (*dnnl_sgemm_fn)(char transa, char transb, long m, long n, long k, float alpha, const float *a,
                             long lda, const float *b, long ldb, float beta, float *c, long ldc);

static dnnl_sgemm_fn p_sgemm;
static void (*p_omp_set_num_threads)(int);
static pthread_once_t open_once = PTHREAD_ONCE_INIT;

static void open_dnnl(void) {
    const char *path = getenv("LSTMKIT_DNNL");
    if (!path || !*path) path = "libdnnl.so.2";
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) return;
    /* oneDNN runs OpenMP teams; the engine runs its own threads, so each call uses one (the
     * setting is per calling thread, made on its first call). */
    void *gomp = dlopen("libgomp.so.1", RTLD_NOW | RTLD_NOLOAD);
    if (gomp) p_omp_set_num_threads = (void (*)(int))dlsym(gomp, "omp_set_num_threads");
    p_sgemm = (dnnl_sgemm_fn)dlsym(lib, "dnnl_sgemm");
}

int lk_f32_gemm_available(void) {
    pthread_once(&open_once, open_dnnl);
    return p_sgemm != NULL;
}

int lk_f32_gemm(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                const float *b, long ldb, float beta, float *c, long ldc) {
    static __thread int one_thread;
    if (!lk_f32_gemm_available()) return -1;
    if (!one_thread) {
        if (p_omp_set_num_threads) p_omp_set_num_threads(1);
        one_thread = 1;
    }
    return p_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) == 0
               ? 0 : -2;
}
