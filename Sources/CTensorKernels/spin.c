// Bounded spinning for the thread pool: between two parallel kernels a worker or the caller waits a few
// microseconds, far less than a futex sleep and wake costs, so it looks at a word before it sleeps.
#include "CTensorKernels.h"
#include <sched.h>

void mlm_atomic_store(long *word, long value) { __atomic_store_n(word, value, __ATOMIC_RELEASE); }

int mlm_spin_wait(const long *word, long value, int until_equal, long rounds) {
    for (long i = 0; i < rounds; i++) {
        long now = __atomic_load_n(word, __ATOMIC_ACQUIRE);
        if (until_equal ? now == value : now != value) return 1;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
        // A thread of oneDNN's OpenMP team may be runnable on this core: let it have it.
        if ((i & 63) == 63) sched_yield();
    }
    return 0;
}
