/* check_train.c — tg train, eval and predict end to end on the real
 * FashionMNIST (Debian's dataset-fashion-mnist, which make check installs),
 * on subsets small enough to run in seconds: accuracy, logs and metrics,
 * checkpoints that resume bit for bit, divergence that keeps the last good
 * checkpoint, clear refusals. */
#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700 /* posix_openpt, grantpt, unlockpt, ptsname: a terminal for the progress bar */
#include <fcntl.h>
#include <stb_image_write.h>

#include "tg_cli.h"
#include "tg_tinydata.h"

#define SUBSET "--train-samples 3000 --test-samples 1000 --seed 1"

/* One model for the tests that only read it, in the test case's root
 * directory: 3000 images, 2 epochs of Adam (training is the slow part, ten
 * times slower under AddressSanitizer). */
static void train_shared_model(void)
{
    char args[512];
    snprintf(args, sizeof args, "train --optimizer adam --lr 0.001 --epochs 2 " SUBSET " --metrics %s/m.json --log "
             "%s/log.csv --save %s/m.ckpt", root, root, root);
    if (run_tg(args) != 0) fprintf(stderr, "training the shared model failed:\n%s\n", tg_output);
}

static const char *model(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", root, name);
    return path;
}

/* tg export of the test's ckpt to out (both in its directory), which must work. */
static void export_to(const char *ckpt, const char *out)
{
    char args[1024];
    snprintf(args, sizeof args, "export %s %s", in_dir(ckpt), in_dir(out));
    ck_assert_msg(run_tg(args) == 0, "%s", tg_output);
}

START_TEST(test_train_learns_a_subset)
{
    /* 3000 images, 2 epochs of Adam: about 77% on 1000 test images (a full
     * run is make accuracy); chance is 10%. */
    char *json = read_file(model("m.json"), NULL);
    ck_assert_double_ge(json_number(json, "test_accuracy"), 0.75);
    ck_assert_double_lt(json_number(json, "test_loss"), 0.8);
    ck_assert_double_gt(json_number(json, "train_samples_per_s"), 0);
    ck_assert_int_eq((int)json_number(json, "epochs"), 2);
    ck_assert_int_eq((int)json_number(json, "samples_seen"), 6000);
    ck_assert_int_eq((int)json_number(json, "steps"), 2 * 47); /* ceil(3000 / 64) a epoch, the last batch kept */
    double train_loss = json_number(json, "train_loss");
    /* the log: a header, a row about every 1000 samples, an evaluation row
     * per epoch that agrees with the metrics */
    char *csv = read_file(model("log.csv"), NULL);
    ck_assert_ptr_eq(strstr(csv, "epoch,step,samples_seen,lr,train_loss,eval_loss,eval_accuracy,batch_loss_std\n"), csv);
    int rows = 0, eval_rows = 0;
    long last_samples = 0;
    for (char *line = strtok(strchr(csv, '\n') + 1, "\n"); line; line = strtok(NULL, "\n")) {
        int epoch;
        long step, samples;
        double lr, loss, eval_loss, eval_acc;
        int fields = sscanf(line, "%d,%ld,%ld,%lf,%lf,%lf,%lf", &epoch, &step, &samples, &lr, &loss, &eval_loss, &eval_acc);
        ck_assert_int_ge(fields, 5);
        ck_assert_int_ge(samples, last_samples);
        last_samples = samples;
        rows++;
        if (fields == 7) {
            eval_rows++;
            if (epoch == 2) {
                ck_assert_close(eval_acc, json_number(json, "test_accuracy"), 1e-6, 0);
                ck_assert_close(loss, train_loss, 1e-6, 0);
            }
        }
    }
    ck_assert_int_eq(eval_rows, 2);
    ck_assert_int_ge(rows, 6000 / 1000);
    free(json), free(csv);
}
END_TEST

START_TEST(test_train_resume_is_bit_identical)
{
    /* Two epochs straight, and one epoch then a resume to two, end in the
     * same checkpoint, byte for byte: dropout, a schedule and a validation
     * split included. The same run twice gives the same bytes too. */
    const char *flags = "train --optimizer adam --lr 0.001 --dropout 0.2 --schedule cosine --t-max 60 "
                        "--val-split 0.1 --train-samples 1000 --test-samples 200 --seed 3";
    char args[512];
    snprintf(args, sizeof args, "%s --epochs 2 --save %s", flags, in_dir("straight.ckpt"));
    ck_assert_int_eq(run_tg(args), 0);
    snprintf(args, sizeof args, "%s --epochs 2 --save %s", flags, in_dir("again.ckpt"));
    ck_assert_int_eq(run_tg(args), 0);
    ck_assert(same_file(in_dir("straight.ckpt"), in_dir("again.ckpt")));
    snprintf(args, sizeof args, "%s --epochs 1 --save %s", flags, in_dir("resumed.ckpt"));
    ck_assert_int_eq(run_tg(args), 0);
    ck_assert(!same_file(in_dir("straight.ckpt"), in_dir("resumed.ckpt")));
    snprintf(args, sizeof args, "train --resume %s --epochs 2 --save %s", in_dir("resumed.ckpt"), in_dir("resumed.ckpt"));
    ck_assert_int_eq(run_tg(args), 0);
    ck_assert_ptr_nonnull(strstr(tg_output, "resumed after epoch 1 of 2"));
    ck_assert_ptr_nonnull(strstr(tg_output, "val acc"));
    ck_assert(same_file(in_dir("straight.ckpt"), in_dir("resumed.ckpt")));
    ck_assert(!exists(in_dir("resumed.ckpt.tmp"))); /* no temporary left behind */
}
END_TEST

START_TEST(test_train_resume_keeps_its_configuration)
{
    char args[512];
    snprintf(args, sizeof args, "train --epochs 1 --train-samples 500 --test-samples 100 --save %s", in_dir("a.ckpt"));
    ck_assert_int_eq(run_tg(args), 0);
    snprintf(args, sizeof args, "train --resume %s --lr 0.1", in_dir("a.ckpt"));
    ck_assert_int_eq(run_tg(args), 2);
    ck_assert_ptr_nonnull(strstr(tg_output, "--lr cannot change a resumed run"));
    snprintf(args, sizeof args, "train --resume %s", in_dir("missing.ckpt"));
    ck_assert_int_eq(run_tg(args), 1);
    ck_assert_ptr_nonnull(strstr(tg_output, "missing.ckpt: cannot open"));
}
END_TEST

