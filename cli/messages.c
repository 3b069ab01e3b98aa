/* messages.c — the command's messages on any terminal (see messages.h). */
#include "config.h"

#include "messages.h"

#include <stdio.h>
#include <string.h>

/* Symbols GLib's ASCII transliteration does not know. */
static const char *const extra_ascii[][2] = {
  { "▸", ">" },
  { "σ", "sigma" },
};

char *
aenet_messages_for_terminal(const char *utf8, gboolean utf8_terminal)
{
  if (utf8_terminal || !g_utf8_validate(utf8, -1, NULL))
    return g_strdup(utf8);
  GString *s = g_string_new(utf8);
  for (gsize i = 0; i < G_N_ELEMENTS(extra_ascii); i++)
    g_string_replace(s, extra_ascii[i][0], extra_ascii[i][1], 0);
  char *ascii = g_str_to_ascii(s->str, "C");
  g_string_free(s, TRUE);
  return ascii;
}

static void
write_to(FILE *stream, const char *text)
{
  const char *charset;
  char *shown = aenet_messages_for_terminal(text, g_get_charset(&charset));
  fputs(shown, stream);
  fflush(stream);
  g_free(shown);
}

static void
print_out(const char *text)
{
  write_to(stdout, text);
}

static void
print_err(const char *text)
{
  write_to(stderr, text);
}

void
aenet_messages_init(void)
{
  g_set_print_handler(print_out);
  g_set_printerr_handler(print_err);
}

void
aenet_print_error(const char *format, ...)
{
  va_list ap;
  va_start(ap, format);
  char *message = g_strdup_vprintf(format, ap);
  va_end(ap);
  g_printerr("aenet: %s\n", message);
  g_free(message);
}
