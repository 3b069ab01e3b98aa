/* progress.h — a one-line progress report on the terminal for the aenet
 * command: "Denoising  45%  ETA 12 s", rewritten in place with \r at most
 * ten times a second and finished with a newline.
 *
 * When the stream is not a terminal (a pipe, a log file, a test) nothing is
 * printed at all, so scripts see only the final messages. Strings passed in
 * are already translated. */
#ifndef AENET_PROGRESS_H
#define AENET_PROGRESS_H

#include <stdio.h>
#include <glib.h>

G_BEGIN_DECLS

typedef struct AenetProgress AenetProgress;

/* A progress line on stderr, shown only when stderr is a terminal. */
AenetProgress *aenet_progress_new(const char *label);
/* The same on any stream; force shows it even when stream is not a terminal. */
AenetProgress *aenet_progress_new_full(const char *label, FILE *stream, gboolean force);
void aenet_progress_free(AenetProgress *progress); /* NULL is fine */

/* fraction in [0, 1]; extra is a short text shown after the ETA, or NULL.
 * Redraws at most every 0.1 s, except that reaching 1 always redraws. */
void aenet_progress_update(AenetProgress *progress, double fraction, const char *extra);
/* Matches AenetTilerOptions.progress; user is the AenetProgress. */
void aenet_progress_tiler_callback(void *user, double fraction);
/* Ends the line with a newline if anything was drawn. Safe to call twice. */
void aenet_progress_finish(AenetProgress *progress);
/* Ends the line without a newline and wipes it, e.g. before an error message. */
void aenet_progress_clear(AenetProgress *progress);

/* A duration for people: "0.35 s", "12 s", "3 min 05 s", "2 h 10 min"
 * (free with g_free). */
char *aenet_progress_format_duration(double seconds);

G_END_DECLS

#endif
