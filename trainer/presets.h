/* presets.h — the network architectures the trainer offers (--arch NAME),
 * as graph descriptions (see network.h). */
#ifndef AENET_PRESETS_H
#define AENET_PRESETS_H

#include <glib.h>

G_BEGIN_DECLS

/* What the levels of a denoiser's U-Net are built of (see presets.c). */
typedef enum {
  AENET_BLOCK_CONV_RELU, /* a 3×3 convolution and a ReLU */
  AENET_BLOCK_NAF,       /* NAFNet's block and its feed-forward network */
  AENET_BLOCK_RES,       /* EDSR's residual block (upscalers) */
} AenetBlockKind;

typedef struct {
  const char *name;        /* "unet-denoise", "unet-x2", ... */
  const char *task;        /* "denoise" or "upscale" */
  int scale;               /* 1 for denoise */
  const char *description; /* one line for --help and aenet info */
  /* The graph: widths at the first and the deeper levels; for denoisers,
   * the kind of their blocks, how many there are at 1/2 and at 1/4
   * resolution (on each side) and at 1/8, and whether the denoiser is
   * blind (takes no noise level); for upscalers of residual blocks, how
   * many at the input's resolution (on each side) and at 1/2. */
  int width_first, width;
  AenetBlockKind block;
  int blocks[3];
  gboolean blind;
  /* U-Nets: EDSR's residual blocks added last in the deepest level, where
   * a shallower network grown into this one (--deepen-from) has no layer
   * of their shape, so they start as identities. */
  int deepest_res_blocks;
} AenetPreset;

/* All presets, terminated by an entry whose name is NULL. */
const AenetPreset *aenet_presets_get(void);
/* The preset for a name, or NULL with error set. */
const AenetPreset *aenet_preset_find(const char *name, GError **error);
/* The default preset for a task and scale, or NULL with error set. */
const AenetPreset *aenet_preset_find_default(const char *task, int scale, GError **error);
/* Its graph as JSON (free with g_free). */
char *aenet_preset_build_graph(const AenetPreset *preset);

G_END_DECLS

#endif
