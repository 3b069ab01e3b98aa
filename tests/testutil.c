#include "testutil.h"

#include <glib/gstdio.h>
#include <math.h>

#include "cpu.h"

/* Tests run OpenBLAS with the kernels the programs use (see cpu.h). glibc
 * hands constructors the program's arguments, so no test needs to ask. */
__attribute__((constructor)) static void
test_select_blas_kernels(int argc, char **argv, char **envp)
{
  aenet_cpu_reexec_with_blas_coretype(argv);
}

void
test_fill_uniform(float *x, gsize n, AenetRng *rng, float lo, float hi)
{
  for (gsize i = 0; i < n; i++)
    x[i] = lo + (hi - lo) * (float)aenet_rng_uniform(rng);
}

double
test_max_abs_diff(const float *a, const float *b, gsize n)
{
  double worst = 0.0;
  for (gsize i = 0; i < n; i++) {
    double d = fabs((double)a[i] - (double)b[i]);
    if (!(d <= worst)) /* also catches NaN */
      worst = isnan(d) ? INFINITY : d;
  }
  return worst;
}

char *
test_shared_data_path(const char *rel)
{
  const char *root = g_getenv("AENET_SHARED_DATA");
  if (root == NULL || *root == '\0')
    return NULL;
  char *path = g_build_filename(root, rel, NULL);
  if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
    g_free(path);
    return NULL;
  }
  return path;
}

char *
test_tmpdir_new(void)
{
  GError *error = NULL;
  char *dir = g_dir_make_tmp("aenet-test-XXXXXX", &error);
  g_assert_no_error(error);
  return dir;
}

static void
remove_tree(const char *path)
{
  if (g_file_test(path, G_FILE_TEST_IS_DIR) && !g_file_test(path, G_FILE_TEST_IS_SYMLINK)) {
    GDir *d = g_dir_open(path, 0, NULL);
    const char *name;
    while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
      char *child = g_build_filename(path, name, NULL);
      remove_tree(child);
      g_free(child);
    }
    if (d != NULL)
      g_dir_close(d);
    g_rmdir(path);
  } else
    g_unlink(path);
}

void
test_tmpdir_remove(const char *dir)
{
  if (dir != NULL)
    remove_tree(dir);
}
