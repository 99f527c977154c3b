/* check_lecture_generalization.c — examples/poly_fit.c against the claims
 * of CS498 lecture 21, "The Learning Problem": polynomial fits to noisy
 * samples of sin(x) on [0, 2 pi], degree 1 underfits, degree 4 fits, degree
 * 20 overfits, and L2 regularization brings degree 20 back. The binary is
 * $BUILD/examples/poly_fit (BUILD defaults to "build").
 *
 * The thresholds come from the noise level sigma^2 = 0.09 and from the
 * sizes (80 training points, 1000 test points): a training MSE measures the
 * noise to sigma^2 sqrt(2/80), 16 % of it; a test MSE to sigma^2
 * sqrt(2/1000), 4.5 %. The claims are checked for four seeds, not one: with
 * 80 points and 21 coefficients, how badly degree 20 does on new data
 * depends on the gaps the sample leaves near the ends of [0, 2 pi] (the
 * median test MSE ratio of degree 20 to degree 4 over seeds 0-299 is 3; it
 * is above 1.1 in 291 of them and above 1 in all). */
#define _POSIX_C_SOURCE 200809L
#include "tg_cli.h"

enum { N_ROWS = 8, N_DATA = 100, GRID = 401 };

static const double sigma2 = 0.09;   /* the example's noise variance, 0.3^2 */
static const double pi = 3.14159265358979323846;

/* One row of the table: the fit of one model class. */
typedef struct fit {
    int degree;
    double lambda, train, val, test, err_sin, ref_train, ref_test;
    bool chosen;                       /* the lambda validation picked */
} fit;

/* The rows in order: degrees 1, 4, 20, then degree 20 with lambda rising. */
typedef struct table {
    fit row[N_ROWS];
} table;

enum { DEG1, DEG4, DEG20, FIRST_L2 };

/* Runs poly_fit with args and parses its table (exit 0 and 8 rows). */
static void run_table(const char *args, table *t)
{
    int status = run_program(example_path("poly_fit"), args);
    ck_assert_msg(status == 0, "poly_fit %s exited %d:\n%s", args, status, tg_output);
    char *copy = strdup(tg_output);
    ck_assert_ptr_nonnull(copy);
    int n = 0;
    for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n")) {
        fit f;
        if (sscanf(line, "%d %lf %lf %lf %lf %lf %lf %lf", &f.degree, &f.lambda, &f.train, &f.val, &f.test,
                   &f.err_sin, &f.ref_train, &f.ref_test) != 8)
            continue;
        f.chosen = strstr(line, "<- validation's choice") != NULL;
        ck_assert_msg(n < N_ROWS, "more than %d rows:\n%s", N_ROWS, tg_output);
        t->row[n++] = f;
    }
    free(copy);
    ck_assert_msg(n == N_ROWS, "%d rows, expected %d:\n%s", n, N_ROWS, tg_output);
    ck_assert_int_eq(t->row[DEG1].degree, 1);
    ck_assert_int_eq(t->row[DEG4].degree, 4);
    for (int k = DEG20; k < N_ROWS; k++) ck_assert_int_eq(t->row[k].degree, 20);
    for (int k = 0; k < N_ROWS; k++) ck_assert_msg(k >= FIRST_L2 ? t->row[k].lambda > 0 : t->row[k].lambda == 0, "row %d", k);
}

static const int seeds[] = {1, 2, 3, 4};

static void run_seed(int i, table *t)
{
    char args[32];
    snprintf(args, sizeof args, "--seed %d", seeds[i]);
    run_table(args, t);
    char want[32];
    snprintf(want, sizeof want, "seed %d\n", seeds[i]);
    ck_assert_msg(strstr(tg_output, want) != NULL, "no '%s' in:\n%s", want, tg_output);
}

