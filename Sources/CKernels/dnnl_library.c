#include "dnnl_library.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_once_t open_once = PTHREAD_ONCE_INIT;
static void *library;
static const char *library_path = "libdnnl.so.2";
static char open_error[256];
static void (*p_omp_set_num_threads)(int);

static void open_library(void) {
    const char *custom = getenv("LSTMKIT_DNNL");
    if (custom && *custom) library_path = custom;
    library = dlopen(library_path, RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        const char *e = dlerror();
        snprintf(open_error, sizeof open_error, "%s", e ? e : "dlopen failed");
        return;
    }
    void *gomp = dlopen("libgomp.so.1", RTLD_NOW | RTLD_NOLOAD);
    if (gomp) p_omp_set_num_threads = (void (*)(int))dlsym(gomp, "omp_set_num_threads");
}

void *lk_dnnl_library(const char **path, const char **why) {
    pthread_once(&open_once, open_library);
    if (path) *path = library_path;
    if (why) *why = open_error;
    return library;
}

void lk_dnnl_one_thread(void) {
    static __thread int done;
    if (done) return;
    if (p_omp_set_num_threads) p_omp_set_num_threads(1);
    done = 1;
}

static pthread_once_t held_once = PTHREAD_ONCE_INIT;
static sigset_t held;

static void init_held(void) {
    sigfillset(&held);
    static const int synchronous[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS};
    for (unsigned i = 0; i < sizeof synchronous / sizeof synchronous[0]; i++) sigdelset(&held, synchronous[i]);
}

void lk_dnnl_hold_signals(sigset_t *saved) {
    pthread_once(&held_once, init_held);
    pthread_sigmask(SIG_BLOCK, &held, saved);
}

void lk_dnnl_release_signals(const sigset_t *saved) { pthread_sigmask(SIG_SETMASK, saved, NULL); }