START_TEST(test_train_divergence_keeps_the_last_checkpoint)
{
    /* A good epoch saved, then SGD at lr 10 blows up: one clear message with
     * the lectures' advice, exit 1, and the checkpoint is the good one. */
    char args[512];
    snprintf(args, sizeof args, "train --epochs 1 --train-samples 1000 --test-samples 200 --save %s", in_dir("good.ckpt"));
    ck_assert_int_eq(run_tg(args), 0);
    size_t n;
    char *before = read_file(in_dir("good.ckpt"), &n);
    snprintf(args, sizeof args, "train --optimizer sgd --lr 10 --epochs 2 --train-samples 3000 --test-samples 200 "
             "--seed 1 --save %s", in_dir("good.ckpt"));
    ck_assert_int_eq(run_tg(args), 1);
    ck_assert_ptr_nonnull(strstr(tg_output, "training diverged. Lower the learning rate (--lr), clip gradients"));
    ck_assert_ptr_nonnull(strstr(tg_output, "(lr 10)"));
    ck_assert_ptr_nonnull(strstr(tg_output, "The last checkpoint is untouched."));
    size_t m;
    char *after = read_file(in_dir("good.ckpt"), &m);
    ck_assert(n == m && !memcmp(before, after, n));
    snprintf(args, sizeof args, "eval %s", in_dir("good.ckpt"));
    ck_assert_int_eq(run_tg(args), 0);
    free(before), free(after);
}
END_TEST

START_TEST(test_train_eval_and_predict)
{
    char args[512];
    /* eval: the whole test set, per class, the confusion matrix */
    snprintf(args, sizeof args, "eval %s --metrics %s --show 2", model("m.ckpt"), in_dir("eval.json"));
    ck_assert_int_eq(run_tg(args), 0);
    ck_assert_ptr_nonnull(strstr(tg_output, "fashion-mnist test set: 10000 images, loss "));
    ck_assert_ptr_nonnull(strstr(tg_output, "\nankle boot "));
    ck_assert_ptr_nonnull(strstr(tg_output, "true: "));
    char *json = read_file(in_dir("eval.json"), NULL);
    double acc = json_number(json, "test_accuracy");
    ck_assert_double_ge(acc, 0.7);
    const char *conf = strstr(json, "\"confusion\": [");
    ck_assert_ptr_nonnull(conf);
    long total = 0, diagonal = 0, v;
    int k = 0;
    for (const char *p = conf + 14; *p && *p != '\n'; p++) /* 100 counts, row by row */
        if (*p >= '0' && *p <= '9') {
            v = strtol(p, (char **)&p, 10);
            total += v;
            diagonal += k % 11 == 0 ? v : 0;
            k++;
            p--;
        }
    ck_assert_int_eq(k, 100);
    ck_assert_int_eq(total, 10000);
    ck_assert_close((double)diagonal / total, acc, 1e-9, 0);
    free(json);
    /* predict: test image 2 is a trouser; written as a 28x28 PNG, and dark
     * on light, 4x larger, in colour: the same answer, top-1 first */
    tg_dataset test;
    ck_assert_int_eq(tg_dataset_load("/usr/share/datasets/fashion-mnist", false, &test), TG_OK);
    const unsigned char *img = test.images + 2 * 28 * 28;
    ck_assert_int_eq(test.labels[2], 1);
    ck_assert(stbi_write_png(in_dir("trouser.png"), 28, 28, 1, img, 28));
    unsigned char big[112 * 112 * 3];
    for (int i = 0; i < 112; i++)
        for (int j = 0; j < 112; j++)
            for (int c = 0; c < 3; c++) big[(i * 112 + j) * 3 + c] = (unsigned char)(255 - img[(i / 4) * 28 + j / 4]);
    ck_assert(stbi_write_png(in_dir("trouser_big.png"), 112, 112, 3, big, 112 * 3));
    snprintf(args, sizeof args, "predict %s %s %s", model("m.ckpt"), in_dir("trouser.png"), in_dir("trouser_big.png"));
    ck_assert_int_eq(run_tg(args), 0);
    char *first = strstr(tg_output, "trouser.png:  1. trouser "), *second = strstr(tg_output, "trouser_big.png:  1. trouser ");
    ck_assert_msg(first && second, "%s", tg_output);
    ck_assert_ptr_nonnull(strstr(first, "  2. "));
    ck_assert_ptr_nonnull(strstr(first, "  3. "));
    /* a bad image among good ones: reported, the others still answered, exit 1 */
    FILE *f = fopen(in_dir("notes.png"), "w");
    fputs("not a picture", f);
    fclose(f);
    snprintf(args, sizeof args, "predict %s %s %s", model("m.ckpt"), in_dir("notes.png"), in_dir("trouser.png"));
    ck_assert_int_eq(run_tg(args), 1);
    ck_assert_ptr_nonnull(strstr(tg_output, "notes.png: not an image tg can read"));
    ck_assert_ptr_nonnull(strstr(tg_output, "trouser.png:  1. trouser"));
    tg_dataset_free(&test);
}
END_TEST

START_TEST(test_train_refuses_a_corrupt_checkpoint)
{
    char args[512];
    snprintf(args, sizeof args, "train --epochs 1 --train-samples 300 --test-samples 100 --save %s", in_dir("c.ckpt"));
    ck_assert_int_eq(run_tg(args), 0);
    size_t n;
    char *data = read_file(in_dir("c.ckpt"), &n);
    data[n / 2] ^= 0x10;
    FILE *f = fopen(in_dir("c.ckpt"), "wb");
    fwrite(data, 1, n, f);
    fclose(f);
    snprintf(args, sizeof args, "eval %s", in_dir("c.ckpt"));
    ck_assert_int_eq(run_tg(args), 1);
    ck_assert_ptr_nonnull(strstr(tg_output, "c.ckpt: checksum mismatch (corrupt or truncated)"));
    f = fopen(in_dir("c.ckpt"), "wb");
    fwrite(data, 1, n / 3, f);
    fclose(f);
    snprintf(args, sizeof args, "predict %s %s", in_dir("c.ckpt"), in_dir("c.ckpt"));
    ck_assert_int_eq(run_tg(args), 1);
    snprintf(args, sizeof args, "train --resume %s", in_dir("c.ckpt"));
    ck_assert_int_eq(run_tg(args), 1);
    free(data);
}
END_TEST

START_TEST(test_train_check_numerics_names_the_op)
{
    /* The same blow-up with --check-numerics: the first op to produce an
     * infinity or NaN is named with its inputs' ranges, and training stops */
    ck_assert_int_eq(run_tg("train --optimizer sgd --lr 10 --epochs 2 --train-samples 3000 --test-samples 200 "
                            "--seed 1 --check-numerics"), 1);
    ck_assert_msg(strstr(tg_output, "tg train: check-numerics: ") && strstr(tg_output, " at element ") &&
                  strstr(tg_output, "its inputs: 1: "), "%s", tg_output);
    ck_assert_msg(!strstr(tg_output, "test accuracy"), "%s", tg_output);
    /* the environment variable does the same */
    ck_assert_int_eq(run_program("TG_CHECK_NUMERICS=1 ${TG_BIN:-build/tg}",
                                 "train --optimizer sgd --lr 10 --epochs 2 --train-samples 3000 "
                                 "--test-samples 200 --seed 1"), 1);
    ck_assert_msg(strstr(tg_output, "tg train: check-numerics: "), "%s", tg_output);
}
END_TEST

