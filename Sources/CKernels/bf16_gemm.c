#include "lk_bf16.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__clang__)
#define KERNEL __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define KERNEL
#endif

static inline uint16_t to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t nan = (u & 0x7fffffffu) > 0x7f800000u;
    uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    return (uint16_t)(nan ? ((u >> 16) | 0x40u) : rounded);
}

KERNEL void lk_bf16_round(const float *src, float *dst, long n) {
    for (long i = 0; i < n; i++) {
        uint32_t u = (uint32_t)to_bf16(src[i]) << 16;
        memcpy(dst + i, &u, 4);
    }
}

/* dst (rows, cols) compact = src (rows, cols) with row stride ld. A transposed operand is converted
 * as stored and handed to oneDNN with transposed strides: its AMX kernels take either layout at
 * the same speed, and a transposing copy cost more than the product it fed. */
KERNEL static void convert_plain(const float *src, long ld, uint16_t *dst, long rows, long cols) {
    for (long i = 0; i < rows; i++) {
        const float *s = src + i * ld;
        uint16_t *d = dst + i * cols;
        for (long j = 0; j < cols; j++) d[j] = to_bf16(s[j]);
    }
}

#if defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>
/* The same with the CPU's own conversion (VCVTNE2PS2BF16, round to nearest even), 32 floats an
 * instruction; only called where lk_bf16_open found AVX512-BF16. */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
static void convert_bf16_isa(const float *src, long ld, uint16_t *dst, long rows, long cols) {
    for (long i = 0; i < rows; i++) {
        const float *s = src + i * ld;
        uint16_t *d = dst + i * cols;
        long j = 0;
        for (; j + 32 <= cols; j += 32) {
            __m512bh r = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(s + j + 16), _mm512_loadu_ps(s + j));
            _mm512_storeu_si512((void *)(d + j), (__m512i)r);
        }
        for (; j < cols; j += 16) {
            long left = cols - j;
            __mmask16 mask = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
            __m256bh r = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, s + j));
            _mm256_mask_storeu_epi16((void *)(d + j), mask, (__m256i)r);
        }
    }
}
#define HAVE_BF16_ISA 1
#endif

static int use_bf16_isa;

void lk_bf16_convert(const float *src, long ld, uint16_t *dst, long rows, long cols) {
#ifdef HAVE_BF16_ISA
    if (use_bf16_isa) { convert_bf16_isa(src, ld, dst, rows, cols); return; }
#endif
    convert_plain(src, ld, dst, rows, cols);
}

/* rounded copies of small products' operands, per thread and slot */
static __thread float *scratch[2];
static __thread long scratch_cap[2];

float *lk_bf16_rounded_copy(const float *src, long ld, long rows, long cols, int slot) {
    long n = rows * cols;
    if (slot < 0 || slot > 1) return NULL;
    if (n > scratch_cap[slot]) {
        free(scratch[slot]);
        scratch[slot] = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
        scratch_cap[slot] = scratch[slot] ? n : 0;
        if (!scratch[slot]) return NULL;
    }
    for (long i = 0; i < rows; i++) lk_bf16_round(src + i * ld, scratch[slot] + i * cols, cols);
    return scratch[slot];
}

static __thread int thread_enabled;
void lk_bf16_set_thread_enabled(int on) { thread_enabled = on != 0; }
int lk_bf16_thread_enabled(void) { return thread_enabled; }

#if defined(__x86_64__) && __has_include(<oneapi/dnnl/dnnl.h>) && __has_include(<dlfcn.h>)
#include <cpuid.h>
#include <dlfcn.h>
#include <pthread.h>
#include <oneapi/dnnl/dnnl.h>

#include "dnnl_library.h"

/* oneDNN's entry points, looked up in the library opened at run time (nothing is linked). */
#define DNNL_FUNCTIONS(X) \
    X(dnnl_engine_create) X(dnnl_stream_create) X(dnnl_memory_desc_init_by_strides) \
    X(dnnl_matmul_desc_init) X(dnnl_primitive_attr_create) X(dnnl_primitive_attr_destroy) \
    X(dnnl_post_ops_create) X(dnnl_post_ops_destroy) X(dnnl_post_ops_append_sum) \
    X(dnnl_primitive_attr_set_post_ops) X(dnnl_primitive_desc_create) X(dnnl_primitive_desc_destroy) \
    X(dnnl_primitive_desc_query) X(dnnl_primitive_create) X(dnnl_primitive_destroy) \
    X(dnnl_memory_create) X(dnnl_memory_destroy) X(dnnl_memory_set_data_handle) \
    X(dnnl_primitive_execute) X(dnnl_stream_wait)
#define DECLARE(name) static __typeof__(name) *p_##name;
DNNL_FUNCTIONS(DECLARE)

