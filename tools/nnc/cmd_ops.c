/* cmd_ops.c -- `nnc ops`: the op table. */
#include "cli.h"

int cmd_ops(int argc, char **argv) {
    (void)argv;
    if (argc != 1) return cli_usage_error("ops", "takes no arguments");
    for (int i = 0; i < nnc_op_count(); i++)
        printf("%-16s %s%s%s%s\n", nnc_op_name(i), nnc_op_doc(i), *nnc_op_attrs(i) ? " [" : "", nnc_op_attrs(i), *nnc_op_attrs(i) ? "]" : "");
    return 0;
}