START_TEST(test_train_bad_arguments)
{
    ck_assert_int_eq(run_tg("train --epochs 0"), 2);
    ck_assert_int_eq(run_tg("train --hidden 512,0"), 2);
    ck_assert_msg(strstr(tg_output, "tg: model mlp: hidden needs positive sizes like 512,512 (or \"\" for none), "
                                    "got '512,0'"), "%s", tg_output);
    ck_assert_int_eq(run_tg("train --model 'flatten linear(x)'"), 2);
    ck_assert_msg(strstr(tg_output, "tg: model spec 'flatten linear(x)': word 2, 'linear': argument 1, 'x', is not a "
                                    "number"), "%s", tg_output);
    ck_assert_int_eq(run_tg("train --model convnet"), 2);
    ck_assert_msg(strstr(tg_output, "tg: no model 'convnet': tg has mlp"), "%s", tg_output);
    ck_assert_int_eq(run_tg("train --val-split 1"), 2);
    ck_assert_int_eq(run_tg("train --dropout 1"), 2);
    ck_assert_int_eq(run_tg("train --optimizer adam --momentum 0.9"), 2);
    ck_assert_int_eq(run_tg("train --optimizer lbfgs"), 2);
    ck_assert_int_eq(run_tg("train --activation swish"), 2);
    ck_assert_int_eq(run_tg("train --dataset cifar10"), 2);
    ck_assert_msg(strstr(tg_output, "tg: --dataset: no data set 'cifar10': tg knows fashion-mnist and mnist"), "%s",
                  tg_output);
    ck_assert_int_eq(run_tg("train --lr 0.1 --bogus"), 2);
    ck_assert_ptr_nonnull(strstr(tg_output, "unknown option '--bogus'"));
    ck_assert_int_eq(run_tg("train --data-dir /nonexistent"), 1);
    ck_assert_ptr_nonnull(strstr(tg_output, "/nonexistent/train-images-idx3-ubyte[.gz]: no such file"));
    ck_assert_ptr_nonnull(strstr(tg_output, "point --data-dir (or $TG_DATA_DIR) at the directory"));
    ck_assert_int_eq(run_tg("eval"), 2);
    ck_assert_int_eq(run_tg("predict only-a-checkpoint"), 2);
    ck_assert_int_eq(run_tg("train --help"), 0);
    ck_assert_ptr_nonnull(strstr(tg_output, "usage: tg train"));
}
END_TEST

START_TEST(test_train_early_stop_and_validation)
{
    /* lr 0 changes nothing, so the validation loss never improves after
     * epoch 1: patience 2 stops after epoch 3 */
    char args[512];
    snprintf(args, sizeof args, "train --lr 0 --epochs 10 --early-stop 2 --val-split 0.2 --train-samples 500 "
             "--test-samples 100 --metrics %s", in_dir("m.json"));
    ck_assert_int_eq(run_tg(args), 0);
    ck_assert_ptr_nonnull(strstr(tg_output, "early stop: the val loss has not improved for 2 epochs"));
    ck_assert_ptr_null(strstr(tg_output, "epoch  4/10"));
    ck_assert_ptr_nonnull(strstr(tg_output, ": 400 training images, 100 validation images"));
    char *json = read_file(in_dir("m.json"), NULL);
    ck_assert_int_eq((int)json_number(json, "epochs"), 3);
    ck_assert_double_ge(json_number(json, "val_accuracy"), 0);
    free(json);
}
END_TEST

START_TEST(test_train_a_model_given_as_layers)
{
    /* --model as a line of torch.nn layers: trained, saved with its spec,
     * resumed and evaluated from the checkpoint alone, exported weights
     * under torch's keys */
    const char *spec = "flatten linear(32) gelu dropout(0.1) linear(10)";
    char args[512];
    snprintf(args, sizeof args, "train --model '%s' --optimizer adam --lr 0.01 --epochs 1 --train-samples 1000 "
             "--test-samples 200 --seed 4 --save %s", spec, in_dir("l.ckpt"));
    ck_assert_msg(run_tg(args) == 0, "%s", tg_output);
    ck_assert_msg(strstr(tg_output, "fashion-mnist, flatten linear(32) gelu dropout(0.1) linear(10), adam"), "%s",
                  tg_output);
    snprintf(args, sizeof args, "train --resume %s --epochs 2", in_dir("l.ckpt"));
    ck_assert_msg(run_tg(args) == 0, "%s", tg_output);
    ck_assert_ptr_nonnull(strstr(tg_output, "resumed after epoch 1 of 2"));
    snprintf(args, sizeof args, "eval %s", in_dir("l.ckpt"));
    ck_assert_msg(run_tg(args) == 0, "%s", tg_output);
    ck_assert_ptr_nonnull(strstr(tg_output, "fashion-mnist test set: 10000 images"));
    tg_checkpoint *ck;
    ck_assert_int_eq(tg_checkpoint_read(in_dir("l.ckpt"), &ck), TG_OK);
    tg_tensor *w = tg_zeros(NULL, TG_SHAPE(32, 784));
    ck_assert_int_eq(tg_checkpoint_get_tensor(ck, "model/1.weight", w), TG_OK);
    tg_tensor_free(w);
    tg_checkpoint_free(ck);
}
END_TEST

