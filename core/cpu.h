/* cpu.h — picking OpenBLAS's kernels on processors it does not know.
 *
 * Debian 12's OpenBLAS (0.3.21) does not recognise recent Intel processors
 * and falls back to its oldest kernels, three to four times slower. It
 * reads OPENBLAS_CORETYPE only when it is loaded, so a program that wants
 * the right kernels sets the variable and starts itself again: see
 * aenet_cpu_reexec_with_blas_coretype. */
#ifndef AENET_CPU_H
#define AENET_CPU_H

#include <glib.h>

G_BEGIN_DECLS

/* The OPENBLAS_CORETYPE this processor should use, when OpenBLAS fell back
 * to a generic core and the variable is not set already; otherwise NULL. */
const char *aenet_cpu_blas_coretype_fix(void);

/* When a fix applies, sets OPENBLAS_CORETYPE and replaces the process with
 * a new run of the same executable and arguments. Returns only when no fix
 * applies or the new run could not start (then work goes on, slower). */
void aenet_cpu_reexec_with_blas_coretype(char **argv);

/* The threading rule: the engine runs its own threads over tiles, each
 * calling BLAS on small blocks, so BLAS itself must use one thread (its
 * threads on top of ours oversubscribe the cores). Every front end gets
 * this through aenet_job_new; training calls it directly. */
void aenet_cpu_use_own_threads(void);

G_END_DECLS

#endif
