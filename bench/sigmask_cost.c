/* What blocking and restoring the signal mask costs, the pair lk_dnnl_hold_signals and
 * lk_dnnl_release_signals wrap around every oneDNN call (Sources/CKernels/dnnl_library.h).
 *
 *   cc -O2 -o /tmp/sigmask_cost bench/sigmask_cost.c -lpthread && /tmp/sigmask_cost
 *
 * Five repetitions of a million pairs; results in bench/NOTES-perf.md. */
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <pthread.h>
int main(void) {
    sigset_t all, saved; sigfillset(&all);
    struct timespec a, b;
    for (int rep = 0; rep < 5; rep++) {
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (int i = 0; i < 1000000; i++) { pthread_sigmask(SIG_BLOCK, &all, &saved); pthread_sigmask(SIG_SETMASK, &saved, NULL); }
        clock_gettime(CLOCK_MONOTONIC, &b);
        printf("%.1f ns per block+restore\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e6);
    }
}