static pthread_once_t open_once = PTHREAD_ONCE_INIT;
static int open_status = -1;
static char open_error[512] = "bfloat16 support was not initialised";
static dnnl_engine_t engine;

/* AVX512-BF16 or AMX-BF16, with the OS saving the AVX-512 state: without them oneDNN would emulate
 * bfloat16 more slowly than float32 runs. */
static int cpu_has_bf16(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !((c >> 27) & 1)) return 0;
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0xe6) != 0xe6) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    int amx = (d >> 22) & 1;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return amx;
    use_bf16_isa = (a >> 5) & 1;
    return amx || use_bf16_isa;
}

static void open_dnnl(void) {
    if (!cpu_has_bf16()) {
        snprintf(open_error, sizeof open_error,
                 "this CPU has no bfloat16 instructions (AVX512-BF16 or AMX-BF16): mixed_bfloat16 would be "
                 "slower than float32 here");
        return;
    }
    const char *path, *why;
    void *lib = lk_dnnl_library(&path, &why);
    if (!lib) {
        snprintf(open_error, sizeof open_error,
                 "mixed_bfloat16 needs oneDNN: %s could not be opened (%s); install Debian's libdnnl2 or set "
                 "LSTMKIT_DNNL to its path", path, why);
        return;
    }
#define LOOKUP(name) \
    if (!(p_##name = (__typeof__(name) *)dlsym(lib, #name))) { \
        snprintf(open_error, sizeof open_error, "%s has no %s: oneDNN 2.x is needed", path, #name); \
        return; \
    }
    DNNL_FUNCTIONS(LOOKUP)
    if (p_dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success) {
        snprintf(open_error, sizeof open_error, "oneDNN could not create a CPU engine");
        return;
    }
    open_error[0] = 0;
    open_status = 0;
}

int lk_bf16_open(void) {
    pthread_once(&open_once, open_dnnl);
    return open_status;
}

static __thread char thread_error[256];
const char *lk_bf16_error(void) { return thread_error[0] ? thread_error : open_error; }

/* One product's primitive and its memory objects, whose data pointers change per call. The
 * operands are bfloat16 copies laid out as the caller stores them: A (m, k), or (k, m) when
 * transposed, compact; B with row stride ldb, (k, n) or (n, k) when transposed. */
typedef struct {
    long m, n, k, ldb, ldc;
    int trans_a, trans_b, accumulate;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    dnnl_memory_t a, b, c;
    const char *impl;
} Entry;

/* Per thread: the primitives of recent shapes (the recurrent layers' step products come in a few
 * dozen shapes as rows finish their sequences), a stream, and the bfloat16 copies of the
 * operands. Kept for the thread's life: the engine's workers live as long as the process. */
enum { SLOTS = 4096, PROBES = 16 };
static __thread Entry *cache;
static __thread dnnl_stream_t stream;
static __thread uint16_t *bufA, *bufB;
static __thread long capA, capB;
static __thread const char *last_impl = "";

const char *lk_bf16_last_impl(void) { return last_impl; }

static void release(Entry *e) {
    if (e->prim) p_dnnl_primitive_destroy(e->prim);
    if (e->pd) p_dnnl_primitive_desc_destroy(e->pd);
    if (e->a) p_dnnl_memory_destroy(e->a);
    if (e->b) p_dnnl_memory_destroy(e->b);
    if (e->c) p_dnnl_memory_destroy(e->c);
    memset(e, 0, sizeof *e);
}

static int fail(const char *what, dnnl_status_t s) {
    snprintf(thread_error, sizeof thread_error, "oneDNN failed in %s (status %d)", what, (int)s);
    return -2;
}

static int build(Entry *e, const Entry *key) {
    long m = key->m, n = key->n, k = key->k;
    dnnl_memory_desc_t amd, bmd, cmd;
    dnnl_dims_t ad = {m, k}, bd = {k, n}, cd = {m, n}, cs = {key->ldc, 1};
    dnnl_dims_t as = {k, 1}, bs = {key->ldb, 1};
    if (key->trans_a) { as[0] = 1; as[1] = m; }
    if (key->trans_b) { bs[0] = 1; bs[1] = key->ldb; }
    dnnl_status_t s;
    if ((s = p_dnnl_memory_desc_init_by_strides(&amd, 2, ad, dnnl_bf16, as)) != dnnl_success ||
        (s = p_dnnl_memory_desc_init_by_strides(&bmd, 2, bd, dnnl_bf16, bs)) != dnnl_success ||
        (s = p_dnnl_memory_desc_init_by_strides(&cmd, 2, cd, dnnl_f32, cs)) != dnnl_success)
        return fail("memory_desc_init", s);
    dnnl_matmul_desc_t md;
    if ((s = p_dnnl_matmul_desc_init(&md, &amd, &bmd, NULL, &cmd)) != dnnl_success) return fail("matmul_desc_init", s);
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    if (key->accumulate) {
        if ((s = p_dnnl_primitive_attr_create(&attr)) != dnnl_success) return fail("primitive_attr_create", s);
        if ((s = p_dnnl_post_ops_create(&ops)) != dnnl_success ||
            (s = p_dnnl_post_ops_append_sum(ops, 1.0f)) != dnnl_success ||
            (s = p_dnnl_primitive_attr_set_post_ops(attr, ops)) != dnnl_success) {
            if (ops) p_dnnl_post_ops_destroy(ops);
            p_dnnl_primitive_attr_destroy(attr);
            return fail("post_ops", s);
        }
    }
    *e = *key;
    e->pd = NULL; e->prim = NULL; e->a = e->b = e->c = NULL;
    s = p_dnnl_primitive_desc_create(&e->pd, &md, attr, engine, NULL);
    if (ops) p_dnnl_post_ops_destroy(ops);
    if (attr) p_dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success) { e->pd = NULL; release(e); return fail("primitive_desc_create", s); }
    if ((s = p_dnnl_primitive_create(&e->prim, e->pd)) != dnnl_success) { e->prim = NULL; release(e); return fail("primitive_create", s); }
    if ((s = p_dnnl_memory_create(&e->a, &amd, engine, DNNL_MEMORY_NONE)) != dnnl_success ||
        (s = p_dnnl_memory_create(&e->b, &bmd, engine, DNNL_MEMORY_NONE)) != dnnl_success ||
        (s = p_dnnl_memory_create(&e->c, &cmd, engine, DNNL_MEMORY_NONE)) != dnnl_success) {
        release(e);
        return fail("memory_create", s);
    }
    const char *impl = "";
    p_dnnl_primitive_desc_query(e->pd, dnnl_query_impl_info_str, 0, &impl);
    e->impl = impl;
    return 0;
}

static int grow(uint16_t **buf, long *cap, long n) {
    if (n <= *cap) return 0;
    free(*buf);
    *buf = malloc((size_t)n * sizeof(uint16_t));
    *cap = *buf ? n : 0;
    return *buf ? 0 : -3;
}

static int start_call(float beta) {
    thread_error[0] = 0;
    if (open_status != 0) {
        snprintf(thread_error, sizeof thread_error, "%s", open_error);
        return -1;
    }
    if (beta != 0 && beta != 1) {
        snprintf(thread_error, sizeof thread_error, "bfloat16 products take beta 0 or 1, not %g", (double)beta);
        return -1;
    }
    if (!cache) {
        cache = calloc(SLOTS, sizeof(Entry));
        if (!cache) {
            snprintf(thread_error, sizeof thread_error, "out of memory for the bfloat16 primitives");
            return -3;
        }
        dnnl_status_t s = p_dnnl_stream_create(&stream, engine, dnnl_stream_default_flags);
        if (s != dnnl_success) { free(cache); cache = NULL; return fail("stream_create", s); }
        lk_dnnl_one_thread();
    }
    return 0;
}

/* A converted into bufA; runs the product with b16. */
static int run(int trans_a, int trans_b, long m, long n, long k, const uint16_t *b16, long ldb, float beta,
               float *c, long ldc) {
    Entry key = {.m = m, .n = n, .k = k, .ldb = ldb, .ldc = ldc, .trans_a = trans_a != 0, .trans_b = trans_b != 0,
                 .accumulate = beta != 0};
    unsigned long hash = (unsigned long)m * 73856093u ^ (unsigned long)n * 19349663u ^ (unsigned long)k * 83492791u
                         ^ (unsigned long)ldc * 2654435761u ^ (unsigned long)ldb * 40503u
                         ^ (unsigned long)(key.trans_a | key.trans_b << 1 | key.accumulate << 2);
    /* open addressing over a few slots: two shapes in use together must not keep evicting each
     * other (building a primitive compiles a kernel) */
    Entry *e = NULL;
    for (unsigned long probe = 0; probe < PROBES; probe++) {
        Entry *slot = &cache[(hash + probe) % SLOTS];
        if (!slot->prim) { e = slot; break; }
        if (slot->m == m && slot->n == n && slot->k == k && slot->ldb == ldb && slot->ldc == ldc &&
            slot->trans_a == key.trans_a && slot->trans_b == key.trans_b && slot->accumulate == key.accumulate) {
            e = slot;
            goto found;
        }
    }
    if (!e) {
        e = &cache[hash % SLOTS];
        release(e);
    }
    {
        int r = build(e, &key);
        if (r) return r;
    }
found:;
    dnnl_status_t s;
    if ((s = p_dnnl_memory_set_data_handle(e->a, bufA)) != dnnl_success ||
        (s = p_dnnl_memory_set_data_handle(e->b, (void *)b16)) != dnnl_success ||
        (s = p_dnnl_memory_set_data_handle(e->c, c)) != dnnl_success)
        return fail("memory_set_data_handle", s);
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, e->a}, {DNNL_ARG_WEIGHTS, e->b}, {DNNL_ARG_DST, e->c}};
    sigset_t saved;
    lk_dnnl_hold_signals(&saved);   /* dnnl_library.h says why */
    s = p_dnnl_primitive_execute(e->prim, stream, 3, args);
    dnnl_status_t waited = s == dnnl_success ? p_dnnl_stream_wait(stream) : dnnl_success;
    lk_dnnl_release_signals(&saved);
    if (s != dnnl_success) return fail("primitive_execute", s);
    if (waited != dnnl_success) return fail("stream_wait", waited);
    last_impl = e->impl;
    return 0;
}

