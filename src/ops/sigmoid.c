/* sigmoid.c -- y = 1 / (1 + exp(-x)); dy/dx = y (1 - y). */
#include "ops/unary.h"
#include <math.h>
NNC_UNARY_OP(sigmoid, SIGMOID, "logistic sigmoid: y = 1 / (1 + exp(-x))", 1.0f / (1.0f + expf(-x)), y * (1.0f - y), NNC_READS_OUT, 1e-2)
