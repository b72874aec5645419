/* cli.h -- shared pieces of the nnc command line: the subcommand table,
 * flag parsing with validation, and error reporting. */
#ifndef NNC_CLI_H
#define NNC_CLI_H
#include "nnc.h"
#include <stdio.h>

typedef struct cli_cmd {
    const char *name, *summary;
    int (*run)(int argc, char **argv);
    void (*help)(FILE *f);
} cli_cmd;

/* Flag parsing: argv is scanned left to right; flags take "--f v" or "--f=v".
 * Each getter consumes its flag if present, validates, and returns 0 on a bad value
 * (having printed the problem). cli_rest() then reports unknown flags. */
typedef struct cli_args {
    int argc;
    char **argv;
    unsigned char *used;
    int bad;
} cli_args;
int cli_args_init(cli_args *a, int argc, char **argv);
void cli_args_free(cli_args *a);
int cli_flag(cli_args *a, const char *name);                 /* boolean */
const char *cli_str(cli_args *a, const char *name, const char *def);
long long cli_int(cli_args *a, const char *name, long long def, long long min, long long max);
double cli_num(cli_args *a, const char *name, double def, double min, double max);
/* Positional arguments not consumed by flags, in order; unknown flags are errors. */
int cli_positionals(cli_args *a, const char **out, int max);
int cli_help_requested(int argc, char **argv);

/* Prints "nnc <cmd>: <message>" and returns the exit status for s. */
int cli_fail(const char *cmd, nnc_status s);
int cli_usage_error(const char *cmd, const char *fmt, ...);
const char *cli_class_name(int num_classes, int c);
/* "3x32x32" -> 3, 32, 32; 0 when malformed. */
int cli_parse_input(const char *s, int64_t *c, int64_t *h, int64_t *w);
/* A model argument that names a file rather than a zoo model. */
int cli_is_cfg(const char *name);
/* Replaces ds by a copy fitted to the model's input shape, when they differ. */
nnc_status cli_fit_data(const nnc_model *m, nnc_dataset *ds);
/* Builds MODEL (zoo name or .cfg) for the input shape and classes recorded in a
 * weights file, then loads the weights. */
nnc_status cli_load_model(const char *name, const char *weights, nnc_model **m);
/* Applies a .cfg's [net] training options to o (cfg_recipe.c): keys the file
 * has, unless a flag in argv sets the same; n_train samples; prints a line. */
nnc_status cli_cfg_recipe(int argc, char **argv, const nnc_cfg_net *net, int64_t n_train, nnc_train_opts *o);

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_summary(int argc, char **argv);
int cmd_models(int argc, char **argv);
int cmd_ops(int argc, char **argv);
int cmd_bench(int argc, char **argv);
void help_train(FILE *f);
/* Sequence tasks (task_*.c): `nnc train charrnn`, `nnc train seq2seq-add`, `nnc sample`. */
int task_charrnn_train(int argc, char **argv);
void help_train_charrnn(FILE *f);
int task_seq2seq_train(int argc, char **argv);
void help_train_seq2seq(FILE *f);
int cmd_sample(int argc, char **argv);
void help_sample(FILE *f);
void help_eval(FILE *f);
void help_predict(FILE *f);
void help_summary(FILE *f);
void help_models(FILE *f);
void help_ops(FILE *f);
void help_bench(FILE *f);
int cmd_export_cfg(int argc, char **argv);
void help_export_cfg(FILE *f);
#endif