START_TEST(test_train_export_eval_init_and_shuffle_off)
{
    /* tg export writes the state under torch's keys with the spec in its
     * metadata; tg eval of that file gives the checkpoint's numbers; tg
     * train --init starts from it; with --shuffle off the seed no longer
     * matters once the weights are given (it only shuffles) */
    const char *spec = "flatten linear(16) tanh linear(10)";
    char args[1024];
    snprintf(args, sizeof args, "train --model '%s' --epochs 1 --train-samples 600 --test-samples 100 --seed 2 "
             "--normalize --save %s", spec, in_dir("a.ckpt"));
    ck_assert_msg(run_tg(args) == 0, "%s", tg_output);
    export_to("a.ckpt", "a.safetensors");
    ck_assert_msg(strstr(tg_output, "4 tensors of"), "%s", tg_output);
    tg_safetensors *st;
    ck_assert_int_eq(tg_safetensors_read(in_dir("a.safetensors"), &st), TG_OK);
    ck_assert_str_eq(tg_safetensors_metadata(st, "spec"), spec);
    ck_assert_str_eq(tg_safetensors_metadata(st, "dataset"), "fashion-mnist");
    ck_assert_str_ne(tg_safetensors_metadata(st, "input_std"), "1"); /* --normalize's statistics go along */
    ck_assert_str_eq(tg_safetensors_name(st, 0), "1.weight");
    tg_safetensors_free(st);
    snprintf(args, sizeof args, "eval %s", in_dir("a.ckpt"));
    ck_assert_msg(run_tg(args) == 0, "%s", tg_output);
    char *eval_ck = strdup(tg_output);
    snprintf(args, sizeof args, "eval %s", in_dir("a.safetensors"));
    ck_assert_msg(run_tg(args) == 0, "%s", tg_output);
    ck_assert_str_eq(tg_output, eval_ck); /* loss, accuracy and the whole confusion matrix */
    free(eval_ck);
    /* tg predict: the same guesses from the checkpoint and from the export */
    unsigned char pixels[28 * 28];
    for (int i = 0; i < 28 * 28; i++) pixels[i] = (unsigned char)(i * 7);
    ck_assert(stbi_write_png(in_dir("p.png"), 28, 28, 1, pixels, 28));
    snprintf(args, sizeof args, "predict %s %s", in_dir("a.ckpt"), in_dir("p.png"));
    ck_assert_msg(run_tg(args) == 0, "%s", tg_output);
    char *predict_ck = strdup(tg_output);
    snprintf(args, sizeof args, "predict %s %s", in_dir("a.safetensors"), in_dir("p.png"));
    ck_assert_msg(run_tg(args) == 0, "%s", tg_output);
    ck_assert_str_eq(tg_output, predict_ck);
    free(predict_ck);
    /* a file without a spec needs --model; a wrong one is refused by key */
    tg_rng rng;
    tg_rng_seed(&rng, 1);
    tg_module *m = tg_model_parse(spec, (tg_sample_shape){1, 28, 28}, &rng);
    ck_assert_int_eq(tg_module_save(m, in_dir("bare.safetensors"), NULL), TG_OK);
    tg_module_free(m);
    snprintf(args, sizeof args, "eval %s", in_dir("bare.safetensors"));
    ck_assert_int_eq(run_tg(args), 1);
    ck_assert_msg(strstr(tg_output, "has no \"spec\" in its metadata: say which model it holds with --model"), "%s",
                  tg_output);
    snprintf(args, sizeof args, "eval %s --model '%s'", in_dir("bare.safetensors"), spec);
    ck_assert_msg(run_tg(args) == 0, "%s", tg_output);
    snprintf(args, sizeof args, "eval %s --model 'flatten linear(16) tanh linear(10) relu linear(10)'",
             in_dir("bare.safetensors"));
    ck_assert_int_eq(run_tg(args), 1);
    ck_assert_msg(strstr(tg_output, "missing key '5.weight'"), "%s", tg_output);
    snprintf(args, sizeof args, "train --model 'flatten linear(8) tanh linear(10)' --init %s --epochs 1 "
             "--train-samples 100", in_dir("a.safetensors"));
    ck_assert_int_eq(run_tg(args), 1);
    ck_assert_msg(strstr(tg_output, "tg train: --init: ") && strstr(tg_output, "'1.weight' has shape (16,784) in the "
                  "file, (8,784) here"), "%s", tg_output);
    snprintf(args, sizeof args, "train --init %s --resume %s", in_dir("a.safetensors"), in_dir("a.ckpt"));
    ck_assert_int_eq(run_tg(args), 2);
    /* broken files: tg eval refuses each with its reason and exit status 1 */
    FILE *f = fopen(in_dir("a.safetensors"), "rb");
    ck_assert_ptr_nonnull(f);
    static unsigned char bytes[1 << 17];
    size_t n = fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    ck_assert(n > 100 && n < sizeof bytes);
    static const struct {
        const char *name, *why;
    } broken[] = {
        {"cut.safetensors", "the tensors cover 50920 bytes of data but the file holds 50820 after the header"},
        {"huge.safetensors", "does not fit (the file has"},
        {"f16.safetensors", "has dtype F16; tg reads F32 and I64"},
    };
    for (int k = 0; k < 3; k++) {
        unsigned char *copy = malloc(n);
        memcpy(copy, bytes, n);
        size_t len = k == 0 ? n - 100 : n;
        if (k == 1) copy[6] = 0x7f; /* a header length of about 2^55 */
        if (k == 2) memcpy(strstr((char *)copy + 8, "F32"), "F16", 3);
        f = fopen(in_dir(broken[k].name), "wb");
        fwrite(copy, 1, len, f);
        fclose(f);
        free(copy);
        snprintf(args, sizeof args, "eval %s", in_dir(broken[k].name));
        ck_assert_int_eq(run_tg(args), 1);
        ck_assert_msg(strstr(tg_output, broken[k].why) && strstr(tg_output, broken[k].name), "%s", tg_output);
    }

    /* --init and --shuffle off: two seeds, the same weights after training */
    tg_tensor *w[2];
    for (int seed = 0; seed < 2; seed++) {
        snprintf(args, sizeof args, "train --model '%s' --init %s --shuffle off --epochs 2 --train-samples 300 "
                 "--test-samples 100 --seed %d --save %s", spec, in_dir("a.safetensors"), seed + 5, in_dir("s.ckpt"));
        ck_assert_msg(run_tg(args) == 0, "%s", tg_output);
        tg_checkpoint *ck;
        ck_assert_int_eq(tg_checkpoint_read(in_dir("s.ckpt"), &ck), TG_OK);
        w[seed] = tg_zeros(NULL, TG_SHAPE(16, 784));
        ck_assert_int_eq(tg_checkpoint_get_tensor(ck, "model/1.weight", w[seed]), TG_OK);
        tg_checkpoint_free(ck);
    }
    ck_assert_mem_eq(w[0]->data, w[1]->data, w[0]->size * sizeof(float));
    tg_tensor_free(w[0]), tg_tensor_free(w[1]);
    snprintf(args, sizeof args, "train --shuffle sometimes");
    ck_assert_int_eq(run_tg(args), 2);
    ck_assert_msg(strstr(tg_output, "--shuffle is on or off, not 'sometimes'"), "%s", tg_output);
}
END_TEST