/* "High bias": the best line through sin on U[0, 2 pi] leaves
 * E[sin^2] - cov(x, sin x)^2 / var(x) = 1/2 - (-1)^2 / (pi^2 / 3) = 1/2 - 3/pi^2
 * = 0.196 of it unexplained, whatever the data (computed here, not read from
 * a run). So train and test MSE are both near sigma^2 + 0.196 = 3.2 sigma^2:
 * above 2 sigma^2 by more than 7 standard errors of the training MSE. */
START_TEST(test_poly_fit_degree_1_underfits)
{
    table t;
    run_seed(_i, &t);
    const fit *f = &t.row[DEG1];
    double bias2 = 0.5 - 3.0 / (pi * pi);
    ck_assert_msg(f->train > 2 * sigma2 && f->test > 2 * sigma2, "seed %d: train %g test %g", seeds[_i], f->train,
                  f->test);
    /* Its error against sin is that bias: never below it but for the 1000
     * test inputs' sampling, and above it only by how far a line fitted to
     * 80 noisy points strays from the best one. A constant (E sin^2 = 0.5)
     * or a wrong slope would leave the band. */
    ck_assert_msg(f->err_sin > 0.85 * bias2 && f->err_sin < 1.35 * bias2, "seed %d: error vs sin %g, bias^2 %g",
                  seeds[_i], f->err_sin, bias2);
}
END_TEST

/* Degree 4 follows sin to within its bias^2 (0.005) plus a variance of
 * p/n sigma^2 = 5/80 sigma^2: both errors stay within 1.5 sigma^2 (the
 * training MSE's 3 standard errors, the test MSE's 10), and the test error
 * cannot fall under the noise floor by more than 3 of its standard errors. */
START_TEST(test_poly_fit_degree_4_fits)
{
    table t;
    run_seed(_i, &t);
    const fit *f = &t.row[DEG4];
    ck_assert_msg(f->train < 1.5 * sigma2, "seed %d: train %g", seeds[_i], f->train);
    ck_assert_msg(f->test < 1.5 * sigma2 && f->test > 0.85 * sigma2, "seed %d: test %g", seeds[_i], f->test);
    ck_assert_msg(f->test < t.row[DEG1].test / 2, "seed %d: degree 4 %g, degree 1 %g", seeds[_i], f->test,
                  t.row[DEG1].test);
}
END_TEST

/* "Memorized the noise": the least training error of the three (the
 * degree-4 polynomials are degree-20 ones, so an exact fit cannot do worse),
 * and "terrible on new data". The variance alone, p/n sigma^2 = 21/80
 * sigma^2 against degree 4's 5/80 sigma^2 + bias^2 0.005, makes the test
 * MSE about 1.13 times degree 4's where the samples cover [0, 2 pi] evenly
 * (so > 1.1), and the gaps near the ends make it far more for most seeds;
 * without the noise floor in both (error vs sin), the ratio is > 1.5. */
START_TEST(test_poly_fit_degree_20_overfits)
{
    table t;
    run_seed(_i, &t);
    const fit *d4 = &t.row[DEG4], *d20 = &t.row[DEG20];
    ck_assert_msg(d20->train < d4->train && d4->train < t.row[DEG1].train, "seed %d: train %g %g %g", seeds[_i],
                  t.row[DEG1].train, d4->train, d20->train);
    ck_assert_msg(d20->test > 1.1 * d4->test, "seed %d: test degree 20 %g, degree 4 %g", seeds[_i], d20->test,
                  d4->test);
    ck_assert_msg(d20->err_sin > 1.5 * d4->err_sin, "seed %d: error vs sin degree 20 %g, degree 4 %g", seeds[_i],
                  d20->err_sin, d4->err_sin);
    /* Validation sees it too, without the test set. */
    ck_assert_msg(d20->val > d4->val, "seed %d: val degree 20 %g, degree 4 %g", seeds[_i], d20->val, d4->val);
}
END_TEST

