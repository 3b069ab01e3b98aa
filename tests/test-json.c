/* test-json.c — the strict JSON reader and the string escaper. */
#include <locale.h>
#include <math.h>
#include <string.h>

#include "error.h"
#include "json.h"

static AenetJson *
parse_ok(const char *text)
{
  GError *error = NULL;
  AenetJson *v = aenet_json_parse(text, strlen(text), &error);
  g_assert_no_error(error);
  g_assert_nonnull(v);
  return v;
}

static void
test_literals(void)
{
  AenetJson *v;

  v = parse_ok("null");
  g_assert_cmpint(aenet_json_get_type(v), ==, AENET_JSON_NULL);
  aenet_json_free(v);
  v = parse_ok(" \t\r\ntrue\n");
  g_assert_cmpint(aenet_json_get_type(v), ==, AENET_JSON_BOOL);
  g_assert_true(aenet_json_get_bool(v));
  aenet_json_free(v);
  v = parse_ok("false");
  g_assert_false(aenet_json_get_bool(v));
  aenet_json_free(v);
}

static void
test_numbers(void)
{
  static const struct {
    const char *text;
    double value;
  } cases[] = {
    { "0", 0.0 },
    { "-0", -0.0 },
    { "7", 7.0 },
    { "-12", -12.0 },
    { "3.25", 3.25 },
    { "-0.5", -0.5 },
    { "1e3", 1000.0 },
    { "1E+3", 1000.0 },
    { "25e-2", 0.25 },
    { "1.5E2", 150.0 },
    { "123456789012", 123456789012.0 },
    { "9007199254740992", 9007199254740992.0 },
    { "1e-400", 0.0 },
    { "0.1", 0.1 },
  };

  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    AenetJson *v = parse_ok(cases[i].text);
    g_assert_cmpint(aenet_json_get_type(v), ==, AENET_JSON_NUMBER);
    g_assert_cmpfloat(aenet_json_get_number(v), ==, cases[i].value);
    aenet_json_free(v);
  }
  {
    AenetJson *v = parse_ok("-0");
    g_assert_true(signbit(aenet_json_get_number(v)));
    aenet_json_free(v);
  }
}

/* A locale with a decimal comma must not change how numbers parse. */
static void
test_numbers_locale(void)
{
  static const char *locales[] = { "de_DE.UTF-8", "fr_FR.UTF-8", "de_DE", "fr_FR" };
  const char *set = NULL;
  AenetJson *v;

  for (guint i = 0; i < G_N_ELEMENTS(locales) && set == NULL; i++)
    set = setlocale(LC_NUMERIC, locales[i]);
  if (set == NULL) {
    g_test_skip("no locale with a decimal comma is installed");
    return;
  }
  v = parse_ok("[2.5, 1e-1]");
  g_assert_cmpfloat(aenet_json_get_number(aenet_json_array_get(v, 0)), ==, 2.5);
  g_assert_cmpfloat(aenet_json_get_number(aenet_json_array_get(v, 1)), ==, 0.1);
  aenet_json_free(v);
  setlocale(LC_NUMERIC, "C");
}

