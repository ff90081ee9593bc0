/*
 * test.h — a minimal test harness (one binary per test file, run by ctest).
 *
 *   TEST(name) { CHECK(x == 1); CHECK_NEAR(a, b, tol); }
 *   int main(void) { RUN(name); return test_summary(); }
 *
 * Every failed check prints file:line and the values involved; the summary
 * line "N passed, N failed" counts tests (a test passes when all its checks do).
 */
#ifndef ASIARCH_TEST_H
#define ASIARCH_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int test_failed_checks, test_passed, test_failed;

#define TEST(name) static void test_##name(void)
#define RUN(name)                                                                  \
    do {                                                                           \
        int before_ = test_failed_checks;                                          \
        test_##name();                                                             \
        if (test_failed_checks == before_) { test_passed++; }                      \
        else { test_failed++; fprintf(stderr, "FAIL %s\n", #name); }               \
    } while (0)

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);\
            test_failed_checks++;                                                  \
        }                                                                          \
    } while (0)

#define CHECK_MSG(cond, ...)                                                       \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);\
            fprintf(stderr, __VA_ARGS__);                                          \
            fputc('\n', stderr);                                                   \
            test_failed_checks++;                                                  \
        }                                                                          \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                      \
    do {                                                                           \
        double a_ = (a), b_ = (b);                                                 \
        if (!(fabs(a_ - b_) <= (tol))) {                                           \
            fprintf(stderr, "%s:%d: %s = %.9g, %s = %.9g, |diff| %.3g > %.3g\n",   \
                    __FILE__, __LINE__, #a, a_, #b, b_, fabs(a_ - b_), (double)(tol));\
            test_failed_checks++;                                                  \
        }                                                                          \
    } while (0)

#define CHECK_STR_CONTAINS(hay, needle)                                            \
    do {                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                    \
        if (!h_ || !strstr(h_, n_)) {                                              \
            fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__,     \
                    __LINE__, h_ ? h_ : "(null)", n_);                             \
            test_failed_checks++;                                                  \
        }                                                                          \
    } while (0)

static inline int test_summary(void)
{
    printf("%d passed, %d failed\n", test_passed, test_failed);
    return test_failed ? 1 : 0;
}

/* Max |a-b| / (|b| + floor) over n elements; index of the worst in *at. */
static inline double test_max_rel_err(const float *a, const float *b, size_t n, double floor,
                                      size_t *at)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]) / (fabs((double)b[i]) + floor);
        if (e > worst || e != e) { worst = e; if (at) *at = i; if (e != e) return e; }
    }
    return worst;
}

#endif /* ASIARCH_TEST_H */
