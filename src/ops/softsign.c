/* softsign.c -- y = x / (1 + |x|); dy/dx = 1 / (1 + |x|)^2 (reads the input). */
#include "ops/unary.h"
#include <math.h>
NNC_UNARY_OP(softsign, SOFTSIGN, "softsign: y = x / (1 + |x|)", x / (1.0f + fabsf(x)),
             1.0f / ((1.0f + fabsf(x)) * (1.0f + fabsf(x))), NNC_READS_IN(0), 1e-3)