/* src (rows, cols; row stride ld) converted into dst (prows, pcols) compact, the rows and
 * columns past src's zero. */
static void convert_padded(const float *src, long ld, uint16_t *dst, long rows, long cols, long prows, long pcols) {
    if (pcols == cols) {
        lk_bf16_convert(src, ld, dst, rows, cols);
    } else {
        for (long i = 0; i < rows; i++) {
            lk_bf16_convert(src + i * ld, ld, dst + i * pcols, 1, cols);
            memset(dst + i * pcols + cols, 0, (size_t)(pcols - cols) * sizeof(uint16_t));
        }
    }
    if (prows > rows) memset(dst + rows * pcols, 0, (size_t)((prows - rows) * pcols) * sizeof(uint16_t));
}

/* A into bufA with its k padded to kp (zeros). */
static int convert_a(int trans_a, long m, long k, long kp, const float *a, long lda) {
    if (grow(&bufA, &capA, m * kp)) {
        snprintf(thread_error, sizeof thread_error, "out of memory for the bfloat16 operands");
        return -3;
    }
    if (trans_a) convert_padded(a, lda, bufA, k, m, kp, m); else convert_padded(a, lda, bufA, m, k, m, kp);
    return 0;
}

int lk_bf16_gemm(int trans_a, int trans_b, long m, long n, long k, const float *a, long lda,
                 const float *b, long ldb, float beta, float *c, long ldc) {
    int r = start_call(beta);
    if (r || m <= 0 || n <= 0 || k <= 0) return r;
    /* Both operands are converted here, so k can be padded with zeros to a multiple of 32: a k
     * that varies (the number of entries a weight gradient sums) then takes a few primitives
     * instead of one per value, each compiled when first used. */
    long kp = (k + 31) & ~31L;
    if ((r = convert_a(trans_a, m, k, kp, a, lda))) return r;
    if (grow(&bufB, &capB, kp * n)) {
        snprintf(thread_error, sizeof thread_error, "out of memory for the bfloat16 operands");
        return -3;
    }
    if (trans_b) convert_padded(b, ldb, bufB, n, k, n, kp); else convert_padded(b, ldb, bufB, k, n, kp, n);
    return run(trans_a, trans_b, m, n, kp, bufB, trans_b ? kp : n, beta, c, ldc);
}

