/* threads.c -- one threading model: OpenMP, shared with oneDNN (Debian's
 * libdnnl is built with OpenMP; a second pool would oversubscribe). */
#include "nnc.h"
#include <omp.h>

void nnc_set_threads(int n) {
    if (n < 1) n = 1;
    omp_set_num_threads(n);
}

int nnc_get_threads(void) { return omp_get_max_threads(); }
