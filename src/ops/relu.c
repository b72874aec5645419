/* relu.c -- y = max(x, 0); dy/dx = [y > 0] (reads only the output). */
#include "ops/unary.h"
NNC_UNARY_OP(relu, RELU, "rectified linear unit: y = max(x, 0)", x > 0 ? x : 0.0f, y > 0 ? 1.0f : 0.0f, NNC_READS_OUT, 1e-3)
