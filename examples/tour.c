/* tour.c -- the README's example: a zoo model trained with the library's
 * loop, then a graph of your own trained step by step. */
#include <nnc.h>
#include <stdio.h>

int main(void) {
    /* data: Fashion-MNIST from Debian's dataset-fashion-mnist */
    nnc_dataset train, test;
    if (nnc_dataset_load_mnist_dir(NULL, &train, &test)) { puts(nnc_last_error()); return 1; }

    /* a model from the zoo ... */
    nnc_model *m;
    if (nnc_model_build("lenet5", NULL, &m)) { puts(nnc_last_error()); return 1; }
    nnc_model_normalize_data(m, &train, &test);

    /* ... trained with the library's loop */
    nnc_train_opts o = nnc_train_defaults();
    o.epochs = 1;
    if (nnc_train(m, &train, &test, &o)) { puts(nnc_last_error()); return 1; }
    double loss, acc;
    nnc_evaluate(m, &test, 1000, &loss, &acc, NULL);
    printf("test accuracy %.4f\n", acc);
    nnc_model_save(m, "tour.safetensors");

    /* or a graph of your own, trained step by step */
    nnc_graph *g = nnc_graph_new();
    nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){1, 28, 28});
    nnc_node *y = nnc_input(g, "y", NNC_I64, 0, NULL);
    nnc_node *h = nnc_relu(g, nnc_linear_layer(g, nnc_flatten(g, x), "fc1", 128, 1));
    nnc_node *logits = nnc_linear_layer(g, h, "fc2", 10, 1);
    nnc_graph_output(g, logits);
    nnc_graph_loss(g, nnc_cross_entropy(g, logits, y, NNC_MEAN), 1.0f);
    if (nnc_graph_status(g)) { puts(nnc_graph_error(g)); return 1; }
    nnc_optim opt = nnc_optim_adam(1e-3f, 0);
    nnc_graph_set_optimizer(g, &opt);
    nnc_graph_compile(g, 100, 1);                       /* batch 100, training */
    for (int step = 0; step < 600; step++) {
        float *xb = nnc_node_value(x)->data;
        int64_t *yb = nnc_node_value(y)->data;
        for (int i = 0; i < 100; i++) {
            int64_t k = (step * 100 + i) % train.n;
            for (int j = 0; j < 784; j++) xb[i * 784 + j] = ((float *)train.x.data)[k * 784 + j];
            yb[i] = ((int64_t *)train.y.data)[k];
        }
        float l;
        nnc_graph_train_step(g, &l);
        if (step % 200 == 0) printf("step %d loss %.4f\n", step, l);
    }
    nnc_graph_free(g);
    nnc_model_free(m);
    nnc_dataset_free(&train);
    nnc_dataset_free(&test);
    return 0;
}
