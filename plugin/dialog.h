/* dialog.h — the plug-in's settings, kept between runs with gimp_set_data,
 * and the GTK 3 dialog that edits them. */
#ifndef AENET_PLUGIN_DIALOG_H
#define AENET_PLUGIN_DIALOG_H

#include <libgimp/gimp.h>

G_BEGIN_DECLS

#define AENET_DENOISE_PROC "plug-in-aenet-denoise"
#define AENET_UPSCALE_PROC "plug-in-aenet-upscale"

/* Plain data (no pointers): stored as bytes by gimp_set_data. */
typedef struct {
  char model[1024];   /* name or path; "" = the shipped default */
  double noise_level; /* sigma on 0–255; negative = estimate */
  double strength;    /* 0–1 */
  int scale;          /* 2, 3 or 4 */
  int output;         /* an AenetOutput */
} AenetValues;

void aenet_values_init_denoise(AenetValues *values);
void aenet_values_init_upscale(AenetValues *values);

/* Shows the dialog for a procedure on a drawable; TRUE when the user
 * pressed OK, with values updated. */
gboolean aenet_dialog_run(const char *procedure, gint32 image, gint32 drawable,
                          AenetValues *values);

G_END_DECLS

#endif
