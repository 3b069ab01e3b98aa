/* json.h — a small, strict JSON reader (RFC 8259) for model headers and
 * network descriptions, and a string escaper for writing them.
 *
 * The parser takes a buffer with an explicit length (no NUL needed), checks
 * everything (nesting depth, escapes, UTF-8, numbers, trailing garbage) and
 * reports the byte offset of the first problem. Objects keep their keys in
 * file order; duplicate keys are an error. */
#ifndef AENET_JSON_H
#define AENET_JSON_H

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  AENET_JSON_NULL,
  AENET_JSON_BOOL,
  AENET_JSON_NUMBER,
  AENET_JSON_STRING,
  AENET_JSON_ARRAY,
  AENET_JSON_OBJECT,
} AenetJsonType;

typedef struct AenetJson AenetJson;

/* Returns the parsed value or NULL with error set (AENET_ERROR_FORMAT). */
AenetJson *aenet_json_parse(const char *text, gsize length, GError **error);
void aenet_json_free(AenetJson *value); /* NULL is fine */

AenetJsonType aenet_json_get_type(const AenetJson *value);
gboolean aenet_json_get_bool(const AenetJson *value);
double aenet_json_get_number(const AenetJson *value);
const char *aenet_json_get_string(const AenetJson *value); /* UTF-8, NUL-terminated */

/* Arrays and objects: number of elements / members. */
guint aenet_json_get_length(const AenetJson *value);
const AenetJson *aenet_json_array_get(const AenetJson *array, guint index);
/* Member by key, or NULL when absent or when value is not an object. */
const AenetJson *aenet_json_object_get(const AenetJson *object, const char *key);
/* Member by position, in file order; *key receives its name. */
const AenetJson *aenet_json_object_get_member(const AenetJson *object, guint index,
                                              const char **key);

/* Appends s as a quoted JSON string literal to out. */
void aenet_json_append_string(GString *out, const char *s);

G_END_DECLS

#endif
