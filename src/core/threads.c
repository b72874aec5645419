/* threads.c -- one threading model: OpenMP, shared with oneDNN (Debian's
 * libdnnl is built with OpenMP; a second pool would oversubscribe). */
#include "nnc.h"
#include <omp.h>

void nnc_set_threads(int n) {
    if (n < 1) n = 1;
    omp_set_num_threads(n);
}

int nnc_get_threads(void) { return omp_get_max_threads(); }

/* Plans whose forward pass counts fewer multiply-accumulates than this run on
 * one thread (plan.c): for batch-1 LeNet-5 the fork/join of every parallel
 * region costs more than its work (63 us on 2 threads, 27 us on 1). */
static int64_t small_plan_macs = 2000000;
void nnc_set_small_plan_macs(int64_t macs) { small_plan_macs = macs < 0 ? 0 : macs; }
int64_t nnc_get_small_plan_macs(void) { return small_plan_macs; }