/* "Accept slightly worse training loss for much better generalization":
 * the lambda chosen on validation data (never on the test set) gives degree
 * 20 a test MSE below its unregularized one and within 1.5 times degree
 * 4's; its training MSE is no lower than the unregularized one's, and the
 * training MSE rises with lambda (each larger lambda minimises a loss that
 * penalises the previous solution more). lambda = 1 is too much: it
 * underfits, above 2 sigma^2 like the line. */
START_TEST(test_poly_fit_l2_brings_degree_20_back)
{
    table t;
    run_seed(_i, &t);
    const fit *d4 = &t.row[DEG4], *d20 = &t.row[DEG20], *reg = NULL;
    for (int k = 0; k < N_ROWS; k++)
        if (t.row[k].chosen) {
            ck_assert_msg(reg == NULL, "two rows are marked chosen:\n%s", tg_output);
            ck_assert_msg(k >= FIRST_L2, "the choice is not a regularized row:\n%s", tg_output);
            reg = &t.row[k];
        }
    ck_assert_msg(reg != NULL, "no row is marked chosen:\n%s", tg_output);
    for (int k = FIRST_L2; k < N_ROWS; k++) ck_assert_msg(reg->val <= t.row[k].val, "seed %d: row %d", seeds[_i], k);
    ck_assert_msg(reg->test < d20->test, "seed %d: L2 %g, unregularized %g", seeds[_i], reg->test, d20->test);
    ck_assert_msg(reg->test < 1.5 * d4->test, "seed %d: L2 %g, degree 4 %g", seeds[_i], reg->test, d4->test);
    for (int k = FIRST_L2; k < N_ROWS; k++)
        ck_assert_msg(t.row[k].train >= t.row[k - 1].train - 1e-6, "seed %d: train MSE falls at row %d", seeds[_i], k);
    const fit *strong = &t.row[N_ROWS - 1];
    ck_assert_msg(strong->train > 2 * sigma2 && strong->test > reg->test, "seed %d: lambda %g train %g test %g",
                  seeds[_i], strong->lambda, strong->train, strong->test);
}
END_TEST

/* tg's float32 L-BFGS fits are the least-squares solutions: the same
 * training MSE as the closed form in double to 1e-4 (relative), and the
 * same test MSE to 2 % even where degree 20 swings to hundreds in a gap
 * (the fitted curve there hangs on the weakest direction of F^T F). Over
 * seeds 0-299 the largest differences are 1e-5 and 0.5 %. */
START_TEST(test_poly_fit_matches_the_closed_form)
{
    table t;
    run_seed(_i, &t);
    for (int k = 0; k < N_ROWS; k++) {
        const fit *f = &t.row[k];
        ck_assert_msg(fabs(f->train - f->ref_train) <= 1e-4 * f->ref_train, "seed %d row %d: train %g, closed form %g",
                      seeds[_i], k, f->train, f->ref_train);
        ck_assert_msg(fabs(f->test - f->ref_test) <= 2e-2 * f->ref_test, "seed %d row %d: test %g, closed form %g",
                      seeds[_i], k, f->test, f->ref_test);
    }
}
END_TEST

/* Counts the data lines of path (not starting with '#') and checks each has
 * cols numbers; the numbers of the last line into last. */
static int data_rows(const char *path, int cols, double *last)
{
    char *text = read_file(path, NULL);
    int rows = 0;
    ck_assert_msg(text[0] == '#', "%s has no '#' header", path);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') continue;
        int used = 0, n = 0;
        double v;
        for (char *p = line; sscanf(p, "%lf%n", &v, &used) == 1; p += used) last[n++] = v;
        ck_assert_msg(n == cols, "%s: '%s' has %d columns, expected %d", path, line, n, cols);
        rows++;
    }
    free(text);
    return rows;
}

