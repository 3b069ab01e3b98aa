/* testutil.h — helpers shared by the test programs. */
#ifndef AENET_TESTUTIL_H
#define AENET_TESTUTIL_H

#include <glib.h>
#include "rng.h"

/* Fills n floats uniformly in [lo, hi). */
void test_fill_uniform(float *x, gsize n, AenetRng *rng, float lo, float hi);
/* Largest absolute difference between two arrays. */
double test_max_abs_diff(const float *a, const float *b, gsize n);
/* Path to ../shared/data/<rel>, or NULL (and the test is skipped by the
 * caller) when the shared data is not there. Free with g_free. */
char *test_shared_data_path(const char *rel);
/* A new temporary folder for this test (removed by test_tmpdir_remove). */
char *test_tmpdir_new(void);
void test_tmpdir_remove(const char *dir);

#endif
