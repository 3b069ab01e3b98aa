/* messages.h — how the aenet command talks to the user.
 *
 * Messages are written in UTF-8 with one style: “curly quotes” around
 * names and values, … for an ellipsis, × for a factor. Where the terminal
 * cannot show UTF-8 (LANG unset: the C locale's ASCII), they are written
 * with ASCII look-alikes ("quotes", ..., x) instead of the question marks
 * GLib's conversion would print. */
#ifndef AENET_MESSAGES_H
#define AENET_MESSAGES_H

#include <glib.h>

G_BEGIN_DECLS

/* Installs the print handlers for g_print and g_printerr. */
void aenet_messages_init(void);
/* The text as the terminal can show it: itself in a UTF-8 locale, else
 * ASCII look-alikes (free with g_free). */
char *aenet_messages_for_terminal(const char *utf8, gboolean utf8_terminal);
/* "aenet: MESSAGE\n" on stderr. */
void aenet_print_error(const char *format, ...) G_GNUC_PRINTF(1, 2);

G_END_DECLS

#endif
