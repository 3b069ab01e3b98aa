/* test-task.c — adding a task is one row: a toy task ("invert", out =
 * 1 - in, with the shipped strength parameter) is registered, its tiny
 * model written, and the aenet command (in-process, aenet_cli_main) runs
 * it as a subcommand with its options, in both forms, with no other code
 * knowing about it. */
#include "config.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <unistd.h>
#include <string.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "commands.h"
#include "imageio.h"
#include "job.h"
#include "model.h"
#include "testutil.h"

enum { W = 40, H = 30 };

static const AenetTask toy_task = {
  .name = "invert",
  .model_task = "invert",
  .min_scale = 1,
  .max_scale = 1,
  .default_model = "invert",
  .summary = "Invert the colours (a test task)",
  .description = "Inverts images.",
  .progress = "Inverting",
  .metric = AENET_METRIC_NONE,
  .n_params = 1,
  .params = { {
      .kind = AENET_PARAM_STRENGTH,
      .name = "strength",
      .option = "strength",
      .min = 0,
      .max = 1,
      .def = 1,
      .step = 0.05,
      .label = "S_trength:",
      .option_help = "Blend of the original (0) and the result (1)",
      .arg_name = "F",
      .gimp_help = "Blend",
      .range_message = "The strength %g is out of range: give %g to %g.",
  } },
};

static char *dir;

static char *
tpath(const char *name)
{
  return g_build_filename(dir, name, NULL);
}

static void
write_model(void)
{
  GError *error = NULL;
  AenetModel *m = aenet_model_new("invert",
                                  "[{\"op\":\"input\",\"channels\":3},"
                                  "{\"op\":\"conv\",\"out\":3,\"k\":1,\"bias\":true}]",
                                  &error);
  g_assert_no_error(error);
  float *p = aenet_network_get_params(m->network);
  g_assert_cmpuint(aenet_network_get_n_params(m->network), ==, 12);
  memset(p, 0, 12 * sizeof(float));
  for (int o = 0; o < 3; o++) {
    p[o * 3 + o] = -1.0f; /* weight (3, 3, 1, 1) */
    p[9 + o] = 1.0f;      /* bias */
  }
  char *file = tpath("invert.safetensors");
  g_assert_true(aenet_model_save(m, file, &error));
  g_assert_no_error(error);
  g_free(file);
  aenet_model_free(m);
}

static void
write_image(const char *name)
{
  GError *error = NULL;
  AenetImage *im = aenet_image_new(W, H, 3, 8, &error);
  g_assert_no_error(error);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W * 3; x++)
      im->data[y * im->stride + x] = (guint8)((x * 7 + y * 13) % 256);
  char *file = tpath(name);
  g_assert_true(aenet_image_save(im, file, &error));
  g_assert_no_error(error);
  g_free(file);
  aenet_image_free(im);
}

/* Largest difference of the output's 8-bit samples from a * in + b. */
static int
max_error(const char *in_name, const char *out_name, double a, double b)
{
  GError *error = NULL;
  char *fi = tpath(in_name), *fo = tpath(out_name);
  AenetImage *in = aenet_image_load(fi, &error), *out = aenet_image_load(fo, &error);
  g_assert_no_error(error);
  int worst = 0;
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W * 3; x++) {
      double want = a * in->data[y * in->stride + x] + b;
      worst = MAX(worst, (int)ceil(fabs(out->data[y * out->stride + x] - want)));
    }
  aenet_image_free(in);
  aenet_image_free(out);
  g_free(fi);
  g_free(fo);
  return worst;
}

/* aenet ARGS... (NULL-terminated), in this process. */
static int
run_aenet(const char *first, ...)
{
  GPtrArray *args = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(args, g_strdup("aenet"));
  va_list ap;
  va_start(ap, first);
  for (const char *a = first; a != NULL; a = va_arg(ap, const char *))
    g_ptr_array_add(args, g_str_has_prefix(a, "@") ? tpath(a + 1) : g_strdup(a));
  va_end(ap);
  g_ptr_array_add(args, NULL);
  /* The option parser rearranges argv: hand it a copy. */
  char **argv = g_new(char *, args->len);
  memcpy(argv, args->pdata, sizeof(char *) * args->len);
  /* Its messages must not mix with the TAP output on stdout. */
  fflush(stdout);
  int saved = dup(1), null = g_open("/dev/null", O_WRONLY, 0);
  dup2(null, 1);
  int status = aenet_cli_main((int)args->len - 1, argv);
  fflush(stdout);
  dup2(saved, 1);
  close(saved);
  close(null);
  g_free(argv);
  g_ptr_array_unref(args);
  return status;
}

static void
test_toy_command(void)
{
  g_assert_cmpint(run_aenet("invert", "-m", "@invert.safetensors", "@in.png", "@out.png", NULL), ==,
                  0);
  g_assert_cmpint(max_error("in.png", "out.png", -1, 255), <=, 1);
  /* The default model by the row's name, and the row's strength option. */
  g_assert_cmpint(run_aenet("invert", "--strength", "0.5", "@in.png", "@half.png", NULL), ==, 0);
  g_assert_cmpint(max_error("in.png", "half.png", 0, 127.5), <=, 1);
  /* Out of the row's range: a usage error. */
  g_assert_cmpint(run_aenet("invert", "--strength", "2", "@in.png", "@bad.png", NULL), ==, 2);
  char *bad = tpath("bad.png");
  g_assert_false(g_file_test(bad, G_FILE_TEST_EXISTS));
  g_free(bad);
}

static void
test_toy_batch(void)
{
  write_image("second.png");
  g_assert_cmpint(run_aenet("invert", "-o", "@results", "@in.png", "@second.png", NULL), ==, 0);
  g_assert_cmpint(max_error("in.png", "results/in.png", -1, 255), <=, 1);
  g_assert_cmpint(max_error("second.png", "results/second.png", -1, 255), <=, 1);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  dir = test_tmpdir_new();
  g_setenv("AENET_MODEL_PATH", dir, TRUE);
  g_setenv("XDG_DATA_HOME", dir, TRUE);
  GError *error = NULL;
  g_assert_true(aenet_task_register(&toy_task, &error));
  g_assert_no_error(error);
  g_assert_false(aenet_task_register(&toy_task, &error));
  g_clear_error(&error);
  write_model();
  write_image("in.png");
  g_test_add_func("/task/toy/command", test_toy_command);
  g_test_add_func("/task/toy/batch", test_toy_batch);
  int status = g_test_run();
  test_tmpdir_remove(dir);
  g_free(dir);
  return status;
}
