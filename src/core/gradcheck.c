/* gradcheck.c -- the numerical gradient checker, for any graph.
 *
 * S = sum_k r_k . out_k projects every output (and loss) on a fixed random
 * vector, so no symmetry can hide an error. Backward seeded with r gives
 * the analytic gradient of S. For each checked tensor (trainable
 * parameters, inputs that asked for a gradient) and each random direction
 * v, the exact perturbations the f32 storage can hold, d+ = fl(x + eps v) - x
 * and d- = fl(x - eps v) - x, are applied and
 *     numeric  = S(x + d+) - S(x + d-)      (outputs summed in double)
 *     analytic = grad . (d+ - d-)
 * are compared. With full_jacobian, every (output element, input element)
 * pair is compared as well (tiny graphs). */
#include "core/graph.h"
#include "ops/op.h"
#include <math.h>
#include <string.h>

nnc_gradcheck_opts nnc_gradcheck_defaults(void) {
    nnc_gradcheck_opts o = {8, 1e-3, 1e-2, 1e-4, 0, 1};
    return o;
}

typedef struct checked { nnc_node *n; int64_t cnt; double *grad; float *orig; } checked;

static double project(nnc_graph *g, float **seeds) {
    double s = 0;
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        nnc_node *n = g->nodes[i];
        if (!(n->flags & (NNC_NODE_OUTPUT | NNC_NODE_LOSS)) || n->order < 0 || n->out.dtype != NNC_F32) continue;
        const float *y = n->out.data;
        for (int64_t j = 0; j < nnc_tensor_numel(&n->out); j++) s += (double)seeds[k][j] * y[j];
        k++;
    }
    return s;
}

static int agree(double num, double ana, const nnc_gradcheck_opts *o) {
    double m = fmax(fabs(num), fabs(ana));
    return fabs(num - ana) <= o->atol + o->rtol * m;
}

