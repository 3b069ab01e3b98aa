/* rng.h — a small seeded random number generator (xoshiro256**) whose whole
 * state is four integers, so training can save it in a checkpoint and
 * resume the same sequence. Not for cryptography. */
#ifndef AENET_RNG_H
#define AENET_RNG_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  guint64 s[4];
} AenetRng;

void aenet_rng_init(AenetRng *rng, guint64 seed);
guint64 aenet_rng_next(AenetRng *rng);
/* Uniform in [0, 1). */
double aenet_rng_uniform(AenetRng *rng);
/* Uniform integer in [0, n), n > 0. */
guint64 aenet_rng_below(AenetRng *rng, guint64 n);
/* Standard normal (Box–Muller, no cached second value). */
double aenet_rng_normal(AenetRng *rng);

G_END_DECLS

#endif
