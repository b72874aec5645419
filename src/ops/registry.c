/* registry.c -- the op table, generated from ops.def. */
#include "ops/op.h"
#include <stdio.h>

nnc_op_desc nnc_ops[NNC_OP_COUNT] = {
#define OP(E, s) [NNC_OP_##E] = {0},
#include "ops/ops.def"
#undef OP
};

/* Filled at load time: designated initializers cannot copy from extern consts. */
__attribute__((constructor)) static void nnc_ops_init(void) {
#define OP(E, s) nnc_ops[NNC_OP_##E] = nnc_op_##s;
#include "ops/ops.def"
#undef OP
}

const nnc_op_desc *nnc_op_find(const char *name) {
    for (int i = 0; i < NNC_OP_COUNT; i++)
        if (nnc_ops[i].name && strcmp(nnc_ops[i].name, name) == 0) return &nnc_ops[i];
    return NULL;
}

const char *nnc_node_desc(const nnc_node *n, char *buf, size_t size) {
    const char *op = n->op >= 0 ? nnc_ops[n->op].name : (n->flags & NNC_NODE_PARAM) ? "param"
                                                     : (n->flags & NNC_NODE_STATE)   ? "state"
                                                                                     : "input";
    if (n->name) snprintf(buf, size, "node '%s' (%s)", n->name, op);
    else snprintf(buf, size, "node #%d (%s)", n->id, op);
    return buf;
}

void nnc_fault_replan(nnc_node *n, const nnc_exec *ex, const char *need) {
    char d[160];
    nnc_status s = nnc_error(NNC_ERR_STATE, "%s: %s, which do not fit the planned workspace at this thread count; "
                                            "compile the graph again after changing threads",
                             nnc_node_desc(n, d, sizeof d), need);
    if (ex->fault) *ex->fault = s;
}

int nnc_op_count(void) { return NNC_OP_COUNT; }
const char *nnc_op_name(int i) { return i >= 0 && i < NNC_OP_COUNT ? nnc_ops[i].name : NULL; }
const char *nnc_op_doc(int i) { return i >= 0 && i < NNC_OP_COUNT ? nnc_ops[i].doc : NULL; }
const char *nnc_op_attrs(int i) { return i >= 0 && i < NNC_OP_COUNT ? nnc_ops[i].attrs_doc : NULL; }
