/* tg_test.h — what every test file shares: Check, tg, and comparisons that
 * say which element differs and by how much. */
#ifndef TG_TEST_H
#define TG_TEST_H

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <tg.h>

/* |a - b| <= atol + rtol |b|; NaN matches only NaN, inf only the same inf. */
static inline int tg_test_close(double a, double b, double rtol, double atol)
{
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    if (isinf(a) || isinf(b)) return a == b;
    return fabs(a - b) <= atol + rtol * fabs(b);
}

#define ck_assert_close(a, b, rtol, atol)                                                          \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        ck_assert_msg(tg_test_close(a_, b_, rtol, atol), "%s = %.9g, expected %s = %.9g", #a, a_, \
                      #b, b_);                                                                     \
    } while (0)

/* Every element of got (n floats) close to want; reports the first miss. */
#define ck_assert_close_array(got, want, n, rtol, atol)                                            \
    do {                                                                                           \
        const float *g_ = (got), *w_ = (want);                                                     \
        for (size_t i_ = 0; i_ < (size_t)(n); i_++)                                                \
            ck_assert_msg(tg_test_close(g_[i_], w_[i_], rtol, atol),                               \
                          "%s[%zu] = %.9g, expected %.9g (%s)", #got, i_, (double)g_[i_],          \
                          (double)w_[i_], #want);                                                  \
    } while (0)

/* The last error message (tg_last_error) mentions s. */
#define ck_assert_error_has(s)                                                                     \
    ck_assert_msg(strstr(tg_last_error(), (s)) != NULL, "message \"%s\" does not contain \"%s\"",  \
                  tg_last_error(), (s))

/* A tensor's shape equals the listed sizes. */
#define ck_assert_shape(t, ...)                                                                    \
    do {                                                                                           \
        const int want_[] = {__VA_ARGS__};                                                         \
        int nd_ = (int)(sizeof want_ / sizeof want_[0]);                                           \
        ck_assert_ptr_nonnull(t);                                                                  \
        ck_assert_int_eq((t)->ndim, nd_);                                                          \
        for (int d_ = 0; d_ < nd_; d_++) ck_assert_int_eq((t)->shape[d_], want_[d_]);              \
    } while (0)

/* main() of a test program: runs the suite, fails when any test fails. */
#define TG_TEST_MAIN(make_suite)                                                                   \
    int main(void)                                                                                 \
    {                                                                                              \
        SRunner *sr = srunner_create(make_suite());                                                \
        srunner_run_all(sr, CK_NORMAL);                                                            \
        int failed = srunner_ntests_failed(sr);                                                    \
        srunner_free(sr);                                                                          \
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;                                               \
    }

#endif /* TG_TEST_H */