START_TEST(test_train_a_cnn)
{
    /* --model cnn: trained, saved, resumed to the bytes of a straight run,
     * exported under torch's keys (4-D convolution weights) */
    char args[1024];
    const char *common = "--model cnn-bn --optimizer adam --lr 0.001 --train-samples 96 --test-samples 32 "
                         "--batch-size 32 --seed 2";
    snprintf(args, sizeof args, "train %s --epochs 2 --save %s", common, in_dir("straight.ckpt"));
    ck_assert_msg(run_tg(args) == 0, "%s", tg_output);
    ck_assert_msg(strstr(tg_output, "fashion-mnist, cnn-bn, adam"), "%s", tg_output);
    snprintf(args, sizeof args, "train %s --epochs 1 --save %s", common, in_dir("r.ckpt"));
    ck_assert_msg(run_tg(args) == 0, "%s", tg_output);
    snprintf(args, sizeof args, "train --resume %s --epochs 2 --save %s", in_dir("r.ckpt"), in_dir("r.ckpt"));
    ck_assert_msg(run_tg(args) == 0, "%s", tg_output);
    ck_assert(same_file(in_dir("r.ckpt"), in_dir("straight.ckpt")));
    export_to("r.ckpt", "cnn.safetensors");
    tg_safetensors *st;
    ck_assert_int_eq(tg_safetensors_read(in_dir("cnn.safetensors"), &st), TG_OK);
    tg_dtype dtype;
    int ndim;
    int64_t shape[8];
    ck_assert(tg_safetensors_info(st, "0.weight", &dtype, &ndim, shape));
    ck_assert(ndim == 4 && shape[0] == 32 && shape[1] == 1 && shape[2] == 3 && shape[3] == 3);
    ck_assert(tg_safetensors_info(st, "1.num_batches_tracked", &dtype, &ndim, shape) && dtype == TG_I64);
    ck_assert_str_eq(tg_safetensors_metadata(st, "spec"), "conv2d(32,3,padding=1) batchnorm2d relu maxpool2d(2) "
                     "conv2d(64,3,padding=1) batchnorm2d relu maxpool2d(2) flatten linear(128) relu linear(10)");
    tg_safetensors_free(st);
}
END_TEST

/* ---- a CNN through every command (issue 15) ---- */

/* The first CNN_TRAIN training and CNN_TEST test images of the real
 * FashionMNIST as a data set of their own (raw IDX files in the test case's
 * root), written by the first test that asks: a CNN's runs then read a few
 * hundred images instead of 70,000, and tg eval, which takes a whole test
 * set, evaluates CNN_TEST. Written aside and renamed, so a test that failed
 * half-way leaves no half set to the next. */
enum { CNN_TRAIN = 256, CNN_TEST = 64 };

static const char *cnn_data(void)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/cnn-data", root);
    if (exists(path)) return path;
    char tmp[160], file[256];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    remove_tree(tmp);
    ck_assert_int_eq(mkdir(tmp, 0755), 0);
    for (int train = 0; train < 2; train++) {
        tg_dataset d;
        ck_assert_int_eq(tg_dataset_open(tg_dataset_find("fashion-mnist"), NULL, train, &d), TG_OK);
        uint32_t n = train ? CNN_TRAIN : CNN_TEST;
        snprintf(file, sizeof file, "%s/%s-images-idx3-ubyte", tmp, train ? "train" : "t10k");
        tiny_idx(file, false, 3, (uint32_t[]){n, 28, 28}, d.images, (size_t)n * 784);
        snprintf(file, sizeof file, "%s/%s-labels-idx1-ubyte", tmp, train ? "train" : "t10k");
        tiny_idx(file, false, 1, (uint32_t[]){n}, d.labels, n);
        tg_dataset_free(&d);
    }
    ck_assert_int_eq(rename(tmp, path), 0);
    return path;
}

/* One epoch of cnn-bn (Adam lr 0.003, batch 32) on cnn_data with more
 * flags, which must work. */
static void train_cnn_bn(const char *flags)
{
    char args[1024];
    snprintf(args, sizeof args, "train --data-dir %s --model cnn-bn --optimizer adam --lr 0.003 --epochs 1 "
             "--batch-size 32 %s", cnn_data(), flags);
    ck_assert_msg(run_tg(args) == 0, "%s", tg_output);
}

/* The class and percentage ("NAME NN%") that follow each occurrence of
 * key in text, in order (tg eval --show's "tg:   sneaker 33%", tg
 * predict's "1. sneaker 32.7%"): up to max names of up to 31 characters.
 * Returns how many. */
static int guesses_after(const char *text, const char *key, char names[][32], double *percent, int max)
{
    int n = 0;
    for (const char *p = strstr(text, key); p && n < max; p = strstr(p + 1, key)) {
        const char *start = p + strlen(key), *pct = strchr(start, '%');
        ck_assert_ptr_nonnull(pct);
        const char *end = pct;
        while (end > start && end[-1] != ' ') end--; /* back over the number */
        ck_assert(end > start && end - start <= 32);
        memcpy(names[n], start, (size_t)(end - start - 1));
        names[n][end - start - 1] = '\0';
        percent[n++] = strtod(end, NULL);
    }
    return n;
}

