/* error.h — the engine's error domain.
 *
 * The engine never prints and never exits: every function that can fail
 * takes a GError ** last and returns FALSE/NULL/-1 with the error set.
 * Messages name the file or the value that was wrong, in words a user
 * understands; the command and the plug-in show them as they are. */
#ifndef AENET_ERROR_H
#define AENET_ERROR_H

#include <glib.h>

G_BEGIN_DECLS

#define AENET_ERROR (aenet_error_quark())

typedef enum {
  AENET_ERROR_IO,        /* a file could not be read or written */
  AENET_ERROR_FORMAT,    /* a file is corrupt or not what it claims to be */
  AENET_ERROR_MODEL,     /* a model is valid but unusable for this job */
  AENET_ERROR_INVALID,   /* a bad argument or option */
  AENET_ERROR_NOMEM,     /* an allocation failed or would exceed a limit */
  AENET_ERROR_CANCELLED, /* the caller's cancel flag stopped the work */
} AenetErrorCode;

GQuark aenet_error_quark(void);

G_END_DECLS

#endif
