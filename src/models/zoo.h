/* zoo.h -- helpers shared by the zoo's model builders (internal). */
#ifndef NNC_MODELS_ZOO_H
#define NNC_MODELS_ZOO_H
#include "nnc.h"

/* Fails (returns 0 with nnc_error naming the key and the allowed ones) when
 * opts->options holds a key not in the NULL-terminated list `allowed`. */
int nnc_model_options_only(const nnc_model_opts *o, const char *const *allowed);
/* Scaled channel count for width multipliers: max(1, round(c * mult)). */
int64_t nnc_model_width(const nnc_model_opts *o, int64_t c);
#endif