START_TEST(test_train_a_cnn_evaluates_shows_and_predicts)
{
    /* tg eval (with --show), tg predict and tg export with a CNN: the
     * checkpoint, its export, and the export stripped of its spec (given
     * back with --model cnn-bn) all give the same report and pictures;
     * the guesses --show draws are tg predict's for the same images. */
    char args[1024];
    const char *data = cnn_data();
    snprintf(args, sizeof args, "--seed 1 --save %s", in_dir("c.ckpt"));
    train_cnn_bn(args);
    export_to("c.ckpt", "c.safetensors");
    ck_assert_msg(strstr(tg_output, "18 tensors of"), "%s", tg_output); /* 4 convolution, 10 batch norm, 4 linear */
    enum { N = CNN_TEST, SHOW = 4 };
    tg_dataset test;
    ck_assert_int_eq(tg_dataset_open(tg_dataset_find("fashion-mnist"), data, false, &test), TG_OK);

    snprintf(args, sizeof args, "eval %s --data-dir %s --show %d", in_dir("c.ckpt"), data, SHOW);
    ck_assert_msg(run_tg(args) == 0, "%s", tg_output);
    char *from_checkpoint = strdup(tg_output);
    char head[64];
    snprintf(head, sizeof head, "fashion-mnist test set: %d images, loss ", N);
    ck_assert_msg(strstr(from_checkpoint, head), "%s", from_checkpoint);
    ck_assert_ptr_nonnull(strstr(from_checkpoint, "\nankle boot "));
    /* the pictures: 14 text lines of SHOW images 28 characters wide (two
     * pixel rows a line), darker to lighter */
    int picture_lines = 0;
    for (const char *line = from_checkpoint; (line = strchr(line, '\n')); line++)
        picture_lines += strspn(line + 1, " .:-=+*#%@") >= SHOW * (28 + 4) - 4 && line[1] != '\n';
    ck_assert_int_eq(picture_lines, 14);
    /* the true classes are the shown images' labels: tg eval shows rows
     * i * 997 mod n, spread over the set */
    const char *truth = from_checkpoint;
    for (int i = 0; i < SHOW; i++) {
        const char *label = tg_dataset_class_name(&test, test.labels[i * 997 % N]);
        truth = strstr(truth, "true: ");
        ck_assert_msg(truth && !strncmp(truth + 6, label, strlen(label)) && truth[6 + strlen(label)] == ' ',
                      "image %d is a %s:\n%s", i, label, from_checkpoint);
        truth++;
    }
    ck_assert_ptr_null(strstr(truth, "true: "));
    char guess[SHOW][32];
    double guess_percent[SHOW];
    ck_assert_int_eq(guesses_after(from_checkpoint, "tg:   ", guess, guess_percent, SHOW), SHOW);

    /* the export, and the export without its spec, given --model */
    snprintf(args, sizeof args, "eval %s --data-dir %s --show %d", in_dir("c.safetensors"), data, SHOW);
    ck_assert_msg(run_tg(args) == 0, "%s", tg_output);
    ck_assert_str_eq(tg_output, from_checkpoint);
    tg_safetensors *st;
    ck_assert_int_eq(tg_safetensors_read(in_dir("c.safetensors"), &st), TG_OK);
    tg_rng rng;
    tg_rng_seed(&rng, 9);
    tg_module *m = tg_model_parse(tg_safetensors_metadata(st, "spec"), (tg_sample_shape){1, 28, 28}, &rng);
    tg_safetensors_free(st);
    ck_assert_msg(m != NULL, "%s", tg_last_error());
    ck_assert_int_eq(tg_module_load(m, in_dir("c.safetensors")), TG_OK);
    ck_assert_int_eq(tg_module_save(m, in_dir("bare.safetensors"), NULL), TG_OK);
    tg_module_free(m);
    snprintf(args, sizeof args, "eval %s --data-dir %s --show %d", in_dir("bare.safetensors"), data, SHOW);
    ck_assert_int_eq(run_tg(args), 1);
    ck_assert_msg(strstr(tg_output, "say which model it holds with --model"), "%s", tg_output);
    snprintf(args, sizeof args, "eval %s --model cnn-bn --data-dir %s --show %d", in_dir("bare.safetensors"), data,
             SHOW);
    ck_assert_msg(run_tg(args) == 0, "%s", tg_output);
    ck_assert_str_eq(tg_output, from_checkpoint);
    snprintf(args, sizeof args, "eval %s --model cnn --data-dir %s", in_dir("bare.safetensors"), data);
    ck_assert_int_eq(run_tg(args), 1);
    ck_assert_msg(strstr(tg_output, "unexpected key '1.weight'"), "%s", tg_output); /* cnn has no batch norm */

    /* tg predict on the shown images, written as PNG files: its top class
     * is --show's guess, from the checkpoint and from the export alike */
    char images[SHOW * 300] = "";
    for (int i = 0; i < SHOW; i++) {
        char name[32];
        snprintf(name, sizeof name, "shown%d.png", i);
        ck_assert(stbi_write_png(in_dir(name), 28, 28, 1, test.images + (size_t)(i * 997 % N) * 784, 28));
        strcat(strcat(images, " "), in_dir(name));
    }
    snprintf(args, sizeof args, "predict %s%s", in_dir("c.ckpt"), images);
    ck_assert_msg(run_tg(args) == 0, "%s", tg_output);
    char *predicted = strdup(tg_output);
    char top[SHOW][32];
    double top_percent[SHOW];
    ck_assert_int_eq(guesses_after(predicted, "  1. ", top, top_percent, SHOW), SHOW);
    for (int i = 0; i < SHOW; i++) { /* the same probability, rounded to 1% there and to 0.1% here */
        ck_assert_str_eq(top[i], guess[i]);
        ck_assert_double_le(fabs(top_percent[i] - guess_percent[i]), 0.5 + 0.05 + 1e-9);
    }
    snprintf(args, sizeof args, "predict %s%s", in_dir("bare.safetensors"), images);
    ck_assert_int_eq(run_tg(args), 1);
    snprintf(args, sizeof args, "predict %s --model cnn-bn%s", in_dir("bare.safetensors"), images);
    ck_assert_msg(run_tg(args) == 0, "%s", tg_output);
    ck_assert_str_eq(tg_output, predicted);
    snprintf(args, sizeof args, "predict %s%s", in_dir("c.safetensors"), images);
    ck_assert_msg(run_tg(args) == 0, "%s", tg_output);
    ck_assert_str_eq(tg_output, predicted);
    free(from_checkpoint), free(predicted);
    tg_dataset_free(&test);
}
END_TEST

/* tg with stdout and stderr on a terminal (a pseudo-terminal this process
 * holds), as at a shell: tg draws its live bar only there. tg_output gets
 * what the terminal showed (its driver turns "\n" into "\r\n"). */
static int run_tg_on_a_terminal(const char *args)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    ck_assert_int_ge(master, 0);
    ck_assert(grantpt(master) == 0 && unlockpt(master) == 0 && ptsname(master));
    /* held open here until the child has it, so the master never reads a
     * hang-up before the child starts */
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    ck_assert_int_ge(slave, 0);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "exec %s %s", getenv("TG_BIN") ? getenv("TG_BIN") : "build/tg", args);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(master);
        if (dup2(slave, STDOUT_FILENO) < 0 || dup2(slave, STDERR_FILENO) < 0) _exit(127);
        close(slave);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(slave);
    size_t n = 0;
    for (;;) { /* until the child's side closes: EIO on Linux */
        ssize_t got = read(master, tg_output + n, sizeof tg_output - 1 - n);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        n += (size_t)got;
        ck_assert_msg(n < sizeof tg_output - 1, "too much output");
    }
    tg_output[n] = '\0';
    close(master);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* The number after the first key in text. */
static double number_after(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    ck_assert_msg(p != NULL, "no '%s' in:\n%s", key, text);
    return strtod(p + strlen(key), NULL);
}

