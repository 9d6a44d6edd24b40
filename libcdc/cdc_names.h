/*
 * cdc_names: deterministic mangling of SQLite identifiers into Avro names.
 *
 * Avro names match [A-Za-z_][A-Za-z0-9_]*; SQLite accepts almost any text as an
 * identifier. Mangling replaces every other byte by '_' and prefixes '_' when the name
 * starts with a digit. Whenever the result differs from the original (or is empty, or
 * is a name Avro reserves for a primitive type), a suffix "_x" + 6 lowercase hex digits
 * of a hash of the original bytes is appended, so "a b" and "a_b" stay distinct. The
 * function of the original alone, it gives the same name on every host and every run.
 * A valid name is returned unchanged. Collisions that remain possible (a column really
 * called "a_b_x1f2e3d") are found by cdc_names_find_collision().
 */
#ifndef CDC_NAMES_H
#define CDC_NAMES_H

#include <stddef.h>

/* Mangles a field name (a column). Caller frees with free(). */
char *cdc_names_field(const char *original);

/* Mangles a record name (a table): like a field, and a result that equals an Avro
 * primitive type name ("int", "string", ...) is treated as changed, because Avro refuses
 * those as names of defined types. Caller frees with free(). */
char *cdc_names_record(const char *original);

/* Mangles a source name into one namespace component (dots are replaced as well, so a
 * source "a.b" cannot pose as a nested namespace). Caller frees with free(). */
char *cdc_names_namespace(const char *original);

/* 1 if name is a valid Avro name ([A-Za-z_][A-Za-z0-9_]*), else 0. */
int cdc_names_is_valid(const char *name);

/* The mangling functions above, as a pointer type for cdc_names_find_collision(). */
typedef char *(*cdc_names_mangle_fn)(const char *original);

/*
 * Looks for two originals whose mangled names are equal (exact, case-sensitive
 * comparison, as Avro compares names). Returns 1 and sets *first < *second to the
 * indexes of the first colliding pair found, or returns 0 when all mangled names are
 * distinct. Two identical originals count as a collision as well.
 */
int cdc_names_find_collision(const char *const *originals, size_t n, cdc_names_mangle_fn mangle,
                             size_t *first, size_t *second);

#endif
