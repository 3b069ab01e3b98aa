#include "cpu.h"

#include <cblas.h>
#include <string.h>
#include <unistd.h>

/* From OpenBLAS; not in every cblas.h. */
extern char *openblas_get_corename(void);

const char *
aenet_cpu_blas_coretype_fix(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
  if (g_getenv("OPENBLAS_CORETYPE") != NULL)
    return NULL;
  const char *core = openblas_get_corename();
  /* Only where OpenBLAS gave up detecting: keep any real detection. */
  if (core == NULL || (strcmp(core, "Prescott") != 0 && strcmp(core, "Core2") != 0))
    return NULL;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
      && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return "Haswell";
#endif
  return NULL;
}

void
aenet_cpu_reexec_with_blas_coretype(char **argv)
{
  const char *core = aenet_cpu_blas_coretype_fix();
  if (core == NULL)
    return;
  g_setenv("OPENBLAS_CORETYPE", core, TRUE);
  execv("/proc/self/exe", argv);
}

void
aenet_cpu_use_own_threads(void)
{
  openblas_set_num_threads(1);
}
