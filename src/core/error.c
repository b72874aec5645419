/* error.c -- status codes and the per-thread error message.
 * Every failing library call stores a precise message here and returns a
 * status; only the CLI decides to print it and exit. */
#include "nnc.h"
#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_msg[1024];

const char *nnc_last_error(void) { return last_msg[0] ? last_msg : "no error"; }

const char *nnc_status_name(nnc_status s) {
    switch (s) {
    case NNC_OK: return "ok";
    case NNC_ERR_ARG: return "bad argument";
    case NNC_ERR_SHAPE: return "shape error";
    case NNC_ERR_IO: return "I/O error";
    case NNC_ERR_FORMAT: return "format error";
    case NNC_ERR_OOM: return "out of memory";
    case NNC_ERR_STATE: return "invalid state";
    case NNC_ERR_NUMERIC: return "numeric error";
    case NNC_ERR_UNSUPPORTED: return "unsupported";
    }
    return "unknown status";
}

nnc_status nnc_error(nnc_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_msg, sizeof last_msg, fmt, ap);
    va_end(ap);
    return s;
}
