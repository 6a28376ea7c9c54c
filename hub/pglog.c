/*
 * pglog: the hubs' shared op log in PostgreSQL (see pglog.h for the
 * schema, the ordering guarantee and the advisory lock behind it).
 *
 * Owns one libpq connection and the statements prepared on it. Every
 * statement with data goes through PQexecPrepared with binary parameters
 * and binary results (bigint as 8 big-endian bytes, text and bytea as their
 * bytes), so bodies are never escaped or copied into SQL. Every PGresult is
 * checked with PQresultStatus and cleared on every path. A statement that
 * fails inside the append transaction rolls it back before returning, so
 * the connection stays usable unless it is lost.
 *
 * The statements are prepared at the first call that needs them, not at
 * open: on a fresh database the tables only exist after
 * pglog_init_schema.
 */
#include "pglog.h"

#include <assert.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "text.h"

/* PostgreSQL type oids (pg_type.h is a server header). */
#define OID_INT8 20
#define OID_BYTEA 17
#define OID_TEXT 25
#define OID_INT8_ARRAY 1016
#define OID_BYTEA_ARRAY 1001
#define OID_TEXT_ARRAY 1009

#define HASH_SHOWN 8 /* bytes of a hash shown in a message */
/* An append sends its ops in statements of at most this many ops and
 * about this many bytes of bodies. */
#define CHUNK_OPS 4096
#define CHUNK_BYTES (32 * 1024 * 1024)

struct pglog {
	PGconn *conn;
	int prepared;  /* how many of s_stmts exist on conn, in order */
	int unordered; /* test only: see pglog_set_unordered */
	int in_txn;    /* between pglog_begin and pglog_commit or _abort */
	uint64_t next; /* in it: the gseq the next op appended takes */
};

/* The statements, by name; parameters are all binary. */
typedef struct {
	const char *name;
	const char *sql;
	int nparams;
	Oid types[5];
} stmt_t;

enum {
	S_LOCK,
	S_MAX,
	S_INSERT,
	S_READ,
	S_RESERVE,
	S_APPEND,
	S_HOLD,
	S_HELD,
	S_COUNT
};

#define STR_(x) #x
#define STR(x) STR_(x)

static const stmt_t s_stmts[S_COUNT] = {
	[S_LOCK] = { "pglog_lock",
	    "SELECT pg_advisory_xact_lock(" STR(PGLOG_APPEND_LOCK_KEY) ")", 0,
	    { 0 } },
	[S_MAX] = { "pglog_max", "SELECT coalesce(max(gseq), 0) FROM op_log", 0,
	    { 0 } },
	[S_INSERT] = { "pglog_insert",
	    "INSERT INTO op_log (gseq, origin, seq, hash, body) "
	    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (origin, seq) DO NOTHING",
	    5, { OID_INT8, OID_TEXT, OID_INT8, OID_BYTEA, OID_BYTEA } },
	[S_READ] = { "pglog_read",
	    "SELECT gseq, origin, seq, hash, body FROM op_log "
	    "WHERE gseq > $1 ORDER BY gseq LIMIT $2",
	    2, { OID_INT8, OID_INT8 } },
	/* Test only: n numbers from a counter row, committed on its own as
	 * nextval would be. The counter starts at the log's head. */
	[S_RESERVE] = { "pglog_reserve",
	    "INSERT INTO pglog_meta AS m (key, value) VALUES ('unordered_next', "
	    "(SELECT coalesce(max(gseq), 0) FROM op_log) + $1) "
	    "ON CONFLICT (key) DO UPDATE SET value = greatest(m.value, "
	    "(SELECT coalesce(max(gseq), 0) FROM op_log)) + $1 "
	    "RETURNING value - $1",
	    1, { OID_INT8 } },
	/* Many ops in one round trip (pglog_append_in): $1 to $4 their
	 * origins, seqs, hashes and bodies, one array element per op and no
	 * (origin, seq) twice; $5 the gseq the first new one takes. Returns
	 * (ordinality, gseq, hash) for each op stored before, and
	 * (ordinality, gseq, NULL) for each stored now, numbered by
	 * ordinality from $5 on: consecutive, in batch order. The lookup
	 * is exact under the append lock, where no one else inserts;
	 * ON CONFLICT and the caller's count of the rows it got back catch
	 * anyone who does not take it. */
	[S_APPEND] = { "pglog_append",
	    "WITH u AS (SELECT * FROM unnest($1::text[], $2::bigint[], "
	    "$3::bytea[], $4::bytea[]) WITH ORDINALITY "
	    "AS u(origin, seq, hash, body, i)), "
	    "old AS (SELECT u.i, l.gseq, l.hash FROM u JOIN op_log l "
	    "ON l.origin = u.origin AND l.seq = u.seq), "
	    "new AS (SELECT u.*, $5::bigint - 1 + "
	    "row_number() OVER (ORDER BY u.i) AS gseq FROM u "
	    "WHERE u.i NOT IN (SELECT i FROM old)), "
	    "ins AS (INSERT INTO op_log (gseq, origin, seq, hash, body) "
	    "SELECT gseq, origin, seq, hash, body FROM new "
	    "ON CONFLICT (origin, seq) DO NOTHING RETURNING gseq), "
	    "unheld AS (DELETE FROM op_held h USING new "
	    "WHERE h.origin = new.origin AND h.seq = new.seq) "
	    "SELECT i, gseq, hash FROM old UNION ALL "
	    "SELECT new.i, new.gseq, NULL FROM new JOIN ins USING (gseq)",
	    5,
	    { OID_TEXT_ARRAY, OID_INT8_ARRAY, OID_BYTEA_ARRAY, OID_BYTEA_ARRAY,
		OID_INT8 } },
	/* An op a hub holds back (pglog_hold_in); the first reason stays. */
	/* An op a hub holds back (pglog_hold_in); the first reason stays.
	 * Its hseq comes from the column's default, under the append lock:
	 * holds commit in hseq order, as appends do in gseq order, so a
	 * reader going by "hseq > last seen" skips none (pglog.h). */
	[S_HOLD] = { "pglog_hold",
	    "INSERT INTO op_held (origin, seq, hash, body, reason) "
	    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (origin, seq) DO NOTHING",
	    5, { OID_TEXT, OID_INT8, OID_BYTEA, OID_BYTEA, OID_TEXT } },
	[S_HELD] = { "pglog_held",
	    "SELECT hseq, origin, seq, hash, body, reason FROM op_held "
	    "WHERE hseq > $1 ORDER BY hseq LIMIT $2",
	    2, { OID_INT8, OID_INT8 } },
};

