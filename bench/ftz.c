/*
 * ftz.c — a measurement aid, not part of lstmkit: a shared object whose constructor turns on
 * flush-to-zero and denormals-are-zero (MXCSR bits FTZ 0x8000, DAZ 0x0040) in the thread that
 * loads it. bench_lstmkit.py --ftz loads it with ctypes before liblstmkit.so (so the OpenBLAS
 * worker threads, created later, inherit the setting) and LD_PRELOADs it into bench/latency.
 * It shows what lstmkit would gain by doing the same itself, as TensorFlow does.
 *
 * Build: cc -O2 -shared -fPIC -o libftz.so ftz.c
 */
#include <xmmintrin.h>

__attribute__((constructor)) static void lstmkit_bench_set_ftz_daz(void) {
    _mm_setcsr(_mm_getcsr() | 0x8040);
}
