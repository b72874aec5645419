/* tanh.c -- y = tanh(x); dy/dx = 1 - y^2. */
#include "ops/unary.h"
#include <math.h>
NNC_UNARY_OP(tanh, TANH, "hyperbolic tangent: y = tanh(x)", tanhf(x), 1.0f - y * y, NNC_READS_OUT, 1e-2)