/* Schema creation, run under PGLOG_SCHEMA_LOCK_KEY. The numbers in it are
 * PGLOG_HASH_BYTES and PGLOG_SCHEMA_VERSION, written out to keep it
 * readable. */
_Static_assert(PGLOG_HASH_BYTES == 32, "s_schema_sql checks 32 bytes");
_Static_assert(PGLOG_SCHEMA_VERSION == 1, "s_schema_sql stores version 1");
static const char s_schema_sql[] =
    "CREATE TABLE IF NOT EXISTS pglog_meta ("
    " key text PRIMARY KEY,"
    " value bigint NOT NULL);"
    "CREATE TABLE IF NOT EXISTS op_log ("
    " gseq bigint PRIMARY KEY CHECK (gseq > 0),"
    " origin text NOT NULL,"
    " seq bigint NOT NULL,"
    " hash bytea NOT NULL CHECK (octet_length(hash) = 32),"
    " body bytea NOT NULL,"
    " UNIQUE (origin, seq));"
    "CREATE SEQUENCE IF NOT EXISTS op_held_hseq;"
    "CREATE TABLE IF NOT EXISTS op_held ("
    " origin text NOT NULL,"
    " seq bigint NOT NULL,"
    " hash bytea NOT NULL CHECK (octet_length(hash) = 32),"
    " body bytea NOT NULL,"
    " reason text NOT NULL,"
    " hseq bigint NOT NULL UNIQUE DEFAULT nextval('op_held_hseq'),"
    " PRIMARY KEY (origin, seq));"
    /* A cluster made before op_held had hseq: its held ops numbered, in
     * the order of their keys. Compatible with a hub of the older build,
     * whose holds take the default too. */
    "DO $$ BEGIN"
    " IF NOT EXISTS (SELECT 1 FROM information_schema.columns"
    "  WHERE table_schema = current_schema() AND table_name = 'op_held'"
    "  AND column_name = 'hseq') THEN"
    "  ALTER TABLE op_held ADD COLUMN hseq bigint;"
    "  UPDATE op_held h SET hseq = n.hseq FROM (SELECT origin, seq,"
    "   nextval('op_held_hseq') AS hseq FROM op_held ORDER BY origin, seq)"
    "   n WHERE h.origin = n.origin AND h.seq = n.seq;"
    "  ALTER TABLE op_held ALTER COLUMN hseq SET NOT NULL,"
    "   ALTER COLUMN hseq SET DEFAULT nextval('op_held_hseq'),"
    "   ADD UNIQUE (hseq);"
    " END IF;"
    " END $$;"
    "INSERT INTO pglog_meta (key, value) VALUES ('schema_version', 1) "
    "ON CONFLICT (key) DO NOTHING";

