/* cmd_cfg.c -- `nnc export-cfg MODEL [-o FILE]`: writes a model as a text
 * model file (Darknet's .cfg dialect, src/models/modelfile.c). */
#include "cli.h"
#include <stdlib.h>
#include <string.h>

void help_export_cfg(FILE *f) {
    fprintf(f, "usage: nnc export-cfg MODEL [-o FILE] [--input CxHxW] [--classes N] [--dropout P]\n\n"
               "Writes MODEL as a .cfg text model file (Darknet's dialect with nnc's extensions) to standard\n"
               "output, or to FILE with -o. MODEL is a zoo name or a .cfg file, which is written back in\n"
               "canonical form (every key explicit). `nnc train FILE.cfg` builds the same graph again, with the\n"
               "zoo's parameter names. Every zoo model is written (the reshapes a recurrent section or an\n"
               "autoencoder's target=input imply are left out); a built graph with an op that has no section\n"
               "is refused with the op named. [net] holds the model's training recipe (lenet5-1998 lr 0.003,\n"
               "seqmnist* adam=1 lr 0.001, else W1's batch 64 lr 0.05 momentum 0.9 decay 0.0005), which\n"
               "`nnc train FILE.cfg` applies where no flag overrides it.\n");
}

int cmd_export_cfg(int argc, char **argv) {
    const char *model = NULL, *outp = NULL, *input = NULL;
    nnc_model_opts mo = nnc_model_defaults();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!v) return cli_usage_error("export-cfg", "%s needs a file name", a);
            outp = v;
            i++;
        } else if (!strcmp(a, "--input")) {
            if (!v) return cli_usage_error("export-cfg", "--input needs CxHxW");
            input = v;
            i++;
        } else if (!strcmp(a, "--classes") || !strcmp(a, "--dropout")) {
            char *e;
            double x = v ? strtod(v, &e) : 0;
            if (!v || *e) return cli_usage_error("export-cfg", "%s needs a number", a);
            if (a[2] == 'c') {
                if (x < 1 || x > 1000000 || x != (int)x) return cli_usage_error("export-cfg", "--classes must be 1..1000000");
                mo.num_classes = (int)x;
            } else {
                if (!(x >= 0 && x < 1)) return cli_usage_error("export-cfg", "--dropout must be in [0, 1)");
                mo.dropout = (float)x;
            }
            i++;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("export-cfg", "unknown flag '%s'", a);
        } else if (!model) {
            model = a;
        } else {
            return cli_usage_error("export-cfg", "give one MODEL");
        }
    }
    if (!model) return cli_usage_error("export-cfg", "give one MODEL name or .cfg file");
    if (input) {
        int c, h, w;
        char tail;
        if (sscanf(input, "%dx%dx%d%c", &c, &h, &w, &tail) != 3 || c < 1 || h < 1 || w < 1 || c > 65536 || h > 65536 || w > 65536)
            return cli_usage_error("export-cfg", "--input '%s' must be CxHxW with positive sizes", input);
        mo.in_channels = c;
        mo.height = h;
        mo.width = w;
    }
    FILE *f = stdout;
    char tmp[4096];
    if (outp) {
        snprintf(tmp, sizeof tmp, "%s.tmp", outp);
        f = fopen(tmp, "w");
        if (!f) return cli_fail("export-cfg", nnc_error(NNC_ERR_IO, "%s: cannot create", tmp));
    }
    nnc_status s = nnc_model_write_cfg(model, &mo, f);
    if (outp) {
        if (fclose(f) && !s) s = nnc_error(NNC_ERR_IO, "%s: write error", tmp);
        if (!s && rename(tmp, outp)) s = nnc_error(NNC_ERR_IO, "%s: cannot rename to %s", tmp, outp);
        if (s) remove(tmp);
    }
    return s ? cli_fail("export-cfg", s) : 0;
}