START_TEST(test_train_a_cnn_shows_progress_and_logs)
{
    /* On a terminal a CNN's training draws the live bar, whose last state
     * (all samples) shows the epoch's mean loss, cleared before the epoch's
     * line; not on a terminal there is no bar and the same numbers. The
     * log has a row every --log-every samples whose losses average to the
     * epoch's (all batches full), and the epoch's evaluation. */
    char args[1024];
    char flags[384];
    snprintf(flags, sizeof flags, "--data-dir %s --model cnn --optimizer adam --lr 0.003 --epochs 2 --train-samples "
             "128 --test-samples 32 --batch-size 32 --log-every 64 --seed 1", cnn_data());
    snprintf(args, sizeof args, "train %s --log %s", flags, in_dir("terminal.csv"));
    ck_assert_msg(run_tg_on_a_terminal(args) == 0, "%s", tg_output);
    char *terminal = strdup(tg_output);
    for (int epoch = 1; epoch <= 2; epoch++) {
        char key[64];
        snprintf(key, sizeof key, "\r\033[Kepoch %d/2 [", epoch);
        ck_assert_msg(strstr(terminal, key), "no bar for epoch %d in:\n%s", epoch, terminal);
        snprintf(key, sizeof key, "\r\033[Kepoch %d/2 [========================] 128/128  loss ", epoch);
        double bar_loss = number_after(terminal, key);
        const char *full = strstr(terminal, key);
        ck_assert_ptr_nonnull(strstr(full, " samples/s  ETA 0:00"));
        snprintf(key, sizeof key, "\r\033[Kepoch  %d/2  train loss ", epoch); /* the bar cleared first */
        ck_assert_msg(strstr(full, key), "epoch %d's line does not replace its bar:\n%s", epoch, terminal);
        ck_assert_double_eq(bar_loss, number_after(full, key));
    }
    snprintf(args, sizeof args, "train %s --log %s", flags, in_dir("pipe.csv"));
    ck_assert_msg(run_tg(args) == 0, "%s", tg_output);
    ck_assert_msg(!strchr(tg_output, '\033') && !strchr(tg_output, '\r'), "%s", tg_output);
    ck_assert_double_eq(number_after(tg_output, "epoch  2/2  train loss "),
                        number_after(terminal, "epoch  2/2  train loss "));
    ck_assert_double_eq(number_after(tg_output, "test loss "), number_after(terminal, "test loss "));
    ck_assert(same_file(in_dir("terminal.csv"), in_dir("pipe.csv")));

    char *csv = read_file(in_dir("pipe.csv"), NULL);
    int step_rows = 0, eval_rows = 0;
    double step_sum = 0;
    long last_samples = 0;
    for (char *line = strtok(strchr(csv, '\n') + 1, "\n"); line; line = strtok(NULL, "\n")) {
        int epoch;
        long step, samples;
        double lr, loss, eval_loss, eval_acc;
        int fields = sscanf(line, "%d,%ld,%ld,%lf,%lf,%lf,%lf", &epoch, &step, &samples, &lr, &loss, &eval_loss, &eval_acc);
        if (fields == 5) { /* a step row: 64 more samples, two batches of 32 */
            ck_assert_int_eq(samples, last_samples + 64);
            ck_assert_int_eq(step, samples / 32);
            last_samples = samples;
            step_sum += loss;
            step_rows++;
        } else {
            ck_assert_int_eq(fields, 7);
            ck_assert_int_eq(step_rows, 2 * epoch);
            ck_assert_close(loss, step_sum / 2, 1e-6, 0); /* the epoch's mean of its two step rows */
            step_sum = 0;
            char key[64];
            snprintf(key, sizeof key, "epoch  %d/2  train loss ", epoch);
            ck_assert_close(loss, number_after(tg_output, key), 1e-8, 5e-5); /* printed to 4 decimals */
            ck_assert_close(eval_loss, number_after(strstr(tg_output, key), "test loss "), 1e-8, 5e-5);
            eval_rows++;
        }
    }
    ck_assert_int_eq(eval_rows, 2);
    free(csv), free(terminal);
}
END_TEST

START_TEST(test_train_a_cnn_check_numerics_names_the_op)
{
    /* SGD at lr 1e30 blows a CNN's weights up in one step; at the second,
     * --check-numerics stops at the convolution that overflows and names
     * it, exit 1, and nothing is written: the last checkpoint stays, no
     * temporary, no metrics; on a terminal its message does not end the
     * bar's line. Without it the loss check stops the run. */
    char args[1024];
    const char *data = cnn_data();
    snprintf(args, sizeof args, "train --data-dir %s --model cnn-bn --epochs 1 --train-samples 64 --save %s", data,
             in_dir("good.ckpt"));
    ck_assert_msg(run_tg(args) == 0, "%s", tg_output);
    size_t n;
    char *before = read_file(in_dir("good.ckpt"), &n);
    const char *models[] = {"cnn-bn", "cnn"};
    for (int k = 0; k < 2; k++) {
        snprintf(args, sizeof args, "train --data-dir %s --model %s --optimizer sgd --lr 1e30 --epochs 1 "
                 "--batch-size 32 --check-numerics --save %s --metrics %s", data, models[k], in_dir("good.ckpt"),
                 in_dir("m.json"));
        ck_assert_int_eq(run_tg(args), 1);
        ck_assert_msg(strstr(tg_output, "tg train: check-numerics: conv2d (node ") &&
                      strstr(tg_output, "(32,64,14,14)) produced an infinity at element ") &&
                      strstr(tg_output, "its inputs: 1: (32,32,14,14) in [") &&
                      strstr(tg_output, "2: (64,32,3,3) in ["), "%s: %s", models[k], tg_output);
        ck_assert_msg(!strstr(tg_output, "epoch  1/1"), "%s", tg_output);
        size_t m;
        char *after = read_file(in_dir("good.ckpt"), &m);
        ck_assert(n == m && !memcmp(before, after, n));
        free(after);
        ck_assert(!exists(in_dir("good.ckpt.tmp")) && !exists(in_dir("m.json")));
    }
    /* on a terminal the bar is cleared first: the message starts its line */
    snprintf(args, sizeof args, "train --data-dir %s --model cnn --optimizer sgd --lr 1e30 --epochs 1 --batch-size 32 "
             "--check-numerics", data);
    ck_assert_int_eq(run_tg_on_a_terminal(args), 1);
    ck_assert_msg(strstr(tg_output, "\r\033[Kepoch 1/1 [") && strstr(tg_output, "\r\033[Ktg train: check-numerics: conv2d "),
                  "%s", tg_output);
    snprintf(args, sizeof args, "train --data-dir %s --model cnn --optimizer sgd --lr 1e30 --epochs 1 --batch-size 32 "
             "--save %s", data, in_dir("good.ckpt"));
    ck_assert_int_eq(run_tg(args), 1);
    ck_assert_msg(strstr(tg_output, "training diverged") && strstr(tg_output, "The last checkpoint is untouched."),
                  "%s", tg_output);
    size_t m;
    char *after = read_file(in_dir("good.ckpt"), &m);
    ck_assert(n == m && !memcmp(before, after, n));
    free(before), free(after);
}
END_TEST

/* Every tensor of a safetensors file, as floats (I64 counters too). */
static tg_tensor *stored(const tg_safetensors *st, const char *name)
{
    tg_dtype dtype;
    int ndim;
    int64_t shape64[8];
    ck_assert_msg(tg_safetensors_info(st, name, &dtype, &ndim, shape64), "no %s", name);
    int shape[8];
    for (int d = 0; d < ndim; d++) shape[d] = (int)shape64[d];
    tg_tensor *t = tg_zeros(NULL, ndim, shape);
    ck_assert_int_eq(tg_safetensors_get(st, name, dtype, t), TG_OK);
    return t;
}