static void
s_put64(uint8_t *b, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		b[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t
s_get64(const uint8_t *b)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

/* Runs a statement without parameters whose rows, if any, are not read
 * (BEGIN, COMMIT, DDL, taking a lock) and checks that it completed as tag
 * says ("COMMIT": a COMMIT of a failed transaction completes as ROLLBACK);
 * tag NULL accepts any. 0, or -1 with err prefixed by what. */
static int
s_exec(pglog_t *p, const char *sql, const char *tag, const char *what,
    err_t *err)
{
	PGresult *res = PQexec(p->conn, sql);
	ExecStatusType st = PQresultStatus(res);
	int rc = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		rc = pg_fail(p->conn, res, err, "%s", what);
	else if (tag != NULL && strcmp(PQcmdStatus(res), tag) != 0)
		rc = err_set(err, ERR_INTERNAL, "%s: completed as %s", what,
		    PQcmdStatus(res));
	PQclear(res);
	return rc;
}

static int
s_prepare(pglog_t *p, err_t *err)
{
	PGresult *res;
	int i;

	/* Goes on from where a failure (a table not created yet) stopped:
	 * preparing a name twice is an error. */
	for (i = p->prepared; i < S_COUNT; i++) {
		res = PQprepare(p->conn, s_stmts[i].name, s_stmts[i].sql,
		    s_stmts[i].nparams, s_stmts[i].types);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			pg_fail(p->conn, res, err, "prepare statement: %s",
			    s_stmts[i].name);
			PQclear(res);
			return -1;
		}
		PQclear(res);
		p->prepared = i + 1;
	}
	return 0;
}

/* Runs prepared statement id with binary parameters and binary results.
 * Returns the result (the caller PQclears it), whose status the caller
 * checks; PQexecPrepared may return NULL (out of memory), which
 * PQresultStatus reports as PGRES_FATAL_ERROR. */
static PGresult *
s_run(pglog_t *p, int id, const char *const *values, const int *lengths)
{
	static const int formats[5] = { 1, 1, 1, 1, 1 };

	assert(p->prepared == S_COUNT);
	return PQexecPrepared(p->conn, s_stmts[id].name, s_stmts[id].nparams,
	    values, lengths, formats, 1);
}

/* Reads the bigint at (row, col) of a binary result into *v. */
static int
s_int8(const PGresult *res, int row, int col, uint64_t *v)
{
	if (PQgetisnull(res, row, col) || PQgetlength(res, row, col) != 8)
		return -1;
	*v = s_get64((const uint8_t *)PQgetvalue(res, row, col));
	return 0;
}

pglog_t *
pglog_open(const char *uri, err_t *err)
{
	pglog_t *p;

	assert(uri != NULL);
	if ((p = calloc(1, sizeof *p)) == NULL) {
		err_set(err, ERR_INTERNAL, "open: out of memory");
		return NULL;
	}
	if ((p->conn = pg_connect(uri, err)) == NULL) {
		free(p);
		return NULL;
	}
	return p;
}

void
pglog_close(pglog_t **self_p)
{
	pglog_t *p;

	if (self_p == NULL || *self_p == NULL)
		return;
	p = *self_p;
	PQfinish(p->conn);
	free(p);
	*self_p = NULL;
}

void
pglog_set_unordered(pglog_t *p, int on)
{
	p->unordered = on != 0;
}

int
pglog_init_schema(pglog_t *p, err_t *err)
{
	PGresult *res = NULL;
	const char *v;
	char *end;
	unsigned long long version;

	if (s_exec(p, "BEGIN ISOLATION LEVEL READ COMMITTED", "BEGIN",
		"init schema: begin", err) != 0)
		goto fail;
	if (s_exec(p,
		"SELECT pg_advisory_xact_lock(" STR(PGLOG_SCHEMA_LOCK_KEY) ")",
		NULL, "init schema: lock", err) != 0)
		goto fail;
	if (s_exec(p, s_schema_sql, NULL, "init schema: create", err) != 0)
		goto fail;
	res = PQexec(p->conn,
	    "SELECT value FROM pglog_meta WHERE key = 'schema_version'");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		pg_fail(p->conn, res, err, "init schema: pglog_meta");
		goto fail;
	}
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
		err_set(err, ERR_INTERNAL,
		    "init schema: pglog_meta: no schema version");
		goto fail;
	}
	v = PQgetvalue(res, 0, 0);
	version = strtoull(v, &end, 10);
	if (*end != '\0' || version != PGLOG_SCHEMA_VERSION) {
		err_set(err, ERR_UPGRADE,
		    "init schema: pglog_meta: schema version %s, this build "
		    "knows %d",
		    v, PGLOG_SCHEMA_VERSION);
		goto fail;
	}
	PQclear(res);
	res = NULL;
	if (s_exec(p, "COMMIT", "COMMIT", "init schema: commit", err) != 0)
		goto fail;
	return 0;
fail:
	PQclear(res);
	pg_rollback(p->conn);
	return -1;
}

/* Formats the first HASH_SHOWN bytes of hash as hex into buf. */
static void
s_hex(char *buf, const uint8_t *hash)
{
	static const char digits[] = "0123456789abcdef";
	int i;

	for (i = 0; i < HASH_SHOWN; i++) {
		buf[2 * i] = digits[hash[i] >> 4];
		buf[2 * i + 1] = digits[hash[i] & 15];
	}
	buf[2 * HASH_SHOWN] = '\0';
}

