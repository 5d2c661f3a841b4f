#ifndef LSTMKIT_DNNL_LIBRARY_H
#define LSTMKIT_DNNL_LIBRARY_H

#include <signal.h>

/* oneDNN, opened at run time for both the bfloat16 products (bf16_gemm.c) and the float32 ones
 * (f32_gemm.c): Debian's libdnnl.so.2, or the file LSTMKIT_DNNL names. */

/* The library's handle, opened on the first call (thread-safe); NULL when it cannot be opened.
 * *path receives the file tried; *why, when NULL is returned, dlopen's reason. */
void *lk_dnnl_library(const char **path, const char **why);

/* oneDNN runs OpenMP teams; the engine runs its own threads, so each of them asks for teams of
 * one (the setting is per thread; the first call on a thread makes it, later ones return). */
void lk_dnnl_one_thread(void);

/* Every call that runs oneDNN's kernels is wrapped in these, on the calling thread:
 *
 *     sigset_t saved; lk_dnnl_hold_signals(&saved); ...oneDNN... lk_dnnl_release_signals(&saved);
 *
 * oneDNN's "no-copy" float32 GEMM kernels (jit_avx_gemm_f32, jit_avx512_common_gemm_f32; chosen
 * for some shapes with A untransposed and k > 252 on AVX2) point the stack pointer into a
 * malloc'ed workspace while they run. A signal delivered to the thread then has its frame written
 * by the kernel below that pointer, over the neighbouring heap chunks: glibc aborts later
 * ("corrupted size vs. prev_size") or the engine reads overwritten activations (a NaN loss).
 * Fixed upstream (oneDNN pull request 4855), not in Debian's 2.6.3. So asynchronous signals are
 * blocked on the thread for the call and delivered, unchanged, when it returns (or meanwhile to
 * another thread); the synchronous ones (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS) stay
 * open, since a fault with its signal blocked kills the process without its handler. */
void lk_dnnl_hold_signals(sigset_t *saved);
void lk_dnnl_release_signals(const sigset_t *saved);

#endif
