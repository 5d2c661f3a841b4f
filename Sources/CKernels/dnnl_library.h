#ifndef LSTMKIT_DNNL_LIBRARY_H
#define LSTMKIT_DNNL_LIBRARY_H

/* oneDNN, opened at run time for both the bfloat16 products (bf16_gemm.c) and the float32 ones
 * (f32_gemm.c): Debian's libdnnl.so.2, or the file LSTMKIT_DNNL names. */

/* The library's handle, opened on the first call (thread-safe); NULL when it cannot be opened.
 * *path receives the file tried; *why, when NULL is returned, dlopen's reason. */
void *lk_dnnl_library(const char **path, const char **why);

/* oneDNN runs OpenMP teams; the engine runs its own threads, so each of them asks for teams of
 * one (the setting is per thread; the first call on a thread makes it, later ones return). */
void lk_dnnl_one_thread(void);

#endif
