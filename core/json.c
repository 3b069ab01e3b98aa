/* json.c — a strict RFC 8259 reader and a string escaper.
 *
 * The reader is recursive descent over a buffer with an explicit length.
 * Beyond the RFC it refuses what a model file never needs and an attacker
 * could abuse: nesting deeper than JSON_MAX_DEPTH, numbers that overflow a
 * double, and the NUL character (\u0000) in strings, since strings are
 * handed out NUL-terminated and an embedded NUL would make two different
 * keys look the same. Errors give the byte offset of the problem. */
#include "config.h"

#include "json.h"

#include <glib/gi18n-lib.h>
#include <math.h>
#include <string.h>

#include "error.h"

#define JSON_MAX_DEPTH 64
/* Objects with more members than this get a hash index for look-ups and
 * for the duplicate-key check, so large headers stay linear. */
#define JSON_INDEX_THRESHOLD 8

struct AenetJson {
  AenetJsonType type;
  union {
    gboolean boolean;
    double number;
    char *string;
    struct {
      AenetJson **items; /* n values */
      char **keys;       /* n keys for objects, NULL for arrays */
      guint n;
      GHashTable *index; /* key -> value, objects above the threshold only */
    } c;
  } u;
};

typedef struct {
  const char *text;
  gsize length;
  gsize pos;
  GError **error;
} Parser;

static AenetJson *parse_value(Parser *p, int depth);

static gboolean G_GNUC_PRINTF(3, 4) fail_at(Parser *p, gsize offset, const char *format, ...)
{
  va_list args;
  char *message;

  va_start(args, format);
  message = g_strdup_vprintf(format, args);
  va_end(args);
  g_set_error(p->error, AENET_ERROR, AENET_ERROR_FORMAT,
              /* TRANSLATORS: %zu is where the problem is in the JSON text, counted in bytes from
                 its start; %s says what is wrong there. */
              _("JSON error at byte %zu: %s"), offset, message);
  g_free(message);
  return FALSE;
}

/* Describes the byte at pos for messages: "end of input" or the character. */
static char *
describe_at(Parser *p, gsize pos)
{
  guchar c;

  if (pos >= p->length)
    /* TRANSLATORS: fills %s in the JSON messages such as “expected “:” after a key, found %s”. */
    return g_strdup(_("the end of the input"));
  c = (guchar)p->text[pos];
  if (c >= 0x20 && c < 0x7f)
    /* TRANSLATORS: a character of the JSON text, in quotation marks. */
    return g_strdup_printf(_("“%c”"), c);
  /* TRANSLATORS: a byte of the JSON text that is not a printable character, in hexadecimal. */
  return g_strdup_printf(_("byte 0x%02x"), c);
}

