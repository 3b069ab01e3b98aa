/* rng.c — xoshiro256** seeded through splitmix64 (Blackman & Vigna). */
#include "rng.h"

#include <math.h>

static guint64
splitmix64(guint64 *x)
{
  guint64 z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void
aenet_rng_init(AenetRng *rng, guint64 seed)
{
  for (int i = 0; i < 4; i++)
    rng->s[i] = splitmix64(&seed);
}

static inline guint64
rotl(guint64 x, int k)
{
  return (x << k) | (x >> (64 - k));
}

guint64
aenet_rng_next(AenetRng *rng)
{
  guint64 *s = rng->s;
  guint64 result = rotl(s[1] * 5, 7) * 9;
  guint64 t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double
aenet_rng_uniform(AenetRng *rng)
{
  return (aenet_rng_next(rng) >> 11) * 0x1.0p-53;
}

guint64
aenet_rng_below(AenetRng *rng, guint64 n)
{
  /* Rejection keeps the result unbiased for any n. */
  guint64 limit = G_MAXUINT64 - G_MAXUINT64 % n;
  guint64 x;
  do
    x = aenet_rng_next(rng);
  while (x >= limit);
  return x % n;
}

double
aenet_rng_normal(AenetRng *rng)
{
  double u1 = 1.0 - aenet_rng_uniform(rng); /* (0, 1], so log is finite */
  double u2 = aenet_rng_uniform(rng);
  return sqrt(-2.0 * log(u1)) * cos(2.0 * G_PI * u2);
}
