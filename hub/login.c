/*
 * login: the console's sessions and its limit on failed logins.
 *
 * A login checks a user's password (users.c) and opens a session: a
 * random 256-bit token the browser keeps in a cookie, and a second random
 * token, the CSRF token, that the console's script sends back in a header
 * with every write; a page of another site can make the browser send the
 * cookie, never the header. The hub keeps only the session token's
 * BLAKE2b hash, and compares hashes in constant time.
 *
 * A session ends at logout, after idle_s without a request, after max_s
 * whatever happens, when its user is removed, and when the hub stops
 * (sessions are kept in memory: a restart asks everyone to log in again).
 * Its role is read again from the users table at every request, so a
 * user removed or given another role is seen at once.
 *
 * Failed logins are counted per user name and per client address: after
 * max_failures within lockout_s of each other, further attempts of that
 * name or from that address are refused without a password check (which
 * costs a tenth of a second of the hub's loop) until lockout_s has passed
 * since the last failure. A success clears both counts. Both tables have
 * a fixed size; when full, the entry used longest ago makes room.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "log.h"

#define LOGIN_SESSIONS_MAX 512
#define LOGIN_LIMITS_MAX 1024
#define LOGIN_HASH crypto_generichash_BYTES

typedef struct {
	int used;
	unsigned char hash[LOGIN_HASH]; /* of the cookie's token */
	login_who_t who;
	unsigned char stamp[USERS_STAMP_BYTES]; /* the user's, at login */
	uint64_t created_ms, seen_ms;
} session_t;

typedef struct {
	char key[96]; /* "user NAME" or "address ADDR"; "" when free */
	long long fails;
	uint64_t last_ms;
} limit_t;

struct login {
	store_t *store;
	login_conf_t conf;
	session_t sessions[LOGIN_SESSIONS_MAX];
	limit_t limits[LOGIN_LIMITS_MAX];
};

login_t *
login_new(store_t *store, const login_conf_t *conf)
{
	login_t *l;

	if (sodium_init() < 0)
		fatal("login: libsodium init failed");
	if ((l = sodium_malloc(sizeof *l)) == NULL)
		fatal("login: out of memory");
	memset(l, 0, sizeof *l);
	l->store = store;
	l->conf = *conf;
	return l;
}

void
login_destroy(login_t **self_p)
{
	if (self_p == NULL || *self_p == NULL)
		return;
	sodium_free(*self_p); /* wipes the sessions' tokens too */
	*self_p = NULL;
}

int
login_conf_read(const conf_t *conf, login_conf_t *lc, err_t *err)
{
	return conf_get_int(conf, "session_idle_s", LOGIN_IDLE_DEFAULT_S, 1,
		   7 * 86400, &lc->idle_s, err) ||
	    conf_get_int(conf, "session_max_s", LOGIN_MAX_DEFAULT_S, 1,
		30 * 86400, &lc->max_s, err) ||
	    conf_get_int(conf, "login_max_failures", LOGIN_FAILURES_DEFAULT, 1,
		1000, &lc->max_failures, err) ||
	    conf_get_int(conf, "login_lockout_s", LOGIN_LOCKOUT_DEFAULT_S, 1,
		86400, &lc->lockout_s, err);
}

long long
login_max_s(const login_t *l)
{
	return l->conf.max_s;
}

/* ---- failed logins ---- */

static limit_t *
s_limit(login_t *l, const char *key, int create)
{
	limit_t *room = NULL;
	int i;

	for (i = 0; i < LOGIN_LIMITS_MAX; i++)
		if (l->limits[i].key[0] != '\0' &&
		    strcmp(l->limits[i].key, key) == 0)
			return &l->limits[i];
	if (!create)
		return NULL;
	/* A free entry, else the one that failed longest ago. */
	for (i = 0; i < LOGIN_LIMITS_MAX; i++) {
		limit_t *e = &l->limits[i];

		if (e->key[0] == '\0') {
			room = e;
			break;
		}
		if (room == NULL || e->last_ms < room->last_ms)
			room = e;
	}
	memset(room, 0, sizeof *room);
	snprintf(room->key, sizeof room->key, "%s", key);
	return room;
}

/* Seconds until key may try again, 0 when it may now. */
static long long
s_locked_for(login_t *l, const char *key, uint64_t now)
{
	limit_t *e = s_limit(l, key, 0);
	uint64_t window = (uint64_t)l->conf.lockout_s * 1000;

	if (e == NULL || e->fails < l->conf.max_failures ||
	    now - e->last_ms >= window)
		return 0;
	return (long long)((window - (now - e->last_ms) + 999) / 1000);
}

static void
s_failed(login_t *l, const char *key, uint64_t now)
{
	limit_t *e = s_limit(l, key, 1);

	if (now - e->last_ms >= (uint64_t)l->conf.lockout_s * 1000)
		e->fails = 0;
	e->fails++;
	e->last_ms = now;
}

static void
s_forget(login_t *l, const char *key)
{
	limit_t *e = s_limit(l, key, 0);

	if (e != NULL)
		memset(e, 0, sizeof *e);
}

/* ---- sessions ---- */

static void
s_hash(const char *token, unsigned char out[LOGIN_HASH])
{
	crypto_generichash(out, LOGIN_HASH, (const unsigned char *)token,
	    strlen(token), NULL, 0);
}