START_TEST(test_train_a_cnn_starts_from_init)
{
    /* --init with a CNN: a trained cnn-bn exported, then a run of another
     * seed started from it at lr 0 keeps every parameter bit for bit, and
     * its batch norms carry on counting from the file's
     * num_batches_tracked; the same run without --init has its own
     * weights. */
    char args[1024];
    const char *data = cnn_data();
    snprintf(args, sizeof args, "--train-samples 96 --seed 1 --save %s", in_dir("a.ckpt"));
    train_cnn_bn(args);
    export_to("a.ckpt", "a.safetensors");
    const char *names[][2] = {{"i.ckpt", "i.safetensors"}, {"own.ckpt", "own.safetensors"}};
    for (int k = 0; k < 2; k++) {
        snprintf(args, sizeof args, "train --data-dir %s --model cnn-bn %s%s --optimizer sgd --lr 0 --epochs 1 "
                 "--train-samples 64 --batch-size 32 --seed 7 --save %s", data, k ? "" : "--init ",
                 k ? "" : in_dir("a.safetensors"), in_dir(names[k][0]));
        ck_assert_msg(run_tg(args) == 0, "%s", tg_output);
        export_to(names[k][0], names[k][1]);
    }
    tg_safetensors *given, *started, *own;
    ck_assert_int_eq(tg_safetensors_read(in_dir("a.safetensors"), &given), TG_OK);
    ck_assert_int_eq(tg_safetensors_read(in_dir("i.safetensors"), &started), TG_OK);
    ck_assert_int_eq(tg_safetensors_read(in_dir("own.safetensors"), &own), TG_OK);
    ck_assert_int_eq(tg_safetensors_count(given), 18);
    ck_assert_int_eq(tg_safetensors_count(started), 18);
    int parameters = 0;
    for (int i = 0; i < tg_safetensors_count(given); i++) {
        const char *name = tg_safetensors_name(given, i);
        tg_tensor *a = stored(given, name), *b = stored(started, name), *c = stored(own, name);
        if (strstr(name, "num_batches_tracked")) {
            ck_assert_float_eq(b->data[0], a->data[0] + 2); /* two steps of 32 */
        } else if (!strstr(name, "running_")) {
            ck_assert_msg(!memcmp(a->data, b->data, a->size * sizeof(float)), "%s differs from --init's", name);
            if (strstr(name, "weight") && a->ndim > 1)
                ck_assert_msg(memcmp(a->data, c->data, a->size * sizeof(float)), "%s: the same without --init", name);
            parameters++;
        }
        tg_tensor_free(a), tg_tensor_free(b), tg_tensor_free(c);
    }
    ck_assert_int_eq(parameters, 12); /* 4 convolution, 4 batch norm, 4 linear */
    tg_safetensors_free(given), tg_safetensors_free(started), tg_safetensors_free(own);
}
END_TEST

START_TEST(test_train_a_cnn_same_bytes_on_1_and_2_threads)
{
    /* cnn-bn for an epoch on one thread and on two: the same checkpoint,
     * byte for byte (the convolutions' products are split over threads) */
    char args[1024];
    for (int threads = 1; threads <= 2; threads++) {
        char name[32];
        snprintf(name, sizeof name, "t%d.ckpt", threads);
        snprintf(args, sizeof args, "--train-samples 128 --seed 3 --threads %d --save %s --metrics %s", threads,
                 in_dir(name), in_dir("m.json"));
        train_cnn_bn(args);
        char *json = read_file(in_dir("m.json"), NULL);
        ck_assert_int_eq((int)json_number(json, "threads"), threads);
        free(json);
    }
    ck_assert(same_file(in_dir("t1.ckpt"), in_dir("t2.ckpt")));
}
END_TEST

/* How many allocations `tg_failalloc ARGS` makes (it says so when the
 * k-th it was told to fail never came). */
static long allocations_of(const char *args)
{
    const char *bin = getenv("TG_FAILALLOC_BIN");
    ck_assert_msg(bin != NULL, "TG_FAILALLOC_BIN is not set (tests/run.sh sets it)");
    char with_failure[1024];
    snprintf(with_failure, sizeof with_failure, "TG_FAIL_ALLOC=1000000000 %s", bin);
    ck_assert_msg(run_program(with_failure, args) == 0, "%s", tg_output);
    const char *said = strstr(tg_output, "failalloc: ");
    ck_assert_msg(said != NULL, "%s", tg_output);
    return strtol(said + strlen("failalloc: "), NULL, 10);
}

START_TEST(test_train_eval_show_says_when_it_cannot_draw)
{
    /* The pictures tg eval --show draws are part of its answer: when one of
     * the allocations they need fails (each in turn: those an eval with
     * --show makes beyond the same eval without), tg eval says so and exits
     * 1, or draws them all; never exit 0 without them. */
    char args[1024], with_failure[1024];
    snprintf(args, sizeof args, "eval %s --data-dir %s", model("m.ckpt"), cnn_data());
    long without = allocations_of(args);
    strcat(args, " --show 2");
    long with = allocations_of(args);
    ck_assert_int_gt(with, without);
    for (long k = without + 1; k <= with; k++) {
        snprintf(with_failure, sizeof with_failure, "TG_FAIL_ALLOC=%ld %s", k, getenv("TG_FAILALLOC_BIN"));
        int status = run_program(with_failure, args);
        const char *shown = strstr(tg_output, "true: ");
        ck_assert_msg(status == 1 ? strstr(tg_output, "tg eval: --show: ") && strstr(tg_output, "memory")
                                  : status == 0 && shown && strstr(shown + 1, "true: "),
                      "allocation %ld of %ld failed: exit %d:\n%s", k, with, status, tg_output);
    }
}
END_TEST

static Suite *train_suite(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("fashion_mnist");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, make_root, remove_root);
    tcase_add_unchecked_fixture(tc, train_shared_model, NULL);
    tcase_add_checked_fixture(tc, make_dir, remove_dir);
    tcase_add_test(tc, test_train_learns_a_subset);
    tcase_add_test(tc, test_train_resume_is_bit_identical);
    tcase_add_test(tc, test_train_resume_keeps_its_configuration);
    tcase_add_test(tc, test_train_divergence_keeps_the_last_checkpoint);
    tcase_add_test(tc, test_train_eval_and_predict);
    tcase_add_test(tc, test_train_refuses_a_corrupt_checkpoint);
    tcase_add_test(tc, test_train_check_numerics_names_the_op);
    tcase_add_test(tc, test_train_bad_arguments);
    tcase_add_test(tc, test_train_early_stop_and_validation);
    tcase_add_test(tc, test_train_a_model_given_as_layers);
    tcase_add_test(tc, test_train_export_eval_init_and_shuffle_off);
    tcase_add_test(tc, test_train_a_cnn);
    tcase_add_test(tc, test_train_a_cnn_evaluates_shows_and_predicts);
    tcase_add_test(tc, test_train_a_cnn_shows_progress_and_logs);
    tcase_add_test(tc, test_train_a_cnn_check_numerics_names_the_op);
    tcase_add_test(tc, test_train_a_cnn_starts_from_init);
    tcase_add_test(tc, test_train_a_cnn_same_bytes_on_1_and_2_threads);
    tcase_add_test(tc, test_train_eval_show_says_when_it_cannot_draw);
    suite_add_tcase(s, tc);
    return s;
}

TG_TEST_MAIN(train_suite)