/* Checks what pglog_append's caller may get wrong. */
static int
s_check_op(const pglog_op_t *op, size_t i, err_t *err)
{
	if (op->origin == NULL || op->origin[0] == '\0')
		return err_set(err, ERR_BAD_REQUEST,
		    "append op %zu of batch: no origin", i);
	if (op->seq > INT64_MAX)
		return err_set(err, ERR_BAD_REQUEST,
		    "append op %s/%llu: seq past %lld", op->origin,
		    (unsigned long long)op->seq, (long long)INT64_MAX);
	if (op->body_len > INT32_MAX)
		return err_set(err, ERR_BAD_REQUEST,
		    "append op %s/%llu: body of %zu bytes, max %ld", op->origin,
		    (unsigned long long)op->seq, op->body_len, (long)INT32_MAX);
	return 0;
}

/* Reserves n gseqs the unordered way (test only): in a statement
 * committed on its own, before the batch's transaction. Stores the first
 * in *first. */
static int
s_reserve(pglog_t *p, size_t n, uint64_t *first, err_t *err)
{
	uint8_t nb[8];
	const char *values[1] = { (const char *)nb };
	const int lengths[1] = { 8 };
	PGresult *res;
	uint64_t before = 0;
	int rc = 0;

	s_put64(nb, n);
	res = s_run(p, S_RESERVE, values, lengths);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = pg_fail(p->conn, res, err, "append batch of %zu: reserve",
		    n);
	else if (PQntuples(res) != 1 || s_int8(res, 0, 0, &before) != 0)
		rc = err_set(err, ERR_INTERNAL,
		    "append batch of %zu: reserve: no number", n);
	else
		*first = before + 1;
	PQclear(res);
	return rc;
}

/* Takes the append lock and stores the gseq after the highest committed
 * one in *next. Inside the append transaction. */
static int
s_lock_next(pglog_t *p, uint64_t *next, err_t *err)
{
	PGresult *res;
	uint64_t max = 0;
	int rc = 0;

	res = s_run(p, S_LOCK, NULL, NULL);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = pg_fail(p->conn, res, err, "append: lock");
		PQclear(res);
		return rc;
	}
	PQclear(res);
	/* A statement of its own: in READ COMMITTED its snapshot is taken
	 * now, after the lock, so it sees the previous holder's rows. */
	res = s_run(p, S_MAX, NULL, NULL);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = pg_fail(p->conn, res, err, "append: op_log");
	else if (PQntuples(res) != 1 || s_int8(res, 0, 0, &max) != 0)
		rc = err_set(err, ERR_INTERNAL, "append: op_log: no head");
	else
		*next = max + 1;
	PQclear(res);
	return rc;
}

/* Inserts op as gseq unless its (origin, seq) is stored; sets *inserted
 * to whether it did. */
static int
s_insert(pglog_t *p, const pglog_op_t *op, uint64_t gseq, int *inserted,
    err_t *err)
{
	uint8_t gb[8], sb[8];
	const char *values[5];
	int lengths[5];
	PGresult *res;
	int rc = 0;

	s_put64(gb, gseq);
	s_put64(sb, op->seq);
	values[0] = (const char *)gb;
	lengths[0] = 8;
	values[1] = op->origin;
	lengths[1] = (int)strlen(op->origin);
	values[2] = (const char *)sb;
	lengths[2] = 8;
	values[3] = (const char *)op->hash;
	lengths[3] = PGLOG_HASH_BYTES;
	/* A NULL value would be SQL NULL; an empty body is "". */
	values[4] = op->body != NULL ? (const char *)op->body : "";
	lengths[4] = (int)op->body_len;
	res = s_run(p, S_INSERT, values, lengths);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = pg_fail(p->conn, res, err, "append op %s/%llu: op_log",
		    op->origin, (unsigned long long)op->seq);
	else
		*inserted = strcmp(PQcmdTuples(res), "1") == 0;
	PQclear(res);
	return rc;
}

/* A one-dimensional array in PostgreSQL's binary format (array_recv): a
 * header (dimensions, a flag for NULLs, the element type, the element
 * count, the lower bound), then each element as its length and bytes. */
typedef struct {
	uint8_t *data;
	size_t len, cap;
	uint32_t count;
} arr_t;

static void
s_put32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

static int
s_arr_bytes(arr_t *a, const void *v, size_t n)
{
	size_t cap = a->cap ? a->cap : 4096;
	uint8_t *d;

	if (a->len + n > a->cap) {
		while (cap < a->len + n)
			cap *= 2;
		if ((d = realloc(a->data, cap)) == NULL)
			return -1;
		a->data = d;
		a->cap = cap;
	}
	memcpy(a->data + a->len, v, n);
	a->len += n;
	return 0;
}

/* Empties a (its buffer kept) for elements of type elem. */
static int
s_arr_start(arr_t *a, Oid elem)
{
	uint8_t h[20];

	s_put32(h, 1);	   /* dimensions */
	s_put32(h + 4, 0); /* no NULL element */
	s_put32(h + 8, elem);
	s_put32(h + 12, 0); /* elements: counted by s_arr_add */
	s_put32(h + 16, 1); /* lower bound */
	a->len = 0;
	a->count = 0;
	return s_arr_bytes(a, h, sizeof h);
}

