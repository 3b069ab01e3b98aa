/* progress.c — the terminal progress line of the aenet command. */
#include "config.h"

#include "progress.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#define PROGRESS_INTERVAL 0.1  /* seconds between redraws: at most 10 Hz */
#define PROGRESS_ETA_AFTER 1.0 /* seconds before an ETA is worth showing */

struct AenetProgress {
  char *label;
  FILE *stream;
  gboolean enabled;
  gint64 start;      /* monotonic µs */
  gint64 last_draw;  /* monotonic µs of the last redraw, 0 = never */
  gsize last_length; /* characters drawn last time, to wipe leftovers */
  gboolean drawn;    /* something is on the line now */
};

AenetProgress *
aenet_progress_new_full(const char *label, FILE *stream, gboolean force)
{
  AenetProgress *p = g_new0(AenetProgress, 1);
  p->label = g_strdup(label != NULL ? label : "");
  p->stream = stream;
  p->enabled = stream != NULL && (force || isatty(fileno(stream)));
  p->start = g_get_monotonic_time();
  return p;
}

AenetProgress *
aenet_progress_new(const char *label)
{
  return aenet_progress_new_full(label, stderr, FALSE);
}

void
aenet_progress_free(AenetProgress *progress)
{
  if (progress == NULL)
    return;
  aenet_progress_finish(progress);
  g_free(progress->label);
  g_free(progress);
}

char *
aenet_progress_format_duration(double seconds)
{
  if (!isfinite(seconds) || seconds < 0)
    seconds = 0;
  if (seconds < 10)
    return g_strdup_printf(_("%.2f s"), seconds);
  long s = lround(seconds);
  if (s < 60)
    return g_strdup_printf(_("%ld s"), s);
  if (s < 3600)
    return g_strdup_printf(_("%ld min %02ld s"), s / 60, s % 60);
  return g_strdup_printf(_("%ld h %02ld min"), s / 3600, (s % 3600) / 60);
}

/* The ETA rounded to whole seconds: hundredths would flicker. */
static char *
format_eta(double seconds)
{
  if (seconds < 60)
    return g_strdup_printf(_("%ld s"), MAX(1L, lround(seconds)));
  return aenet_progress_format_duration(seconds);
}

void
aenet_progress_update(AenetProgress *progress, double fraction, const char *extra)
{
  if (progress == NULL || !progress->enabled)
    return;
  if (!(fraction >= 0))
    fraction = 0;
  if (fraction > 1)
    fraction = 1;

  gint64 now = g_get_monotonic_time();
  if (fraction < 1 && progress->last_draw != 0
      && (now - progress->last_draw) < (gint64)(PROGRESS_INTERVAL * G_USEC_PER_SEC))
    return;
  progress->last_draw = now;

  double elapsed = (now - progress->start) / (double)G_USEC_PER_SEC;
  GString *line = g_string_new(progress->label);
  g_string_append_printf(line, "  %3d%%", (int)floor(fraction * 100));
  if (fraction > 0 && fraction < 1 && elapsed >= PROGRESS_ETA_AFTER) {
    char *eta = format_eta(elapsed * (1 - fraction) / fraction);
    /* TRANSLATORS: estimated time left, e.g. "ETA 12 s". */
    g_string_append_printf(line, _("  ETA %s"), eta);
    g_free(eta);
  }
  if (extra != NULL && *extra != '\0')
    g_string_append_printf(line, "  %s", extra);

  gsize length = g_utf8_strlen(line->str, -1);
  /* Spaces over what the previous, longer line left behind. */
  for (gsize i = length; i < progress->last_length; i++)
    g_string_append_c(line, ' ');
  progress->last_length = length;

  fprintf(progress->stream, "\r%s", line->str);
  fflush(progress->stream);
  progress->drawn = TRUE;
  g_string_free(line, TRUE);
}

void
aenet_progress_tiler_callback(void *user, double fraction)
{
  aenet_progress_update(user, fraction, NULL);
}

void
aenet_progress_finish(AenetProgress *progress)
{
  if (progress == NULL || !progress->drawn)
    return;
  fputc('\n', progress->stream);
  fflush(progress->stream);
  progress->drawn = FALSE;
  progress->last_length = 0;
}

void
aenet_progress_clear(AenetProgress *progress)
{
  if (progress == NULL || !progress->drawn)
    return;
  fputc('\r', progress->stream);
  for (gsize i = 0; i < progress->last_length; i++)
    fputc(' ', progress->stream);
  fputc('\r', progress->stream);
  fflush(progress->stream);
  progress->drawn = FALSE;
  progress->last_length = 0;
}
