/* selu.c -- y = scale (x > 0 ? x : alpha (exp(x) - 1)) with PyTorch's (and
 * Klambauer et al.'s) constants alpha = 1.6732632..., scale = 1.0507009...;
 * dy/dx = scale (x > 0 ? 1 : alpha exp(x)) (reads the input). */
#include "ops/unary.h"
#include <math.h>
#define SELU_ALPHA 1.6732632423543772848170429916717f
#define SELU_SCALE 1.0507009873554804934193349852946f
NNC_UNARY_OP(selu, SELU, "scaled ELU: y = scale (x > 0 ? x : alpha (exp(x) - 1)), PyTorch constants",
             SELU_SCALE * (x > 0 ? x : SELU_ALPHA * expm1f(x)), x > 0 ? SELU_SCALE : SELU_SCALE * SELU_ALPHA * expf(x),
             NNC_READS_IN(0), 1e-3)
