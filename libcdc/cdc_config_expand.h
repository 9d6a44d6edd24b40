/*
 * cdc_config_expand: ${VAR} expansion of config values, so secrets never need to live
 * in the pipeline file.
 */
#ifndef CDC_CONFIG_EXPAND_H
#define CDC_CONFIG_EXPAND_H

#include <stddef.h>

/*
 * Returns a copy of text with every ${NAME} replaced by the environment variable NAME and
 * every ${NAME:-fallback} by NAME or, when NAME is unset or empty, fallback; "$$" is a
 * literal "$". Returns NULL with the variable's name in errstr when one is unset and has
 * no fallback, or a "${" is not closed. Caller frees the result with free().
 */
char *cdc_config_expand(const char *text, char *errstr, size_t errstr_size);

#endif