static void
skip_space(Parser *p)
{
  while (p->pos < p->length) {
    char c = p->text[p->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
      break;
    p->pos++;
  }
}

static AenetJson *
value_new(AenetJsonType type)
{
  AenetJson *v = g_new0(AenetJson, 1);
  v->type = type;
  return v;
}

void
aenet_json_free(AenetJson *value)
{
  if (value == NULL)
    return;
  switch (value->type) {
  case AENET_JSON_STRING:
    g_free(value->u.string);
    break;
  case AENET_JSON_ARRAY:
  case AENET_JSON_OBJECT:
    for (guint i = 0; i < value->u.c.n; i++) {
      aenet_json_free(value->u.c.items[i]);
      if (value->u.c.keys != NULL)
        g_free(value->u.c.keys[i]);
    }
    g_free(value->u.c.items);
    g_free(value->u.c.keys);
    if (value->u.c.index != NULL)
      g_hash_table_unref(value->u.c.index);
    break;
  default:
    break;
  }
  g_free(value);
}

static gboolean
match_literal(Parser *p, const char *word)
{
  gsize n = strlen(word);
  if (p->length - p->pos < n || memcmp(p->text + p->pos, word, n) != 0)
    return FALSE;
  p->pos += n;
  return TRUE;
}

static int
hex_digit(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Reads the 4 hex digits of a \u escape at p->pos into *unit. */
static gboolean
read_hex4(Parser *p, guint *unit)
{
  guint u = 0;
  for (int i = 0; i < 4; i++) {
    int d = p->pos + i < p->length ? hex_digit(p->text[p->pos + i]) : -1;
    if (d < 0)
      return fail_at(p, p->pos + i, _("a \\u escape needs four hexadecimal digits"));
    u = (u << 4) | (guint)d;
  }
  p->pos += 4;
  *unit = u;
  return TRUE;
}

/* Decodes one UTF-8 sequence at p->pos, rejecting overlong forms, surrogates
 * and code points above U+10FFFF; copies it to out. */
static gboolean
copy_utf8(Parser *p, GString *out)
{
  const guchar *s = (const guchar *)p->text + p->pos;
  gsize left = p->length - p->pos;
  guchar c = s[0];
  gsize n;
  gunichar cp, min;

  if (c >= 0xc2 && c <= 0xdf) {
    n = 2, cp = c & 0x1f, min = 0x80;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3, cp = c & 0x0f, min = 0x800;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return fail_at(p, p->pos, _("invalid UTF-8 (byte 0x%02x)"), c);
  }
  if (left < n)
    return fail_at(p, p->pos, _("invalid UTF-8 (sequence cut short by the end of the input)"));
  for (gsize i = 1; i < n; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return fail_at(p, p->pos + i, _("invalid UTF-8 (byte 0x%02x)"), s[i]);
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return fail_at(p, p->pos, _("invalid UTF-8 (overlong form, surrogate or out of range)"));
  g_string_append_len(out, (const char *)s, (gssize)n);
  p->pos += n;
  return TRUE;
}

/* Parses a string literal at p->pos (on the opening quote); returns it
 * newly allocated, or NULL with the error set. */
static char *
parse_string(Parser *p)
{
  gsize start = p->pos;
  GString *out = g_string_new(NULL);

  p->pos++; /* the opening quote */
  for (;;) {
    guchar c;

    if (p->pos >= p->length) {
      fail_at(p, start, _("unterminated string"));
      goto error;
    }
    c = (guchar)p->text[p->pos];
    if (c == '"') {
      p->pos++;
      return g_string_free(out, FALSE);
    } else if (c < 0x20) {
      fail_at(p, p->pos, _("control character 0x%02x in a string (it must be escaped)"), c);
      goto error;
    } else if (c >= 0x80) {
      if (!copy_utf8(p, out))
        goto error;
    } else if (c != '\\') {
      g_string_append_c(out, (char)c);
      p->pos++;
    } else {
      gsize esc = p->pos;
      char e;

      if (p->pos + 1 >= p->length) {
        fail_at(p, start, _("unterminated string"));
        goto error;
      }
      e = p->text[p->pos + 1];
      p->pos += 2;
      switch (e) {
      case '"':
        g_string_append_c(out, '"');
        break;
      case '\\':
        g_string_append_c(out, '\\');
        break;
      case '/':
        g_string_append_c(out, '/');
        break;
      case 'b':
        g_string_append_c(out, '\b');
        break;
      case 'f':
        g_string_append_c(out, '\f');
        break;
      case 'n':
        g_string_append_c(out, '\n');
        break;
      case 'r':
        g_string_append_c(out, '\r');
        break;
      case 't':
        g_string_append_c(out, '\t');
        break;
      case 'u': {
        guint unit = 0, low = 0;
        gunichar cp;

        if (!read_hex4(p, &unit))
          goto error;
        if (unit >= 0xdc00 && unit <= 0xdfff) {
          fail_at(p, esc, _("lone low surrogate \\u%04x"), unit);
          goto error;
        }
        if (unit >= 0xd800 && unit <= 0xdbff) {
          /* A high surrogate must be followed by an escaped low one. */
          if (p->length - p->pos < 2 || p->text[p->pos] != '\\' || p->text[p->pos + 1] != 'u') {
            fail_at(p, esc, _("lone high surrogate \\u%04x"), unit);
            goto error;
          }
          p->pos += 2;
          if (!read_hex4(p, &low))
            goto error;
          if (low < 0xdc00 || low > 0xdfff) {
            fail_at(p, esc, _("high surrogate \\u%04x not followed by a low surrogate"), unit);
            goto error;
          }
          cp = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
        } else {
          cp = unit;
        }
        if (cp == 0) {
          fail_at(p, esc, _("the NUL character (\\u0000) is not allowed in strings"));
          goto error;
        }
        g_string_append_unichar(out, cp);
        break;
      }
      default: {
        char *what = describe_at(p, esc + 1);
        /* TRANSLATORS: %s is a quoted character, “byte 0x…” or “the end of the input”. */
        fail_at(p, esc, _("invalid escape: backslash followed by %s"), what);
        g_free(what);
        goto error;
      }
      }
    }
  }

error:
  g_string_free(out, TRUE);
  return NULL;
}

static gboolean
is_digit(Parser *p, gsize pos)
{
  return pos < p->length && p->text[pos] >= '0' && p->text[pos] <= '9';
}

/* Checks the number grammar, then converts with g_ascii_strtod, which does
 * not depend on the locale. */
static AenetJson *
parse_number(Parser *p)
{
  gsize start = p->pos, pos = p->pos;
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  char *copy, *end;
  double x;
  AenetJson *v;

  if (pos < p->length && p->text[pos] == '-')
    pos++;
  if (!is_digit(p, pos)) {
    fail_at(p, pos, _("a number needs a digit here"));
    return NULL;
  }
  if (p->text[pos] == '0') {
    pos++;
    if (is_digit(p, pos)) {
      fail_at(p, start, _("numbers may not have leading zeros"));
      return NULL;
    }
  } else {
    while (is_digit(p, pos))
      pos++;
  }
  if (pos < p->length && p->text[pos] == '.') {
    pos++;
    if (!is_digit(p, pos)) {
      fail_at(p, pos, _("a digit must follow the decimal point"));
      return NULL;
    }
    while (is_digit(p, pos))
      pos++;
  }
  if (pos < p->length && (p->text[pos] == 'e' || p->text[pos] == 'E')) {
    pos++;
    if (pos < p->length && (p->text[pos] == '+' || p->text[pos] == '-'))
      pos++;
    if (!is_digit(p, pos)) {
      fail_at(p, pos, _("a digit must follow the exponent mark"));
      return NULL;
    }
    while (is_digit(p, pos))
      pos++;
  }

  /* The text is not NUL-terminated: convert a copy. */
  if (pos - start < sizeof buf) {
    memcpy(buf, p->text + start, pos - start);
    buf[pos - start] = '\0';
    copy = buf;
  } else {
    copy = g_strndup(p->text + start, pos - start);
  }
  x = g_ascii_strtod(copy, &end);
  if (copy != buf)
    g_free(copy);
  if (!isfinite(x)) {
    fail_at(p, start, _("number too large"));
    return NULL;
  }
  p->pos = pos;
  v = value_new(AENET_JSON_NUMBER);
  v->u.number = x;
  return v;
}

static const AenetJson *
object_lookup(const AenetJson *obj, const char *key)
{
  if (obj->u.c.index != NULL)
    return g_hash_table_lookup(obj->u.c.index, key);
  for (guint i = 0; i < obj->u.c.n; i++)
    if (strcmp(obj->u.c.keys[i], key) == 0)
      return obj->u.c.items[i];
  return NULL;
}

/* Containers grow their item arrays by doubling; capacity tracked by the
 * parser, the value keeps only the count. */
static void
container_push(AenetJson *v, guint *capacity, char *key, AenetJson *item)
{
  if (v->u.c.n == *capacity) {
    *capacity = *capacity ? *capacity * 2 : 4;
    v->u.c.items = g_renew(AenetJson *, v->u.c.items, *capacity);
    if (v->type == AENET_JSON_OBJECT)
      v->u.c.keys = g_renew(char *, v->u.c.keys, *capacity);
  }
  v->u.c.items[v->u.c.n] = item;
  if (v->type == AENET_JSON_OBJECT) {
    v->u.c.keys[v->u.c.n] = key;
    if (v->u.c.index != NULL) {
      g_hash_table_insert(v->u.c.index, key, item);
    } else if (v->u.c.n + 1 > JSON_INDEX_THRESHOLD) {
      v->u.c.index = g_hash_table_new(g_str_hash, g_str_equal);
      for (guint i = 0; i <= v->u.c.n; i++)
        g_hash_table_insert(v->u.c.index, v->u.c.keys[i], v->u.c.items[i]);
    }
  }
  v->u.c.n++;
}

static AenetJson *
parse_array(Parser *p, int depth)
{
  AenetJson *v = value_new(AENET_JSON_ARRAY);
  guint capacity = 0;

  p->pos++; /* [ */
  skip_space(p);
  if (p->pos < p->length && p->text[p->pos] == ']') {
    p->pos++;
    return v;
  }
  for (;;) {
    AenetJson *item = parse_value(p, depth);
    if (item == NULL)
      goto error;
    container_push(v, &capacity, NULL, item);
    skip_space(p);
    if (p->pos < p->length && p->text[p->pos] == ',') {
      p->pos++;
      skip_space(p);
      continue;
    }
    if (p->pos < p->length && p->text[p->pos] == ']') {
      p->pos++;
      return v;
    }
    {
      char *what = describe_at(p, p->pos);
      fail_at(p, p->pos, _("expected “,” or “]” in an array, found %s"), what);
      g_free(what);
    }
    goto error;
  }

error:
  aenet_json_free(v);
  return NULL;
}

static AenetJson *
parse_object(Parser *p, int depth)
{
  AenetJson *v = value_new(AENET_JSON_OBJECT);
  guint capacity = 0;

  p->pos++; /* { */
  skip_space(p);
  if (p->pos < p->length && p->text[p->pos] == '}') {
    p->pos++;
    return v;
  }
  for (;;) {
    gsize key_pos = p->pos;
    char *key;
    AenetJson *item;

    if (p->pos >= p->length || p->text[p->pos] != '"') {
      char *what = describe_at(p, p->pos);
      fail_at(p, p->pos, _("expected a quoted key in an object, found %s"), what);
      g_free(what);
      goto error;
    }
    key = parse_string(p);
    if (key == NULL)
      goto error;
    if (object_lookup(v, key) != NULL) {
      fail_at(p, key_pos, _("duplicate key “%s” in an object"), key);
      g_free(key);
      goto error;
    }
    skip_space(p);
    if (p->pos >= p->length || p->text[p->pos] != ':') {
      char *what = describe_at(p, p->pos);
      fail_at(p, p->pos, _("expected “:” after a key, found %s"), what);
      g_free(what);
      g_free(key);
      goto error;
    }
    p->pos++;
    skip_space(p);
    item = parse_value(p, depth);
    if (item == NULL) {
      g_free(key);
      goto error;
    }
    container_push(v, &capacity, key, item);
    skip_space(p);
    if (p->pos < p->length && p->text[p->pos] == ',') {
      p->pos++;
      skip_space(p);
      continue;
    }
    if (p->pos < p->length && p->text[p->pos] == '}') {
      p->pos++;
      return v;
    }
    {
      char *what = describe_at(p, p->pos);
      fail_at(p, p->pos, _("expected “,” or “}” in an object, found %s"), what);
      g_free(what);
    }
    goto error;
  }

error:
  aenet_json_free(v);
  return NULL;
}

/* Parses one value at p->pos (no leading space); depth counts the
 * containers around it. */
static AenetJson *
parse_value(Parser *p, int depth)
{
  char c;
  AenetJson *v;

  if (p->pos >= p->length) {
    fail_at(p, p->pos, _("unexpected end of input, a value was expected"));
    return NULL;
  }
  c = p->text[p->pos];
  switch (c) {
  case '{':
  case '[':
    if (depth >= JSON_MAX_DEPTH) {
      fail_at(p, p->pos, _("nesting deeper than %d levels"), JSON_MAX_DEPTH);
      return NULL;
    }
    return c == '{' ? parse_object(p, depth + 1) : parse_array(p, depth + 1);
  case '"': {
    char *s = parse_string(p);
    if (s == NULL)
      return NULL;
    v = value_new(AENET_JSON_STRING);
    v->u.string = s;
    return v;
  }
  case 't':
  case 'f':
    if (match_literal(p, c == 't' ? "true" : "false")) {
      v = value_new(AENET_JSON_BOOL);
      v->u.boolean = c == 't';
      return v;
    }
    break;
  case 'n':
    if (match_literal(p, "null"))
      return value_new(AENET_JSON_NULL);
    break;
  default:
    if (c == '-' || (c >= '0' && c <= '9'))
      return parse_number(p);
    break;
  }
  {
    char *what = describe_at(p, p->pos);
    /* TRANSLATORS: %s is a quoted character or “byte 0x…”. */
    fail_at(p, p->pos, _("unexpected %s, a value was expected"), what);
    g_free(what);
  }
  return NULL;
}

AenetJson *
aenet_json_parse(const char *text, gsize length, GError **error)
{
  Parser p = { text, length, 0, error };
  AenetJson *v;

  g_return_val_if_fail(text != NULL || length == 0, NULL);
  if (text == NULL)
    p.text = "";

  skip_space(&p);
  v = parse_value(&p, 0);
  if (v == NULL)
    return NULL;
  skip_space(&p);
  if (p.pos != p.length) {
    char *what = describe_at(&p, p.pos);
    /* TRANSLATORS: %s is a quoted character or “byte 0x…”. */
    fail_at(&p, p.pos, _("unexpected %s after the end of the document"), what);
    g_free(what);
    aenet_json_free(v);
    return NULL;
  }
  return v;
}

AenetJsonType
aenet_json_get_type(const AenetJson *value)
{
  g_return_val_if_fail(value != NULL, AENET_JSON_NULL);
  return value->type;
}

gboolean
aenet_json_get_bool(const AenetJson *value)
{
  g_return_val_if_fail(value != NULL && value->type == AENET_JSON_BOOL, FALSE);
  return value->u.boolean;
}

double
aenet_json_get_number(const AenetJson *value)
{
  g_return_val_if_fail(value != NULL && value->type == AENET_JSON_NUMBER, 0.0);
  return value->u.number;
}

const char *
aenet_json_get_string(const AenetJson *value)
{
  g_return_val_if_fail(value != NULL && value->type == AENET_JSON_STRING, NULL);
  return value->u.string;
}

guint
aenet_json_get_length(const AenetJson *value)
{
  g_return_val_if_fail(value != NULL, 0);
  if (value->type != AENET_JSON_ARRAY && value->type != AENET_JSON_OBJECT)
    return 0;
  return value->u.c.n;
}

const AenetJson *
aenet_json_array_get(const AenetJson *array, guint index)
{
  g_return_val_if_fail(array != NULL && array->type == AENET_JSON_ARRAY, NULL);
  if (index >= array->u.c.n)
    return NULL;
  return array->u.c.items[index];
}

const AenetJson *
aenet_json_object_get(const AenetJson *object, const char *key)
{
  if (object == NULL || key == NULL || object->type != AENET_JSON_OBJECT)
    return NULL;
  return object_lookup(object, key);
}

const AenetJson *
aenet_json_object_get_member(const AenetJson *object, guint index, const char **key)
{
  g_return_val_if_fail(object != NULL && object->type == AENET_JSON_OBJECT, NULL);
  if (index >= object->u.c.n) {
    if (key != NULL)
      *key = NULL;
    return NULL;
  }
  if (key != NULL)
    *key = object->u.c.keys[index];
  return object->u.c.items[index];
}

void
aenet_json_append_string(GString *out, const char *s)
{
  g_string_append_c(out, '"');
  while (*s != '\0') {
    guchar c = (guchar)*s;

    if (c >= 0x80) {
      /* Copy valid UTF-8 as is; replace a broken byte with U+FFFD so the
       * output stays valid JSON. */
      gunichar cp = g_utf8_get_char_validated(s, -1);
      if (cp == (gunichar)-1 || cp == (gunichar)-2) {
        g_string_append(out, "\\ufffd");
        s++;
      } else {
        const char *next = g_utf8_next_char(s);
        g_string_append_len(out, s, next - s);
        s = next;
      }
      continue;
    }
    switch (c) {
    case '"':
      g_string_append(out, "\\\"");
      break;
    case '\\':
      g_string_append(out, "\\\\");
      break;
    case '\b':
      g_string_append(out, "\\b");
      break;
    case '\f':
      g_string_append(out, "\\f");
      break;
    case '\n':
      g_string_append(out, "\\n");
      break;
    case '\r':
      g_string_append(out, "\\r");
      break;
    case '\t':
      g_string_append(out, "\\t");
      break;
    default:
      if (c < 0x20 || c == 0x7f)
        g_string_append_printf(out, "\\u%04x", c);
      else
        g_string_append_c(out, (char)c);
      break;
    }
    s++;
  }
  g_string_append_c(out, '"');
}