static int
s_arr_add(arr_t *a, const void *v, size_t n)
{
	uint8_t l[4];

	s_put32(l, (uint32_t)n);
	if (s_arr_bytes(a, l, sizeof l) != 0 || s_arr_bytes(a, v, n) != 0)
		return -1;
	s_put32(a->data + 12, ++a->count);
	return 0;
}

/* An op of a batch and its place in it, sorted by (origin, seq) to find
 * the ops a batch holds twice. */
typedef struct {
	const pglog_op_t *op;
	size_t i;
} slot_t;

static int
s_slot_key_cmp(const slot_t *x, const slot_t *y)
{
	int c = strcmp(x->op->origin, y->op->origin);

	if (c != 0)
		return c;
	return x->op->seq < y->op->seq ? -1 : x->op->seq > y->op->seq;
}

static int
s_slot_cmp(const void *a, const void *b)
{
	const slot_t *x = a, *y = b;
	int c = s_slot_key_cmp(x, y);

	if (c != 0)
		return c;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* Appends the m ops ops[uniq[0..m-1]] (no (origin, seq) twice) in one
 * S_APPEND: for each, gseqs[] gets its gseq and held[] (PGLOG_HASH_BYTES
 * an op, at its index in ops) the hash the log holds under its (origin,
 * seq); status[] is PGLOG_APPENDED for those stored now, PGLOG_DUPLICATE
 * for those stored before (the caller compares the hashes). a: four
 * arrays to build the parameters in, reused across calls. Moves p->next
 * past the ops stored now. 0, or -1 with err. */
static int
s_append_chunk(pglog_t *p, const pglog_op_t *ops, const size_t *uniq, size_t m,
    uint64_t *gseqs, pglog_status_t *status, uint8_t *held, arr_t a[4],
    err_t *err)
{
	uint8_t nb[8], sb[8];
	const char *values[5];
	int lengths[5];
	PGresult *res = NULL;
	const pglog_op_t *op;
	uint64_t i, gseq, next;
	size_t k, j;
	int r, rows = 0, rc = -1;

	if (s_arr_start(&a[0], OID_TEXT) != 0 ||
	    s_arr_start(&a[1], OID_INT8) != 0 ||
	    s_arr_start(&a[2], OID_BYTEA) != 0 ||
	    s_arr_start(&a[3], OID_BYTEA) != 0)
		goto oom;
	for (k = 0; k < m; k++) {
		op = &ops[uniq[k]];
		s_put64(sb, op->seq);
		/* A NULL body would be SQL NULL; an empty body is "". */
		if (s_arr_add(&a[0], op->origin, strlen(op->origin)) != 0 ||
		    s_arr_add(&a[1], sb, sizeof sb) != 0 ||
		    s_arr_add(&a[2], op->hash, PGLOG_HASH_BYTES) != 0 ||
		    s_arr_add(&a[3], op->body != NULL ? op->body : nb,
			op->body_len) != 0)
			goto oom;
		status[uniq[k]] = (pglog_status_t)0; /* not answered yet */
	}
	for (k = 0; k < 4; k++) {
		if (a[k].len > INT32_MAX) {
			err_set(err, ERR_BAD_REQUEST,
			    "append batch of %zu: %zu bytes in one parameter, "
			    "max %ld",
			    m, a[k].len, (long)INT32_MAX);
			goto out;
		}
		values[k] = (const char *)a[k].data;
		lengths[k] = (int)a[k].len;
	}
	s_put64(nb, p->next);
	values[4] = (const char *)nb;
	lengths[4] = 8;
	res = s_run(p, S_APPEND, values, lengths);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != 3) {
		pg_fail(p->conn, res, err, "append batch of %zu: op_log", m);
		goto out;
	}
	rows = PQntuples(res);
	for (r = 0; r < rows; r++) {
		if (s_int8(res, r, 0, &i) != 0 || i < 1 || i > m ||
		    s_int8(res, r, 1, &gseq) != 0 || status[uniq[i - 1]] != 0 ||
		    (!PQgetisnull(res, r, 2) &&
			PQgetlength(res, r, 2) != PGLOG_HASH_BYTES))
			goto bad;
		j = uniq[i - 1];
		gseqs[j] = gseq;
		if (PQgetisnull(res, r, 2)) {
			status[j] = PGLOG_APPENDED;
			memcpy(held + j * PGLOG_HASH_BYTES, ops[j].hash,
			    PGLOG_HASH_BYTES);
		} else {
			status[j] = PGLOG_DUPLICATE;
			memcpy(held + j * PGLOG_HASH_BYTES,
			    PQgetvalue(res, r, 2), PGLOG_HASH_BYTES);
		}
	}
	/* Every op answered once, those stored now numbered on from
	 * p->next in batch order. */
	for (k = 0, next = p->next; k < m; k++) {
		j = uniq[k];
		if (status[j] == 0 ||
		    (status[j] == PGLOG_APPENDED && gseqs[j] != next++))
			goto bad;
	}
	p->next = next;
	rc = 0;
	goto out;
bad:
	err_set(err, ERR_INTERNAL,
	    "append batch of %zu: op_log: %d rows back, not one an op "
	    "numbered from %llu (an appender without the lock?)",
	    m, rows, (unsigned long long)p->next);
	goto out;
oom:
	err_set(err, ERR_INTERNAL, "append batch of %zu: out of memory", m);
out:
	PQclear(res);
	return rc;
}

