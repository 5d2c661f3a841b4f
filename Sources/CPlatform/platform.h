/* The few processor facts the engine needs that Swift cannot reach by itself: the SSE control
 * register (to flush denormals during compute) and which vector extensions the CPU and OS allow
 * (to tell OpenBLAS which kernels to use on processors it does not recognise). Header-only, so
 * nothing extra is linked. */
#ifndef LSTMKIT_PLATFORM_H
#define LSTMKIT_PLATFORM_H

#if defined(__x86_64__)
#include <cpuid.h>
#include <xmmintrin.h>

/* Sets flush-to-zero and denormals-are-zero on this thread; returns the previous setting. */
static inline unsigned int lstmkit_flush_denormals(void) {
    unsigned int old = _mm_getcsr();
    _mm_setcsr(old | 0x8040u);
    return old;
}
static inline void lstmkit_restore_fp_control(unsigned int saved) { _mm_setcsr(saved); }
static inline unsigned int lstmkit_fp_control(void) { return _mm_getcsr(); }

static inline unsigned long long lstmkit_xgetbv0(void) {
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

/* 2: AVX-512 F/DQ/BW/VL usable, 1: AVX2 with FMA usable, 0: neither. */
static inline int lstmkit_cpu_vector_level(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int osxsave = (c >> 27) & 1, fma = (c >> 12) & 1;
    if (!osxsave) return 0;
    unsigned long long xcr0 = lstmkit_xgetbv0();
    if ((xcr0 & 0x6) != 0x6) return 0;                 /* SSE and AVX state saved by the OS */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    int avx2 = (b >> 5) & 1;
    int avx512 = ((b >> 16) & 1) && ((b >> 17) & 1) && ((b >> 30) & 1) && ((b >> 31) & 1);
    if (avx512 && (xcr0 & 0xe6) == 0xe6) return 2;     /* opmask and ZMM state saved too */
    return (avx2 && fma) ? 1 : 0;
}
#else
static inline unsigned int lstmkit_flush_denormals(void) { return 0; }
static inline void lstmkit_restore_fp_control(unsigned int saved) { (void)saved; }
static inline unsigned int lstmkit_fp_control(void) { return 0; }
static inline int lstmkit_cpu_vector_level(void) { return 0; }
#endif

#endif