int lk_bf16_gemm_b16(int trans_a, int trans_b, long m, long n, long k, const float *a, long lda,
                     const uint16_t *b16, long ldb, float beta, float *c, long ldc) {
    int r = start_call(beta);
    if (r || m <= 0 || n <= 0 || k <= 0) return r;
    if ((r = convert_a(trans_a, m, k, k, a, lda))) return r;
    return run(trans_a, trans_b, m, n, k, b16, ldb, beta, c, ldc);
}

#else

int lk_bf16_open(void) { return -1; }
const char *lk_bf16_error(void) { return "this build of lstmkit has no bfloat16 support (built without oneDNN's headers)"; }
int lk_bf16_gemm(int trans_a, int trans_b, long m, long n, long k, const float *a, long lda,
                 const float *b, long ldb, float beta, float *c, long ldc) {
    (void)trans_a; (void)trans_b; (void)m; (void)n; (void)k; (void)a; (void)lda; (void)b; (void)ldb; (void)beta;
    (void)c; (void)ldc;
    return -1;
}
int lk_bf16_gemm_b16(int trans_a, int trans_b, long m, long n, long k, const float *a, long lda,
                     const uint16_t *b16, long ldb, float beta, float *c, long ldc) {
    (void)trans_a; (void)trans_b; (void)m; (void)n; (void)k; (void)a; (void)lda; (void)b16; (void)ldb; (void)beta;
    (void)c; (void)ldc;
    return -1;
}
const char *lk_bf16_last_impl(void) { return ""; }

#endif