static void
s_random_hex(char *out, size_t size)
{
	unsigned char raw[LOGIN_TOKEN_HEX / 2];

	randombytes_buf(raw, sizeof raw);
	sodium_bin2hex(out, size, raw, sizeof raw);
	sodium_memzero(raw, sizeof raw);
}

int
login_open(login_t *l, const char *addr, const char *name, const char *password,
    uint64_t now, char *cookie, size_t size, login_who_t *who,
    long long *retry_s, err_t *err)
{
	char kuser[96], kaddr[96], role[16];
	unsigned char stamp[USERS_STAMP_BYTES];
	session_t *s = NULL;
	long long wait_user, wait_addr;
	int i;

	*retry_s = 0;
	snprintf(kuser, sizeof kuser, "user %s", name);
	snprintf(kaddr, sizeof kaddr, "address %s", addr);
	wait_user = s_locked_for(l, kuser, now);
	wait_addr = s_locked_for(l, kaddr, now);
	if (wait_user > 0 || wait_addr > 0) {
		*retry_s = wait_user > wait_addr ? wait_user : wait_addr;
		log_warn(
		    "console: login of %s from %s refused: locked for %lld s",
		    name, addr, *retry_s);
		return err_set(err, ERR_FORBIDDEN,
		    "login: too many failed attempts for %s or from %s; try again in %lld s",
		    name, addr, *retry_s);
	}
	if (users_check(l->store, name, password, role, sizeof role, err)) {
		if (err->code == ERR_FORBIDDEN) {
			s_failed(l, kuser, now);
			s_failed(l, kaddr, now);
			log_warn("console: failed login of %s from %s", name,
			    addr);
		}
		return -1;
	}
	/* Only the name's count: one good login must not clear what an
	 * address tried against other names. */
	s_forget(l, kuser);
	if (users_role(l->store, name, role, sizeof role, stamp, err))
		return -1;
	/* A free slot, else the expired or least recently used one. */
	for (i = 0; i < LOGIN_SESSIONS_MAX; i++) {
		session_t *e = &l->sessions[i];

		if (!e->used) {
			s = e;
			break;
		}
		if (s == NULL || e->seen_ms < s->seen_ms)
			s = e;
	}
	sodium_memzero(s, sizeof *s);
	s->used = 1;
	s_random_hex(cookie, size);
	s_hash(cookie, s->hash);
	snprintf(s->who.user, sizeof s->who.user, "%s", name);
	snprintf(s->who.role, sizeof s->who.role, "%s", role);
	s_random_hex(s->who.csrf, sizeof s->who.csrf);
	memcpy(s->stamp, stamp, sizeof s->stamp);
	s->created_ms = s->seen_ms = now;
	*who = s->who;
	log_info("console: %s (%s) logged in from %s", name, role, addr);
	return 0;
}

/* The session whose token is cookie, or NULL. */
static session_t *
s_session(login_t *l, const char *cookie)
{
	unsigned char h[LOGIN_HASH];
	session_t *found = NULL;
	int i;

	if (strlen(cookie) != LOGIN_TOKEN_HEX)
		return NULL;
	s_hash(cookie, h);
	for (i = 0; i < LOGIN_SESSIONS_MAX; i++)
		if (l->sessions[i].used &&
		    sodium_memcmp(l->sessions[i].hash, h, LOGIN_HASH) == 0)
			found = &l->sessions[i];
	return found;
}

int
login_find(login_t *l, const char *cookie, uint64_t now, login_who_t *who,
    err_t *err)
{
	session_t *s = cookie != NULL ? s_session(l, cookie) : NULL;
	unsigned char stamp[USERS_STAMP_BYTES];
	char role[16];

	if (s == NULL)
		return err_set(err, ERR_FORBIDDEN,
		    "session: not logged in (log in to the console, or send the API's bearer token)");
	if (now - s->seen_ms >= (uint64_t)l->conf.idle_s * 1000 ||
	    now - s->created_ms >= (uint64_t)l->conf.max_s * 1000) {
		sodium_memzero(s, sizeof *s);
		return err_set(err, ERR_FORBIDDEN,
		    "session: expired; log in again");
	}
	if (users_role(l->store, s->who.user, role, sizeof role, stamp, err))
		return -1;
	if (role[0] == '\0') {
		err_set(err, ERR_FORBIDDEN, "session: user %s no longer exists",
		    s->who.user);
		sodium_memzero(s, sizeof *s);
		return -1;
	}
	if (sodium_memcmp(stamp, s->stamp, sizeof stamp) != 0) {
		err_set(err, ERR_FORBIDDEN,
		    "session: user %s was removed and added again since; log in "
		    "again",
		    s->who.user);
		sodium_memzero(s, sizeof *s);
		return -1;
	}
	snprintf(s->who.role, sizeof s->who.role, "%s", role);
	s->seen_ms = now;
	*who = s->who;
	return 0;
}

void
login_close(login_t *l, const char *cookie)
{
	session_t *s = cookie != NULL ? s_session(l, cookie) : NULL;

	if (s != NULL) {
		log_info("console: %s logged out", s->who.user);
		sodium_memzero(s, sizeof *s);
	}
}

int
login_csrf_ok(const login_who_t *who, const char *presented)
{
	return presented != NULL && strlen(presented) == LOGIN_TOKEN_HEX &&
	    sodium_memcmp(presented, who->csrf, LOGIN_TOKEN_HEX) == 0;
}
