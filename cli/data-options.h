/* data-options.h — the options that say what a model trains on: task,
 * images, patch size and the degradations of the inputs. `aenet train`
 * and `aenet degrade` take them alike, so that the pairs written for other
 * trainers are made as a run of aenet train makes them. */
#ifndef AENET_DATA_OPTIONS_H
#define AENET_DATA_OPTIONS_H

#include <glib.h>

#include "train.h"

typedef struct {
  char *task, *data, *sigma, *jpeg;
  int scale, patch;
  gint64 seed;
  double poisson, lr_sigma, unclipped, overstated, cache_mb;
  gboolean photo, photo_jpeg, photo_grain, photo_mottle, per_image;
} AenetDataOptions;

/* Sets the defaults and adds the options to the context's main group. */
void aenet_data_options_add(AenetDataOptions *o, GOptionContext *context);
/* Checks the values (task and scale when given, ranges, what --photo
 * excludes; balance_sigma is aenet train's --balance-sigma) and fills cfg
 * from aenet_train_config_init. FALSE with a G_OPTION_ERROR otherwise. */
gboolean aenet_data_options_apply(const AenetDataOptions *o, gboolean balance_sigma,
                                  AenetTrainConfig *cfg, GError **error);
void aenet_data_options_clear(AenetDataOptions *o);

#endif
