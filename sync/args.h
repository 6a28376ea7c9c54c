/*
 * args: the "--name value" command lines of bl-hub and bl-node.
 *
 * args_parse takes argv after the subcommand. Every option is "--name value"
 * except those listed as flags ("--json"), which take no value; one bare
 * word may stand among them (an id: `bl-node order show S001-000012`).
 * Unknown options are refused so a typo never silently does something else.
 */
#ifndef BL_ARGS_H
#define BL_ARGS_H

#include "err.h"

#define ARGS_MAX 24

typedef struct {
	const char *positional; /* one bare word allowed (an id) */
	int n;
	const char *names[ARGS_MAX];  /* without the leading "--" */
	const char *values[ARGS_MAX]; /* borrowed from argv; "" for flags */
} args_t;

/* allowed: names with values; flags: names without. Both NULL-terminated. */
int args_parse(args_t *args, int argc, char **argv, const char *const *allowed,
    const char *const *flags, err_t *err);

/* The value of --name, or dflt when absent. */
const char *args_get(const args_t *args, const char *name, const char *dflt);

/* The i-th value of a repeatable --name (from 0), NULL past the last. */
const char *args_nth(const args_t *args, const char *name, int i);

/* Whether --name was given. */
int args_has(const args_t *args, const char *name);

#endif
