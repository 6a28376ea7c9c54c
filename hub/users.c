/*
 * users: head office's console users, kept in the hub's database (table
 * users, schema/hub/0025_users.sql), and the commands that manage them:
 * bl-hub user add|list|remove.
 *
 * A user has a name, a role (viewer reads; manager also writes) and a
 * password kept only as crypto_pwhash_str (Argon2id with its salt and
 * limits, libsodium's interactive ones: about 64 MB and a tenth of a
 * second per check). A password is never taken from the command line,
 * where ps and the shell's history would show it: add reads it from the
 * terminal, twice and unechoed, or as the first line of its standard
 * input when that is not a terminal (scripts). Passwords are held in
 * sodium_malloc'd memory and wiped on every path.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "hub.h"
#include "log.h"
#include "prog.h"

/* A password read in is at most this many bytes. */
#define USERS_PASSWORD_READ (USERS_PASSWORD_MAX + 2)

int
users_name_valid(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > USERS_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '.' || c == '_' ||
			c == '-' || c == '@'))
			return 0;
	}
	return 1;
}

int
users_add(store_t *st, const char *name, const char *role, const char *password,
    err_t *err)
{
	char hash[crypto_pwhash_STRBYTES];
	sqlite3_stmt *s;
	size_t n = strlen(password);
	int rc;

	if (!users_name_valid(name))
		return err_set(err, ERR_BAD_REQUEST,
		    "--name '%s': use 1-%d of A-Z a-z 0-9 . _ - @", name,
		    USERS_NAME_MAX);
	if (strcmp(role, "viewer") != 0 && strcmp(role, "manager") != 0)
		return err_set(err, ERR_BAD_REQUEST,
		    "--role '%s': must be viewer or manager", role);
	if (n < USERS_PASSWORD_MIN || n > USERS_PASSWORD_MAX)
		return err_set(err, ERR_BAD_REQUEST,
		    "password: %zu bytes; use %d to %d", n, USERS_PASSWORD_MIN,
		    USERS_PASSWORD_MAX);
	if (sodium_init() < 0)
		return err_set(err, ERR_INTERNAL,
		    "user %s: libsodium init failed", name);
	if (crypto_pwhash_str(hash, password, n,
		crypto_pwhash_OPSLIMIT_INTERACTIVE,
		crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
		return err_set(err, ERR_INTERNAL,
		    "user %s: hashing the password: out of memory", name);
	if (store_begin(st, err))
		return -1;
	s = store_stmt(st, "SELECT count(*) FROM users WHERE name = ?");
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = (int)store_query_int(st, s, 0);
	if (store_read_error(st, err))
		goto fail;
	if (rc > 0) {
		err_set(err, ERR_CONFLICT,
		    "user %s: already exists (remove it first to change it)",
		    name);
		goto fail;
	}
	s = store_stmt(st,
	    "INSERT INTO users(name, role, pwhash, created_at) "
	    "VALUES (?, ?, ?, ?)");
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, role, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, (int64_t)hlc_wall_ms());
	if (store_step(st, s, "add user", err) || store_commit(st, err))
		goto fail;
	sodium_memzero(hash, sizeof hash);
	return 0;
fail:
	sodium_memzero(hash, sizeof hash);
	store_rollback(st);
	return -1;
}

int
users_remove(store_t *st, const char *name, err_t *err)
{
	sqlite3_stmt *s;

	if (store_begin(st, err))
		return -1;
	s = store_stmt(st, "DELETE FROM users WHERE name = ?");
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	if (store_step(st, s, "remove user", err))
		goto fail;
	if (sqlite3_changes(store_db(st)) == 0) {
		err_set(err, ERR_NOT_FOUND, "user %s: no such user", name);
		goto fail;
	}
	return store_commit(st, err);
fail:
	store_rollback(st);
	return -1;
}

int
users_list(store_t *st, json_t **out, err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT name, role, created_at FROM users ORDER BY name");
	json_t *items = json_array();

	while (store_row(st, s))
		json_array_append_new(items,
		    json_pack("{s:s, s:s, s:I}", "name",
			(const char *)sqlite3_column_text(s, 0), "role",
			(const char *)sqlite3_column_text(s, 1), "created_ms",
			(json_int_t)sqlite3_column_int64(s, 2)));
	sqlite3_reset(s);
	if (store_read_error(st, err)) {
		json_decref(items);
		return err_prefix(err, "users");
	}
	*out = json_pack("{s:o}", "items", items);
	return 0;
}

int
users_role(store_t *st, const char *name, char *role, size_t size,
    unsigned char stamp[USERS_STAMP_BYTES], err_t *err)
{
	sqlite3_stmt *s = store_stmt(st,
	    "SELECT role, pwhash FROM users WHERE name = ?");

	role[0] = '\0';
	memset(stamp, 0, USERS_STAMP_BYTES);
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	if (store_row(st, s)) {
		snprintf(role, size, "%s", sqlite3_column_text(s, 0));
		/* The stored hash has a salt of its own: a user removed and
		 * added again, under one name, is another stamp. */
		crypto_generichash(stamp, USERS_STAMP_BYTES,
		    sqlite3_column_text(s, 1),
		    (unsigned long long)sqlite3_column_bytes(s, 1), NULL, 0);
	}
	sqlite3_reset(s);
	return store_read_error(st, err) ? err_prefix(err, "user %s", name) : 0;
}

/* A hash that matches no password, checked against when the user does
 * not exist, so that a wrong name costs what a wrong password costs and
 * the time of an answer does not tell which names exist. Made once. */
static char s_decoy[crypto_pwhash_STRBYTES];

int
users_check(store_t *st, const char *name, const char *password, char *role,
    size_t size, err_t *err)
{
	char hash[crypto_pwhash_STRBYTES] = "";
	sqlite3_stmt *s;
	int ok;

	role[0] = '\0';
	if (sodium_init() < 0)
		return err_set(err, ERR_INTERNAL,
		    "login: libsodium init failed");
	s = store_stmt(st, "SELECT role, pwhash FROM users WHERE name = ?");
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	if (store_row(st, s)) {
		snprintf(role, size, "%s", sqlite3_column_text(s, 0));
		snprintf(hash, sizeof hash, "%s", sqlite3_column_text(s, 1));
	}
	sqlite3_reset(s);
	if (store_read_error(st, err))
		return err_prefix(err, "login");
	if (hash[0] == '\0') {
		if (s_decoy[0] == '\0') {
			char secret[33];

			randombytes_buf(secret, sizeof secret - 1);
			secret[sizeof secret - 1] = '\0';
			if (crypto_pwhash_str(s_decoy, secret,
				sizeof secret - 1,
				crypto_pwhash_OPSLIMIT_INTERACTIVE,
				crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
				return err_set(err, ERR_INTERNAL,
				    "login: out of memory");
			sodium_memzero(secret, sizeof secret);
		}
		/* Its answer is no: a random secret nobody knows. */
		ok = crypto_pwhash_str_verify(s_decoy, password,
		    strlen(password));
		(void)ok;
		return err_set(err, ERR_FORBIDDEN,
		    "login: wrong user name or password");
	}
	ok = crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
	sodium_memzero(hash, sizeof hash);
	if (!ok) {
		role[0] = '\0';
		return err_set(err, ERR_FORBIDDEN,
		    "login: wrong user name or password");
	}
	return 0;
}

/* ---- commands ---- */

/* Reads one line from stdin into buf (size bytes, sodium_malloc'd),
 * without its line end; prompt and no echo when stdin is a terminal. 0,
 * or -1 with err. */
static int
s_read_line(const char *prompt, char *buf, size_t size, err_t *err)
{
	struct termios old, quiet;
	int tty = isatty(STDIN_FILENO), c;
	size_t n = 0;

	if (tty) {
		fprintf(stderr, "%s", prompt);
		fflush(stderr);
		if (tcgetattr(STDIN_FILENO, &old) == 0) {
			quiet = old;
			quiet.c_lflag &= ~(tcflag_t)ECHO;
			tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
		} else {
			tty = 0;
		}
	}
	while ((c = getchar()) != EOF && c != '\n')
		if (n + 1 < size)
			buf[n++] = (char)c;
		else
			n = size; /* too long: refused below */
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	if (n >= size) {
		buf[0] = '\0';
		return err_set(err, ERR_BAD_REQUEST,
		    "password: more than %d bytes", USERS_PASSWORD_MAX);
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	if (c == EOF && n == 0)
		return err_set(err, ERR_BAD_REQUEST,
		    "password: none given (type it, or give it as the first line of standard input)");
	return 0;
}

int
users_cmd_add(const args_t *a)
{
	const char *name = args_get(a, "name", NULL);
	const char *role = args_get(a, "role", NULL);
	char *pw = NULL, *again = NULL, prompt[128];
	store_t *st = NULL;
	err_t err;
	int rc = 1;

	err_clear(&err);
	if (name == NULL || role == NULL) {
		err_set(&err, ERR_BAD_REQUEST,
		    "--name and --role are required");
		return prog_fail(PROG_EXIT_USAGE, &err);
	}
	if (!users_name_valid(name)) {
		err_set(&err, ERR_BAD_REQUEST,
		    "--name '%s': use 1-%d of A-Z a-z 0-9 . _ - @", name,
		    USERS_NAME_MAX);
		return prog_fail(PROG_EXIT_USAGE, &err);
	}
	if (strcmp(role, "viewer") != 0 && strcmp(role, "manager") != 0) {
		err_set(&err, ERR_BAD_REQUEST,
		    "--role '%s': must be viewer or manager", role);
		return prog_fail(PROG_EXIT_USAGE, &err);
	}
	if (sodium_init() < 0 ||
	    (pw = sodium_malloc(USERS_PASSWORD_READ)) == NULL ||
	    (again = sodium_malloc(USERS_PASSWORD_READ)) == NULL)
		fatal("user add: out of memory");
	snprintf(prompt, sizeof prompt, "password for %s: ", name);
	if (s_read_line(prompt, pw, USERS_PASSWORD_READ, &err))
		goto out;
	if (isatty(STDIN_FILENO)) {
		if (s_read_line("again: ", again, USERS_PASSWORD_READ, &err))
			goto out;
		if (strcmp(pw, again) != 0) {
			err_set(&err, ERR_BAD_REQUEST,
			    "password: the two do not match");
			goto out;
		}
	}
	if ((st = hub_open(args_get(a, "data", "."), &err)) == NULL ||
	    users_add(st, name, role, pw, &err))
		goto out;
	printf("added %s as %s\n", name, role);
	rc = 0;
out:
	sodium_free(pw);
	sodium_free(again);
	store_close(&st);
	return rc == 0 ? 0 : prog_fail(1, &err);
}

int
users_cmd_list(const args_t *a)
{
	store_t *st;
	json_t *out = NULL, *u;
	err_t err;
	size_t i;

	if ((st = hub_open(args_get(a, "data", "."), &err)) == NULL ||
	    users_list(st, &out, &err)) {
		store_close(&st);
		return prog_fail(1, &err);
	}
	store_close(&st);
	if (args_has(a, "json")) {
		char *text = json_dumps(out, JSON_COMPACT);

		printf("%s\n", text);
		free(text);
	} else {
		printf("%-24s %-8s %s\n", "NAME", "ROLE", "ADDED (UTC)");
		json_array_foreach(json_object_get(out, "items"), i, u) {
			char when[32];

			hub_format_ms((uint64_t)json_integer_value(
					  json_object_get(u, "created_ms")),
			    when, sizeof when);
			printf("%-24s %-8s %s\n",
			    json_string_value(json_object_get(u, "name")),
			    json_string_value(json_object_get(u, "role")),
			    when);
		}
		if (json_array_size(json_object_get(out, "items")) == 0)
			printf(
			    "(none: bl-hub user add --data DIR --name NAME --role viewer|manager)\n");
	}
	json_decref(out);
	return 0;
}

int
users_cmd_remove(const args_t *a)
{
	const char *name = args_get(a, "name", NULL);
	store_t *st;
	err_t err;

	err_clear(&err);
	if (name == NULL) {
		err_set(&err, ERR_BAD_REQUEST, "--name is required");
		return prog_fail(PROG_EXIT_USAGE, &err);
	}
	if ((st = hub_open(args_get(a, "data", "."), &err)) == NULL ||
	    users_remove(st, name, &err)) {
		store_close(&st);
		return prog_fail(1, &err);
	}
	store_close(&st);
	printf(
	    "removed %s; a running hub ends its sessions at their next request\n",
	    name);
	return 0;
}