START_TEST(test_poly_fit_writes_plot_data)
{
    table t;
    run_table(dir, &t);
    char *with_dir = strdup(tg_output);
    ck_assert_ptr_nonnull(with_dir);
    double last[6];
    ck_assert_int_eq(data_rows(in_dir("poly_fit_samples.dat"), 3, last), N_DATA);
    /* The last sample is one of the 20 held out, x in [0, 2 pi]. */
    ck_assert_double_eq(last[2], 1.0);
    ck_assert(last[0] >= 0 && last[0] <= 2 * pi);
    ck_assert_int_eq(data_rows(in_dir("poly_fit_curves.dat"), 6, last), GRID);
    /* The grid ends at 2 pi, where the true curve is sin(2 pi) = 0. */
    ck_assert_close(last[0], 2 * pi, 1e-6, 0);
    ck_assert_close(last[1], 0.0, 0, 1e-6);
    /* Writing the files changes nothing on stdout. */
    ck_assert_int_eq(run_program(example_path("poly_fit"), ""), 0);
    ck_assert_str_eq(tg_output, with_dir);
    free(with_dir);
}
END_TEST

/* Same seed, same bytes, with 1 or 2 threads; another seed, other data. */
START_TEST(test_poly_fit_is_deterministic)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "TG_THREADS=1 %s", example_path("poly_fit"));
    ck_assert_int_eq(run_program(cmd, ""), 0);
    char *first = strdup(tg_output);
    ck_assert_ptr_nonnull(first);
    snprintf(cmd, sizeof cmd, "TG_THREADS=2 %s", example_path("poly_fit"));
    ck_assert_int_eq(run_program(cmd, "--seed 1"), 0);
    ck_assert_str_eq(tg_output, first);
    ck_assert_int_eq(run_program(example_path("poly_fit"), "--seed 2"), 0);
    ck_assert_str_ne(tg_output, first);
    free(first);
}
END_TEST

START_TEST(test_poly_fit_bad_arguments)
{
    const char *bad[] = {"--seed", "--seed x", "--seed -3", "--seed 5x", "--seed ''", "--frobnicate", "a b"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_msg(run_program(example_path("poly_fit"), bad[i]) == 1, "poly_fit %s:\n%s", bad[i], tg_output);
        ck_assert_msg(strstr(tg_output, "usage: poly_fit [--seed N] [DIR]") != NULL, "poly_fit %s:\n%s", bad[i],
                      tg_output);
    }
    ck_assert_int_eq(run_program(example_path("poly_fit"), "--seed -3"), 1);
    ck_assert_ptr_nonnull(strstr(tg_output, "--seed needs an integer from 0 to 2^64 - 1, got '-3'"));
    ck_assert_int_eq(run_program(example_path("poly_fit"), "/nonexistent/dir"), 1);
    ck_assert_ptr_nonnull(strstr(tg_output, "poly_fit: cannot write /nonexistent/dir/poly_fit_samples.dat"));
}
END_TEST

static Suite *generalization_suite(void)
{
    Suite *s = suite_create("lecture_generalization");
    TCase *tc = tcase_create("poly_fit");
    tcase_set_timeout(tc, 120);
    int n_seeds = (int)(sizeof seeds / sizeof *seeds);
    tcase_add_loop_test(tc, test_poly_fit_degree_1_underfits, 0, n_seeds);
    tcase_add_loop_test(tc, test_poly_fit_degree_4_fits, 0, n_seeds);
    tcase_add_loop_test(tc, test_poly_fit_degree_20_overfits, 0, n_seeds);
    tcase_add_loop_test(tc, test_poly_fit_l2_brings_degree_20_back, 0, n_seeds);
    tcase_add_loop_test(tc, test_poly_fit_matches_the_closed_form, 0, n_seeds);
    tcase_add_test(tc, test_poly_fit_is_deterministic);
    tcase_add_test(tc, test_poly_fit_bad_arguments);
    tcase_add_unchecked_fixture(tc, make_root, remove_root);
    tcase_add_checked_fixture(tc, make_dir, remove_dir);
    tcase_add_test(tc, test_poly_fit_writes_plot_data);
    suite_add_tcase(s, tc);
    return s;
}

TG_TEST_MAIN(generalization_suite)