static void
test_strings(void)
{
  AenetJson *v;

  v = parse_ok("\"\"");
  g_assert_cmpstr(aenet_json_get_string(v), ==, "");
  aenet_json_free(v);

  v = parse_ok("\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"");
  g_assert_cmpstr(aenet_json_get_string(v), ==, "a\"b\\c/d\be\ff\ng\rh\ti");
  aenet_json_free(v);

  /* \u escapes of one, two and three UTF-8 bytes, and a surrogate pair
   * (U+1F600) giving four. */
  v = parse_ok("\"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\"");
  g_assert_cmpstr(aenet_json_get_string(v), ==, "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
  aenet_json_free(v);

  /* Raw UTF-8 is copied as is, up to U+10FFFF. */
  v = parse_ok("\"\xc3\xa9t\xc3\xa9 \xe2\x80\x9cq\xe2\x80\x9d \xf4\x8f\xbf\xbf\"");
  g_assert_cmpstr(aenet_json_get_string(v), ==,
                  "\xc3\xa9t\xc3\xa9 \xe2\x80\x9cq\xe2\x80\x9d \xf4\x8f\xbf\xbf");
  aenet_json_free(v);

  /* DEL (0x7f) is not a control character for JSON. */
  v = parse_ok("\"a\x7f\"");
  g_assert_cmpstr(aenet_json_get_string(v), ==, "a\x7f");
  aenet_json_free(v);
}

static void
test_containers(void)
{
  const char *text = "{ \"b\" : [1, [], {}, [true, null]], \"a\": {\"x\": \"y\"}, \"\": 3 }";
  AenetJson *v = parse_ok(text);
  const AenetJson *b, *a, *inner;
  const char *key;

  g_assert_cmpint(aenet_json_get_type(v), ==, AENET_JSON_OBJECT);
  g_assert_cmpuint(aenet_json_get_length(v), ==, 3);
  /* Members in file order. */
  b = aenet_json_object_get_member(v, 0, &key);
  g_assert_cmpstr(key, ==, "b");
  aenet_json_object_get_member(v, 1, &key);
  g_assert_cmpstr(key, ==, "a");
  aenet_json_object_get_member(v, 2, &key);
  g_assert_cmpstr(key, ==, "");
  g_assert_null(aenet_json_object_get_member(v, 3, &key));
  g_assert_null(key);

  g_assert_true(aenet_json_object_get(v, "b") == b);
  g_assert_cmpint(aenet_json_get_type(b), ==, AENET_JSON_ARRAY);
  g_assert_cmpuint(aenet_json_get_length(b), ==, 4);
  g_assert_cmpfloat(aenet_json_get_number(aenet_json_array_get(b, 0)), ==, 1.0);
  g_assert_cmpuint(aenet_json_get_length(aenet_json_array_get(b, 1)), ==, 0);
  g_assert_cmpint(aenet_json_get_type(aenet_json_array_get(b, 2)), ==, AENET_JSON_OBJECT);
  inner = aenet_json_array_get(b, 3);
  g_assert_true(aenet_json_get_bool(aenet_json_array_get(inner, 0)));
  g_assert_cmpint(aenet_json_get_type(aenet_json_array_get(inner, 1)), ==, AENET_JSON_NULL);
  g_assert_null(aenet_json_array_get(b, 4));

  a = aenet_json_object_get(v, "a");
  g_assert_cmpstr(aenet_json_get_string(aenet_json_object_get(a, "x")), ==, "y");
  g_assert_null(aenet_json_object_get(v, "missing"));
  g_assert_null(aenet_json_object_get(b, "x")); /* not an object */
  g_assert_cmpfloat(aenet_json_get_number(aenet_json_object_get(v, "")), ==, 3.0);
  /* Scalars have no length. */
  g_assert_cmpuint(aenet_json_get_length(aenet_json_object_get(v, "")), ==, 0);
  aenet_json_free(v);
}

/* Objects past the index threshold: look-ups and order still right. */
static void
test_large_object(void)
{
  GString *s = g_string_new("{");
  AenetJson *v;

  for (int i = 0; i < 500; i++)
    g_string_append_printf(s, "%s\"k%d\": %d", i ? ", " : "", i, i * 2);
  g_string_append(s, "}");
  v = parse_ok(s->str);
  g_assert_cmpuint(aenet_json_get_length(v), ==, 500);
  for (int i = 0; i < 500; i++) {
    char key[16];
    const char *k;
    g_snprintf(key, sizeof key, "k%d", i);
    g_assert_cmpfloat(aenet_json_get_number(aenet_json_object_get(v, key)), ==, i * 2.0);
    aenet_json_object_get_member(v, (guint)i, &k);
    g_assert_cmpstr(k, ==, key);
  }
  aenet_json_free(v);
  g_string_free(s, TRUE);
}

static void
test_depth(void)
{
  GString *s = g_string_new(NULL);
  AenetJson *v;

  /* 64 levels are fine. */
  for (int i = 0; i < 64; i++)
    g_string_append_c(s, '[');
  for (int i = 0; i < 64; i++)
    g_string_append_c(s, ']');
  v = parse_ok(s->str);
  aenet_json_free(v);
  g_string_free(s, TRUE);
}

/* Not NUL-terminated input: the parser must stop at the given length. */
static void
test_explicit_length(void)
{
  GError *error = NULL;
  char buf[] = { '[', '1', '2', ']', 'x', 'y' };
  AenetJson *v = aenet_json_parse(buf, 4, &error);

  g_assert_no_error(error);
  g_assert_cmpfloat(aenet_json_get_number(aenet_json_array_get(v, 0)), ==, 12.0);
  aenet_json_free(v);
  /* A number cut by the length, not by a delimiter. */
  v = aenet_json_parse("12345", 3, &error);
  g_assert_no_error(error);
  g_assert_cmpfloat(aenet_json_get_number(v), ==, 123.0);
  aenet_json_free(v);
}

typedef struct {
  const char *text;
  gsize length; /* 0: strlen */
  gsize offset;
  const char *word; /* in the message */
} BadCase;

static void
test_malformed(void)
{
  static const BadCase cases[] = {
    { "", 0, 0, "end of input" },
    { "   ", 0, 3, "end of input" },
    { "[1,]", 0, 3, "value" },
    { "[1 2]", 0, 3, "expected" },
    { "[1,2", 0, 4, "end of the input" },
    { "{\"a\":1,}", 0, 7, "key" },
    { "{\"a\" 1}", 0, 5, ":" },
    { "{a:1}", 0, 1, "key" },
    { "{\"a\":1 \"b\":2}", 0, 7, "expected" },
    { "{\"a\":1,\"a\":2}", 0, 7, "duplicate" },
    { "01", 0, 0, "leading zeros" },
    { "-01", 0, 0, "leading zeros" },
    { "1.", 0, 2, "decimal point" },
    { ".5", 0, 0, "value" },
    { "1e", 0, 2, "exponent" },
    { "1e+", 0, 3, "exponent" },
    { "+1", 0, 0, "value" },
    { "-", 0, 1, "digit" },
    { "-a", 0, 1, "digit" },
    { "1e400", 0, 0, "too large" },
    { "-1e400", 0, 0, "too large" },
    { "0x10", 0, 1, "after the end" },
    { "NaN", 0, 0, "value" },
    { "Infinity", 0, 0, "value" },
    { "tru", 0, 0, "value" },
    { "nul", 0, 0, "value" },
    { "True", 0, 0, "value" },
    { "[1] x", 0, 4, "after the end" },
    { "{} {}", 0, 3, "after the end" },
    { "\"abc", 0, 0, "unterminated" },
    { "\"abc\\", 0, 0, "unterminated" },
    { "\"a\x01z\"", 0, 2, "control character" },
    { "\"a\nz\"", 0, 2, "control character" },
    { "\"a\tz\"", 0, 2, "control character" },
    { "\"\\x\"", 0, 1, "invalid escape" },
    { "\"\\'\"", 0, 1, "invalid escape" },
    { "\"\\u12G4\"", 0, 5, "hexadecimal" },
    { "\"\\u12\"", 0, 5, "hexadecimal" },
    { "\"\\ud800\"", 0, 1, "lone high surrogate" },
    { "\"\\ud800x\"", 0, 1, "lone high surrogate" },
    { "\"\\udc00\"", 0, 1, "lone low surrogate" },
    { "\"\\ud800\\u0041\"", 0, 1, "low surrogate" },
    { "\"\\u0000\"", 0, 1, "NUL" },
    { "\"\xc3\"", 0, 2, "UTF-8" },
    { "\"\xc3", 0, 1, "UTF-8" },
    { "\"\xc0\x80\"", 0, 1, "UTF-8" },
    { "\"\xe0\x80\xaf\"", 0, 1, "UTF-8" },
    { "\"\xed\xa0\x80\"", 0, 1, "UTF-8" },
    { "\"\xf4\x90\x80\x80\"", 0, 1, "UTF-8" },
    { "\"\xff\"", 0, 1, "UTF-8" },
    { "\"\x80\"", 0, 1, "UTF-8" },
    { "\xef\xbb\xbf{}", 0, 0, "value" },
    { "{\"a\xff\":1}", 0, 3, "UTF-8" },
    { "\"a\"\0", 4, 3, "after the end" },
    { "[\0]", 3, 1, "value" },
  };

  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    const BadCase *c = &cases[i];
    gsize length = c->length ? c->length : strlen(c->text);
    GError *error = NULL;
    char *at = g_strdup_printf("at byte %" G_GSIZE_FORMAT ":", c->offset);
    AenetJson *v = aenet_json_parse(c->text, length, &error);

    if (v != NULL || error == NULL || strstr(error->message, at) == NULL
        || strstr(error->message, c->word) == NULL)
      g_error("case %u (%s): expected an error %s … %s, got %s", i, c->text, at, c->word,
              error ? error->message : "success");
    g_assert_error(error, AENET_ERROR, AENET_ERROR_FORMAT);
    g_error_free(error);
    g_free(at);
  }
}

static void
test_too_deep(void)
{
  GString *s = g_string_new(NULL);
  GError *error = NULL;
  AenetJson *v;

  for (int i = 0; i < 100000; i++)
    g_string_append(s, i % 2 ? "[" : "{\"a\":");
  v = aenet_json_parse(s->str, s->len, &error);
  g_assert_null(v);
  g_assert_error(error, AENET_ERROR, AENET_ERROR_FORMAT);
  g_assert_nonnull(strstr(error->message, "nesting"));
  g_clear_error(&error);
  g_string_free(s, TRUE);

  s = g_string_new(NULL);
  for (int i = 0; i < 65; i++)
    g_string_append_c(s, '[');
  for (int i = 0; i < 65; i++)
    g_string_append_c(s, ']');
  v = aenet_json_parse(s->str, s->len, &error);
  g_assert_null(v);
  g_assert_nonnull(strstr(error->message, "at byte 64:"));
  g_clear_error(&error);
  g_string_free(s, TRUE);
}

/* A duplicate key past the index threshold is found too. */
static void
test_large_duplicate(void)
{
  GString *s = g_string_new("{");
  GError *error = NULL;

  for (int i = 0; i < 40; i++)
    g_string_append_printf(s, "\"k%d\":0,", i);
  g_string_append(s, "\"k3\":1}");
  g_assert_null(aenet_json_parse(s->str, s->len, &error));
  g_assert_error(error, AENET_ERROR, AENET_ERROR_FORMAT);
  g_assert_nonnull(strstr(error->message, "duplicate key “k3”"));
  g_error_free(error);
  g_string_free(s, TRUE);
}

static void
test_append_string(void)
{
  static const char *strings[] = {
    "",
    "plain",
    "quote \" backslash \\ slash /",
    "\b\f\n\r\t\x01\x1f\x7f",
    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
  };

  for (guint i = 0; i < G_N_ELEMENTS(strings); i++) {
    GString *out = g_string_new(NULL);
    AenetJson *v;

    aenet_json_append_string(out, strings[i]);
    /* Only printable ASCII or UTF-8 in the output. */
    for (gsize k = 0; k < out->len; k++)
      g_assert_cmpint((guchar)out->str[k], >=, 0x20);
    v = parse_ok(out->str);
    g_assert_cmpstr(aenet_json_get_string(v), ==, strings[i]);
    aenet_json_free(v);
    g_string_free(out, TRUE);
  }

  {
    GString *out = g_string_new("x");
    aenet_json_append_string(out, "a\"\n\x01");
    g_assert_cmpstr(out->str, ==, "x\"a\\\"\\n\\u0001\"");
    g_string_free(out, TRUE);
  }

  /* Broken UTF-8 becomes U+FFFD so the output stays valid JSON. */
  {
    GString *out = g_string_new(NULL);
    AenetJson *v;
    aenet_json_append_string(out, "a\xff"
                                  "b\xc3");
    v = parse_ok(out->str);
    g_assert_cmpstr(aenet_json_get_string(v), ==,
                    "a\xef\xbf\xbd"
                    "b\xef\xbf\xbd");
    aenet_json_free(v);
    g_string_free(out, TRUE);
  }
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/json/literals", test_literals);
  g_test_add_func("/json/numbers", test_numbers);
  g_test_add_func("/json/numbers-locale", test_numbers_locale);
  g_test_add_func("/json/strings", test_strings);
  g_test_add_func("/json/containers", test_containers);
  g_test_add_func("/json/large-object", test_large_object);
  g_test_add_func("/json/depth", test_depth);
  g_test_add_func("/json/explicit-length", test_explicit_length);
  g_test_add_func("/json/malformed", test_malformed);
  g_test_add_func("/json/too-deep", test_too_deep);
  g_test_add_func("/json/large-duplicate", test_large_duplicate);
  g_test_add_func("/json/append-string", test_append_string);
  return g_test_run();
}