int
pglog_begin(pglog_t *p, uint64_t *head, err_t *err)
{
	uint64_t next = 0;

	assert(!p->in_txn);
	if (s_prepare(p, err) != 0)
		return -1;
	if (s_exec(p, "BEGIN ISOLATION LEVEL READ COMMITTED", "BEGIN",
		"append: begin", err) != 0)
		goto fail;
	if (s_lock_next(p, &next, err) != 0)
		goto fail;
	p->in_txn = 1;
	p->next = next;
	*head = next - 1;
	return 0;
fail:
	pg_rollback(p->conn);
	return -1;
}

int
pglog_append_in(pglog_t *p, const pglog_op_t *ops, size_t n, uint64_t *gseqs,
    pglog_status_t *status, err_t *err)
{
	char first[ERR_MSG_MAX], ours[2 * HASH_SHOWN + 1];
	char stored[2 * HASH_SHOWN + 1];
	slot_t *slots = NULL;
	size_t *firsts = NULL, *uniq = NULL;
	uint8_t *held = NULL;
	arr_t a[4];
	size_t i, j, m = 0, start, bytes, conflicts = 0;
	int rc = -1;

	assert(p->in_txn);
	err_clear(err);
	memset(a, 0, sizeof a);
	for (i = 0; i < n; i++)
		if (s_check_op(&ops[i], i, err) != 0)
			goto out;
	if (n == 0)
		return 0;
	slots = malloc(n * sizeof *slots);
	firsts = malloc(n * sizeof *firsts);
	uniq = malloc(n * sizeof *uniq);
	held = malloc(n * PGLOG_HASH_BYTES);
	if (slots == NULL || firsts == NULL || uniq == NULL || held == NULL) {
		err_set(err, ERR_INTERNAL, "append batch of %zu: out of memory",
		    n);
		goto out;
	}
	/* An op the batch holds twice is stored once, under its first
	 * place: firsts[i] is that place. */
	for (i = 0; i < n; i++) {
		slots[i].op = &ops[i];
		slots[i].i = i;
	}
	qsort(slots, n, sizeof *slots, s_slot_cmp);
	for (i = 0; i < n; i++)
		firsts[slots[i].i] = i > 0 &&
			s_slot_key_cmp(&slots[i - 1], &slots[i]) == 0
		    ? firsts[slots[i - 1].i]
		    : slots[i].i;
	for (i = 0; i < n; i++)
		if (firsts[i] == i)
			uniq[m++] = i;
	/* Those, in batch order, a statement for many of them. */
	for (start = 0; start < m; start = j) {
		bytes = 0;
		for (j = start; j < m && j - start < CHUNK_OPS; j++) {
			if (j > start &&
			    bytes + ops[uniq[j]].body_len > CHUNK_BYTES)
				break;
			bytes += ops[uniq[j]].body_len;
		}
		if (s_append_chunk(p, ops, uniq + start, j - start, gseqs,
			status, held, a, err) != 0)
			goto out;
	}
	/* An op stored before, or twice in the batch, is a duplicate when
	 * the log holds it with its hash, else a conflict. */
	for (i = 0; i < n; i++) {
		j = firsts[i];
		gseqs[i] = gseqs[j];
		if (j == i && status[i] == PGLOG_APPENDED)
			continue;
		if (memcmp(held + j * PGLOG_HASH_BYTES, ops[i].hash,
			PGLOG_HASH_BYTES) == 0) {
			status[i] = PGLOG_DUPLICATE;
			continue;
		}
		status[i] = PGLOG_CONFLICT;
		if (conflicts++ == 0) {
			s_hex(ours, ops[i].hash);
			s_hex(stored, held + j * PGLOG_HASH_BYTES);
			text_printf(first, sizeof first,
			    "append op %s/%llu: conflict: hash %s... differs "
			    "from %s... at gseq %llu",
			    ops[i].origin, (unsigned long long)ops[i].seq, ours,
			    stored, (unsigned long long)gseqs[i]);
		}
	}
	if (conflicts == 1)
		err_set(err, ERR_CONFLICT, "%s", first);
	else if (conflicts > 1)
		err_set(err, ERR_CONFLICT, "%s (and %zu more)", first,
		    conflicts - 1);
	rc = 0;
out:
	free(slots);
	free(firsts);
	free(uniq);
	free(held);
	for (i = 0; i < 4; i++)
		free(a[i].data);
	if (rc != 0)
		pglog_abort(p);
	return rc;
}

