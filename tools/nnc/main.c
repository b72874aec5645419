/* main.c -- `nnc`: the command line over libnnc. A table of subcommands;
 * each parses its flags, calls the library, and maps statuses to exit codes
 * (0 ok, 1 failure, 2 bad usage). */
#include "cli.h"
#include <string.h>

static const cli_cmd cmds[] = {
    {"train", "train a model (default: lenet5 on Fashion-MNIST)", cmd_train, help_train},
    {"eval", "evaluate saved weights on the test set", cmd_eval, help_eval},
    {"predict", "classify an image (PGM, PPM or PNG) with saved weights", cmd_predict, help_predict},
    {"sample", "generate text from a character model (nnc train charrnn --save)", cmd_sample, help_sample},
    {"summary", "per-layer shapes and parameter counts of a model", cmd_summary, help_summary},
    {"models", "list the models of the zoo", cmd_models, help_models},
    {"ops", "list the ops with their descriptions", cmd_ops, help_ops},
    {"bench", "benchmark the peer workloads W1..W7 (or any zoo model), optionally against PyTorch", cmd_bench, help_bench},
    {"export-cfg", "write a model as a .cfg text model file", cmd_export_cfg, help_export_cfg},
};
#define N_CMDS ((int)(sizeof cmds / sizeof cmds[0]))
static const cli_cmd tasks[] = {
    {"charrnn", "character-level language model (truncated BPTT, bits per character)", task_charrnn_train, help_train_charrnn},
    {"seq2seq-add", "encoder-decoder that learns to add integers given as digit sequences", task_seq2seq_train, help_train_seq2seq},
};
#define N_TASKS ((int)(sizeof tasks / sizeof tasks[0]))

static void usage(FILE *f) {
    fprintf(f, "nnc %s -- a deep-learning framework in C\n\nusage: nnc COMMAND [ARGS] (nnc COMMAND --help for details)\n\ncommands:\n", NNC_VERSION);
    for (int i = 0; i < N_CMDS; i++) fprintf(f, "  %-11s %s\n", cmds[i].name, cmds[i].summary);
}

int main(int argc, char **argv) {
    if (argc < 2) { usage(stderr); return 2; }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) { usage(stdout); return 0; }
    if (!strcmp(argv[1], "--version")) { printf("nnc %s\n", NNC_VERSION); return 0; }
    /* `nnc train TASK`: the sequence tasks have their own data and loops */
    if (!strcmp(argv[1], "train"))
        for (int i = 2; i < argc; i++)
            for (int k = 0; k < N_TASKS; k++) {
                if (strcmp(argv[i], tasks[k].name)) continue;
                if (cli_help_requested(argc - 1, argv + 1)) { tasks[k].help(stdout); return 0; }
                return tasks[k].run(argc - 1, argv + 1);
            }
    for (int i = 0; i < N_CMDS; i++) {
        if (strcmp(argv[1], cmds[i].name)) continue;
        if (cli_help_requested(argc - 1, argv + 1)) { cmds[i].help(stdout); return 0; }
        return cmds[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "nnc: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
