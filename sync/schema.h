/*
 * schema: the numbered migrations compiled into the programs.
 *
 * The table is generated from schema/ by schema/embed.sh at build time; the
 * store applies it (see store_open). Migrations are forward-only: a database
 * whose PRAGMA user_version is above what this build knows is refused.
 */
#ifndef BL_SCHEMA_H
#define BL_SCHEMA_H

typedef enum {
	SCHEMA_BOTH, /* replicated state: hub and nodes */
	SCHEMA_HUB,
	SCHEMA_NODE,
} schema_side_t;

typedef struct {
	int number; /* NNNN of the file name, unique, ascending */
	schema_side_t side;
	const char *name; /* file name without .sql */
	const char *sql;
} schema_migration_t;

extern const schema_migration_t schema_migrations[];
extern const int schema_migration_count;

#endif