nnc_status nnc_gradcheck(nnc_graph *g, const nnc_gradcheck_opts *opts, nnc_gradcheck_result *res) {
    if (!g || !g->cur) return nnc_error(NNC_ERR_STATE, "nnc_gradcheck: compile the graph (training mode) and fill its inputs first");
    nnc_gradcheck_opts o = opts ? *opts : nnc_gradcheck_defaults();
    if (o.directions <= 0) o.directions = 8;
    if (!(o.eps > 0)) o.eps = 1e-3;
    nnc_gradcheck_result r = {0};
    int64_t batch = g->cur->batch;
    nnc_status st = NNC_OK;

    /* keep the input values across the recompile with seeded outputs */
    size_t *in_bytes = calloc((size_t)g->n_inputs + 1, sizeof *in_bytes);
    void **in_copy = calloc((size_t)g->n_inputs + 1, sizeof *in_copy);
    if (!in_bytes || !in_copy) { free(in_bytes); free(in_copy); return nnc_error(NNC_ERR_OOM, "gradcheck: out of memory"); }
    for (int i = 0; i < g->n_inputs; i++) {
        nnc_node *n = g->inputs[i];
        if (n->order < 0 || !n->out.data) continue;
        in_bytes[i] = nnc_tensor_bytes(&n->out);
        in_copy[i] = malloc(in_bytes[i] ? in_bytes[i] : 1);
        if (in_copy[i]) memcpy(in_copy[i], n->out.data, in_bytes[i]);
    }
    int was_training = g->cur->training;
    g->seed_outputs = 1;
    st = nnc_graph_compile(g, batch, 1);
    if (st) { g->seed_outputs = 0; goto out_inputs; }
    for (int i = 0; i < g->n_inputs; i++)
        if (in_copy[i] && g->inputs[i]->out.data) memcpy(g->inputs[i]->out.data, in_copy[i], in_bytes[i]);

    /* seeds */
    int n_seeds = 0;
    float *seeds[256];
    for (int i = 0; i < g->n_nodes && n_seeds < 256; i++) {
        nnc_node *n = g->nodes[i];
        if (!(n->flags & (NNC_NODE_OUTPUT | NNC_NODE_LOSS)) || n->order < 0 || n->out.dtype != NNC_F32) continue;
        int64_t c = nnc_tensor_numel(&n->out);
        float *s = malloc((size_t)c * sizeof(float));
        if (!s) { st = nnc_error(NNC_ERR_OOM, "gradcheck: out of memory"); goto out_seeds; }
        for (int64_t j = 0; j < c; j++) s[j] = nnc_rand_normal(o.seed, 0x5eed0000u + (uint64_t)i, (uint64_t)j);
        n->seed = s;
        seeds[n_seeds++] = s;
    }

    /* analytic gradients */
    int n_chk = 0;
    checked *chk = calloc((size_t)g->n_nodes, sizeof *chk);
    if (!chk) { st = nnc_error(NNC_ERR_OOM, "gradcheck: out of memory"); goto out_seeds; }
    if ((st = nnc_graph_forward(g)) || (st = nnc_graph_backward(g))) goto out_chk;
    for (int i = 0; i < g->n_nodes; i++) {
        nnc_node *n = g->nodes[i];
        if (!(n->flags & (NNC_NODE_PARAM | NNC_NODE_INPUT)) || !nnc_needs_grad(n)) continue;
        checked *c = &chk[n_chk++];
        c->n = n;
        c->cnt = nnc_tensor_numel(&n->out);
        c->grad = malloc((size_t)c->cnt * sizeof(double));
        c->orig = malloc((size_t)c->cnt * sizeof(float));
        if (!c->grad || !c->orig) { st = nnc_error(NNC_ERR_OOM, "gradcheck: out of memory"); goto out_chk; }
        for (int64_t j = 0; j < c->cnt; j++) c->grad[j] = ((float *)n->grad.data)[j];
        memcpy(c->orig, n->out.data, (size_t)c->cnt * sizeof(float));
    }
    if (n_chk == 0) { st = nnc_error(NNC_ERR_STATE, "gradcheck: nothing to check (no trainable parameter or input requiring a gradient reaches an output)"); goto out_chk; }

    for (int t = 0; t < n_chk; t++) {
        checked *c = &chk[t];
        float *x = c->n->out.data;
        for (int d = 0; d < o.directions; d++) {
            double ana = 0, sp, sm;
            for (int64_t j = 0; j < c->cnt; j++) {
                float v = nnc_rand_normal(o.seed + 1, ((uint64_t)t << 20) + (uint64_t)d, (uint64_t)j);
                float xp = (float)(c->orig[j] + o.eps * v), xm = (float)(c->orig[j] - o.eps * v);
                ana += c->grad[j] * ((double)xp - (double)xm);
            }
            for (int64_t j = 0; j < c->cnt; j++) {
                float v = nnc_rand_normal(o.seed + 1, ((uint64_t)t << 20) + (uint64_t)d, (uint64_t)j);
                x[j] = (float)(c->orig[j] + o.eps * v);
            }
            if ((st = nnc_graph_forward(g))) goto out_chk;
            sp = project(g, seeds);
            for (int64_t j = 0; j < c->cnt; j++) {
                float v = nnc_rand_normal(o.seed + 1, ((uint64_t)t << 20) + (uint64_t)d, (uint64_t)j);
                x[j] = (float)(c->orig[j] - o.eps * v);
            }
            if ((st = nnc_graph_forward(g))) goto out_chk;
            sm = project(g, seeds);
            memcpy(x, c->orig, (size_t)c->cnt * sizeof(float));
            double num = (sp - sm) / (2 * o.eps), an = ana / (2 * o.eps);
            double aerr = fabs(num - an), rerr = aerr / fmax(fmax(fabs(num), fabs(an)), 1e-30);
            r.n_checked++;
            if (!agree(num, an, &o)) r.n_failed++;
            if (rerr > r.max_rel_err && aerr > o.atol) {
                r.max_rel_err = rerr;
                snprintf(r.worst, sizeof r.worst, "%s, direction %d: numeric %.8g analytic %.8g", nnc_node_name(c->n), d, num, an);
            }
            if (aerr > r.max_abs_err) r.max_abs_err = aerr;
        }
    }

    if (o.full_jacobian) {
        /* rows by backward with one-hot seeds, columns by central differences */
        int64_t n_out = 0;
        for (int i = 0; i < g->n_nodes; i++) {
            nnc_node *n = g->nodes[i];
            if (n->seed) n_out += nnc_tensor_numel(&n->out);
        }
        for (int t = 0; t < n_chk && !st; t++) {
            checked *c = &chk[t];
            if (n_out * c->cnt > 200000) continue; /* not tiny */
            double *num = calloc((size_t)(n_out * c->cnt), sizeof(double));
            double *yp = malloc((size_t)n_out * sizeof(double));
            if (!num || !yp) { free(num); free(yp); st = nnc_error(NNC_ERR_OOM, "gradcheck: out of memory"); break; }
            float *x = c->n->out.data;
            for (int64_t j = 0; j < c->cnt && !st; j++) {
                float xp = (float)(c->orig[j] + o.eps), xm = (float)(c->orig[j] - o.eps);
                x[j] = xp;
                if ((st = nnc_graph_forward(g))) break;
                int64_t q = 0;
                for (int i = 0; i < g->n_nodes; i++) {
                    nnc_node *n = g->nodes[i];
                    if (!n->seed) continue;
                    for (int64_t e = 0; e < nnc_tensor_numel(&n->out); e++) yp[q++] = ((float *)n->out.data)[e];
                }
                x[j] = xm;
                if ((st = nnc_graph_forward(g))) break;
                q = 0;
                for (int i = 0; i < g->n_nodes; i++) {
                    nnc_node *n = g->nodes[i];
                    if (!n->seed) continue;
                    for (int64_t e = 0; e < nnc_tensor_numel(&n->out); e++, q++)
                        num[q * c->cnt + j] = (yp[q] - ((float *)n->out.data)[e]) / ((double)xp - (double)xm);
                }
                x[j] = c->orig[j];
            }
            /* analytic rows */
            int64_t q = 0;
            for (int i = 0; i < g->n_nodes && !st; i++) {
                nnc_node *n = g->nodes[i];
                if (!n->seed) continue;
                float *s = (float *)n->seed;
                for (int64_t e = 0; e < nnc_tensor_numel(&n->out) && !st; e++, q++) {
                    /* seed e_q: zero all seeds, one at (n, e) */
                    for (int kk = 0; kk < g->n_nodes; kk++)
                        if (g->nodes[kk]->seed) memset((float *)g->nodes[kk]->seed, 0, (size_t)nnc_tensor_numel(&g->nodes[kk]->out) * sizeof(float));
                    s[e] = 1;
                    if ((st = nnc_graph_forward(g)) || (st = nnc_graph_backward(g))) break;
                    s[e] = 0;
                    const float *gr = c->n->grad.data;
                    for (int64_t j = 0; j < c->cnt; j++) {
                        double nv = num[q * c->cnt + j], av = gr[j];
                        r.n_checked++;
                        if (!agree(nv, av, &o)) {
                            r.n_failed++;
                            double rerr = fabs(nv - av) / fmax(fmax(fabs(nv), fabs(av)), 1e-30);
                            if (rerr > r.max_rel_err) {
                                r.max_rel_err = rerr;
                                snprintf(r.worst, sizeof r.worst, "Jacobian d%s[%lld]/d%s[%lld]: numeric %.8g analytic %.8g",
                                         nnc_node_name(n), (long long)e, nnc_node_name(c->n), (long long)j, nv, av);
                            }
                        }
                    }
                }
            }
            free(num);
            free(yp);
        }
    }
    if (!st && r.n_failed)
        st = nnc_error(NNC_ERR_NUMERIC, "gradient check failed: %d of %d comparisons off (worst relative error %.3g: %s)",
                       r.n_failed, r.n_checked, r.max_rel_err, r.worst);

out_chk:
    for (int t = 0; t < n_chk; t++) {
        if (chk[t].orig && chk[t].n->out.data) memcpy(chk[t].n->out.data, chk[t].orig, (size_t)chk[t].cnt * sizeof(float));
        free(chk[t].grad);
        free(chk[t].orig);
    }
    free(chk);
out_seeds:
    for (int i = 0; i < g->n_nodes; i++) g->nodes[i]->seed = NULL;
    for (int k = 0; k < n_seeds; k++) free(seeds[k]);
    g->seed_outputs = 0;
    {
        nnc_status s2 = nnc_graph_compile(g, batch, was_training);
        if (!st) st = s2;
        for (int i = 0; i < g->n_inputs; i++)
            if (in_copy[i] && g->inputs[i]->out.data) memcpy(g->inputs[i]->out.data, in_copy[i], in_bytes[i]);
    }
out_inputs:
    for (int i = 0; i < g->n_inputs; i++) free(in_copy[i]);
    free(in_copy);
    free(in_bytes);
    if (res) *res = r;
    return st;
}
