/* dialog.h — the GIMP 2.10 front end's dialog (plain GTK 3): the task's
 * settings, from its row, with a live preview. */
#ifndef AENET_GIMP2_DIALOG_H
#define AENET_GIMP2_DIALOG_H

#include <libgimp/gimp.h>
#include "process.h"

G_BEGIN_DECLS

/* Shows the dialog for a task on a drawable; TRUE when the user pressed
 * OK, with values updated and *estimate the noise level the dialog
 * estimated (0–255) when the level is automatic, else -1. */
gboolean aenet_dialog_run(const AenetTask *task, gint32 image, gint32 drawable, AenetValues *values,
                          double *estimate);

G_END_DECLS

#endif