int
pglog_import_in(pglog_t *p, const pglog_row_t *rows, size_t n, err_t *err)
{
	size_t i;
	int inserted = 0;

	assert(p->in_txn);
	for (i = 0; i < n; i++) {
		if (s_check_op(&rows[i].op, i, err) != 0)
			goto fail;
		if (rows[i].gseq < p->next || rows[i].gseq > INT64_MAX) {
			err_set(err, ERR_CONFLICT,
			    "import op %s/%llu: gseq %llu is not above %llu",
			    rows[i].op.origin,
			    (unsigned long long)rows[i].op.seq,
			    (unsigned long long)rows[i].gseq,
			    (unsigned long long)(p->next - 1));
			goto fail;
		}
		if (s_insert(p, &rows[i].op, rows[i].gseq, &inserted, err) != 0)
			goto fail;
		if (!inserted) {
			err_set(err, ERR_CONFLICT,
			    "import op %s/%llu at gseq %llu: op_log holds "
			    "%s/%llu",
			    rows[i].op.origin,
			    (unsigned long long)rows[i].op.seq,
			    (unsigned long long)rows[i].gseq, rows[i].op.origin,
			    (unsigned long long)rows[i].op.seq);
			goto fail;
		}
		p->next = rows[i].gseq + 1;
	}
	return 0;
fail:
	pglog_abort(p);
	return -1;
}

int
pglog_hold_in(pglog_t *p, const pglog_op_t *op, const char *reason, err_t *err)
{
	uint8_t sb[8];
	const char *values[5];
	int lengths[5];
	PGresult *res;

	assert(p->in_txn);
	if (s_check_op(op, 0, err) != 0)
		goto fail;
	s_put64(sb, op->seq);
	values[0] = op->origin;
	lengths[0] = (int)strlen(op->origin);
	values[1] = (const char *)sb;
	lengths[1] = 8;
	values[2] = (const char *)op->hash;
	lengths[2] = PGLOG_HASH_BYTES;
	values[3] = op->body != NULL ? (const char *)op->body : "";
	lengths[3] = (int)op->body_len;
	values[4] = reason;
	lengths[4] = (int)strlen(reason);
	res = s_run(p, S_HOLD, values, lengths);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		pg_fail(p->conn, res, err, "hold op %s/%llu: op_held",
		    op->origin, (unsigned long long)op->seq);
		PQclear(res);
		goto fail;
	}
	PQclear(res);
	return 0;
fail:
	pglog_abort(p);
	return -1;
}

int
pglog_held(pglog_t *p, uint64_t after, pglog_row_fn fn, void *arg,
    uint64_t *last, size_t *n_read, err_t *err)
{
	uint8_t ab[8], lb[8];
	const char *values[2] = { (const char *)ab, (const char *)lb };
	int lengths[2] = { 8, 8 };
	PGresult *res = NULL;
	pglog_row_t row;
	int i, rows, rc = 0;

	assert(fn != NULL && after <= INT64_MAX);
	*last = after;
	if (n_read != NULL)
		*n_read = 0;
	if (s_prepare(p, err) != 0)
		return -1;
	s_put64(lb, PGLOG_HELD_BATCH);
	do {
		s_put64(ab, *last);
		res = s_run(p, S_HELD, values, lengths);
		if (PQresultStatus(res) != PGRES_TUPLES_OK ||
		    PQnfields(res) != 6) {
			rc = pg_fail(p->conn, res, err, "read op_held");
			goto out;
		}
		rows = PQntuples(res);
		for (i = 0; i < rows; i++) {
			memset(&row, 0, sizeof row);
			row.op.origin = PQgetvalue(res, i, 1);
			row.reason = PQgetvalue(res, i, 5);
			if (s_int8(res, i, 0, &row.hseq) != 0 ||
			    row.hseq <= *last ||
			    s_int8(res, i, 2, &row.op.seq) != 0 ||
			    (int)strlen(row.op.origin) !=
				PQgetlength(res, i, 1) ||
			    PQgetlength(res, i, 3) != PGLOG_HASH_BYTES) {
				rc = err_set(err, ERR_INTERNAL,
				    "read op_held: row %d: bad hseq, origin, "
				    "seq or hash",
				    i);
				goto out;
			}
			memcpy(row.op.hash, PQgetvalue(res, i, 3),
			    PGLOG_HASH_BYTES);
			row.op.body = (const uint8_t *)PQgetvalue(res, i, 4);
			row.op.body_len = (size_t)PQgetlength(res, i, 4);
			if (fn(arg, &row, err) != 0) {
				rc = -1;
				goto out;
			}
			*last = row.hseq;
			if (n_read != NULL)
				(*n_read)++;
		}
		PQclear(res);
		res = NULL;
	} while (rows == PGLOG_HELD_BATCH);
out:
	PQclear(res);
	return rc;
}

