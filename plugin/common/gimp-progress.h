/* gimp-progress.h — GIMP's progress bar as an AenetPluginProgress, for the
 * front ends only: libgimp 2.10 and 3 have the same progress calls, so
 * this is included (after <libgimp/gimp.h> and process.h) by one file of
 * each front end and compiled against its own libgimp. */
#ifndef AENET_PLUGIN_GIMP_PROGRESS_H
#define AENET_PLUGIN_GIMP_PROGRESS_H

static void
aenet_gimp_progress_start(void *user, const char *text)
{
  gimp_progress_init(text);
}

static void
aenet_gimp_progress_text(void *user, const char *text)
{
  gimp_progress_set_text(text);
}

static void
aenet_gimp_progress_fraction(void *user, double fraction)
{
  gimp_progress_update(fraction);
}

static const AenetPluginProgress aenet_gimp_progress
    = { aenet_gimp_progress_start, aenet_gimp_progress_text, aenet_gimp_progress_fraction, NULL };

#endif