int
pglog_commit(pglog_t *p, err_t *err)
{
	assert(p->in_txn);
	p->in_txn = 0;
	if (s_exec(p, "COMMIT", "COMMIT", "append: commit", err) != 0) {
		pg_rollback(p->conn);
		return -1;
	}
	return 0;
}

void
pglog_abort(pglog_t *p)
{
	if (!p->in_txn)
		return;
	p->in_txn = 0;
	pg_rollback(p->conn);
}

int
pglog_append(pglog_t *p, const pglog_op_t *ops, size_t n, uint64_t *gseqs,
    pglog_status_t *status, err_t *err)
{
	uint64_t head, next = 0;
	err_t kept;
	size_t i;

	err_clear(err);
	if (n == 0)
		return 0;
	assert(ops != NULL && gseqs != NULL && status != NULL);
	for (i = 0; i < n; i++)
		if (s_check_op(&ops[i], i, err) != 0)
			return -1;
	if (!p->unordered) {
		if (pglog_begin(p, &head, err) != 0)
			return -1;
	} else {
		/* Test only: numbers taken before the transaction, as a
		 * sequence hands them out. */
		if (s_prepare(p, err) != 0 || s_reserve(p, n, &next, err) != 0)
			return -1;
		if (s_exec(p, "BEGIN ISOLATION LEVEL READ COMMITTED", "BEGIN",
			"append: begin", err) != 0) {
			pg_rollback(p->conn);
			return -1;
		}
		p->in_txn = 1;
		p->next = next;
	}
	if (pglog_append_in(p, ops, n, gseqs, status, err) != 0)
		return -1;
	kept = *err; /* the conflicts, if any */
	if (pglog_commit(p, err) != 0)
		return -1;
	*err = kept;
	return 0;
}

int
pglog_read(pglog_t *p, uint64_t after, size_t limit, pglog_row_fn fn, void *arg,
    size_t *n_read, err_t *err)
{
	uint8_t ab[8], lb[8];
	const char *values[2] = { (const char *)ab, (const char *)lb };
	const int lengths[2] = { 8, 8 };
	PGresult *res;
	pglog_row_t row;
	int i, rows, rc = 0;

	assert(limit > 0 && fn != NULL);
	if (n_read != NULL)
		*n_read = 0;
	if (after > INT64_MAX)
		return err_set(err, ERR_BAD_REQUEST,
		    "read after %llu: past %lld", (unsigned long long)after,
		    (long long)INT64_MAX);
	if (limit > INT64_MAX)
		limit = INT64_MAX;
	if (s_prepare(p, err) != 0)
		return -1;
	s_put64(ab, after);
	s_put64(lb, limit);
	res = s_run(p, S_READ, values, lengths);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != 5) {
		rc = pg_fail(p->conn, res, err, "read after %llu: op_log",
		    (unsigned long long)after);
		goto out;
	}
	rows = PQntuples(res);
	for (i = 0; i < rows; i++) {
		memset(&row, 0, sizeof row);
		if (s_int8(res, i, 0, &row.gseq) != 0 ||
		    s_int8(res, i, 2, &row.op.seq) != 0) {
			rc = err_set(err, ERR_INTERNAL,
			    "read after %llu: op_log: row %d: bad gseq or seq",
			    (unsigned long long)after, i);
			goto out;
		}
		row.op.origin = PQgetvalue(res, i, 1);
		/* libpq ends every value with a NUL, binary ones too. */
		if ((int)strlen(row.op.origin) != PQgetlength(res, i, 1) ||
		    PQgetlength(res, i, 3) != PGLOG_HASH_BYTES) {
			rc = err_set(err, ERR_INTERNAL,
			    "read after %llu: op_log: gseq %llu: bad origin or "
			    "hash of %d bytes",
			    (unsigned long long)after,
			    (unsigned long long)row.gseq,
			    PQgetlength(res, i, 3));
			goto out;
		}
		memcpy(row.op.hash, PQgetvalue(res, i, 3), PGLOG_HASH_BYTES);
		row.op.body = (const uint8_t *)PQgetvalue(res, i, 4);
		row.op.body_len = (size_t)PQgetlength(res, i, 4);
		if (fn(arg, &row, err) != 0) {
			rc = -1;
			goto out;
		}
		if (n_read != NULL)
			(*n_read)++;
	}
out:
	PQclear(res);
	return rc;
}

int
pglog_head(pglog_t *p, uint64_t *gseq, err_t *err)
{
	PGresult *res;
	int rc = 0;

	if (s_prepare(p, err) != 0)
		return -1;
	res = s_run(p, S_MAX, NULL, NULL);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = pg_fail(p->conn, res, err, "head: op_log");
	else if (PQntuples(res) != 1 || s_int8(res, 0, 0, gseq) != 0)
		rc = err_set(err, ERR_INTERNAL, "head: op_log: no head");
	PQclear(res);
	return rc;
}
