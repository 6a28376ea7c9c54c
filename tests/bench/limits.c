/* limits: this machine's SQLite and ZeroMQ ceilings (see bench.h). */
#include "bench.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

double
limit_sqlite(const char *dir, long rows)
{
	char path[4096];
	sqlite3 *db;
	sqlite3_stmt *s;
	uint8_t body[96];
	long i;
	double t0, t;

	snprintf(path, sizeof path, "%s/limit.db", dir);
	unlink(path);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		bench_die("open %s", path);
	sqlite3_exec(db,
	    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
	    "CREATE TABLE op_log (lsn INTEGER PRIMARY KEY, origin TEXT NOT NULL,"
	    " seq INTEGER NOT NULL, hlc INTEGER NOT NULL, entity TEXT NOT NULL,"
	    " key TEXT NOT NULL, body BLOB NOT NULL, UNIQUE (origin, seq))",
	    NULL, NULL, NULL);
	sqlite3_prepare_v2(db,
	    "INSERT INTO op_log(origin, seq, hlc, entity, "
	    "key, body) VALUES ('S001', ?, ?, 'stock_movement', ?, ?)",
	    -1, &s, NULL);
	randombytes_buf(body, sizeof body);
	t0 = bench_now();
	for (i = 0; i < rows; i++) {
		char key[32];

		if (i % 2000 == 0)
			sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		snprintf(key, sizeof key, "S001-%06ld", i);
		sqlite3_bind_int64(s, 1, i + 1);
		sqlite3_bind_int64(s, 2, i);
		sqlite3_bind_text(s, 3, key, -1, SQLITE_TRANSIENT);
		sqlite3_bind_blob(s, 4, body, sizeof body, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE)
			bench_die("sqlite limit: %s", sqlite3_errmsg(db));
		sqlite3_reset(s);
		if (i % 2000 == 1999 || i == rows - 1)
			sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	}
	t = bench_now() - t0;
	sqlite3_finalize(s);
	sqlite3_close(db);
	unlink(path);
	return (double)rows / t;
}

/* The rows a till sale writes at a node (POST /v1/orders: an order of two
 * lines, completed and paid by card), in tables of the node's shapes. */
static const char s_floor_schema[] =
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
    "CREATE TABLE meta (name TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "CREATE TABLE op_log (lsn INTEGER PRIMARY KEY, origin TEXT NOT NULL,"
    " seq INTEGER NOT NULL, hlc INTEGER NOT NULL, entity TEXT NOT NULL,"
    " key TEXT NOT NULL, body BLOB NOT NULL, chain BLOB,"
    " UNIQUE (origin, seq));"
    "CREATE TABLE orders (id TEXT PRIMARY KEY, site TEXT NOT NULL,"
    " channel TEXT NOT NULL, currency TEXT NOT NULL, total INTEGER NOT NULL,"
    " created_hlc INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE order_lines (order_id TEXT NOT NULL, line INTEGER NOT NULL,"
    " sku TEXT NOT NULL, qty INTEGER NOT NULL, unit_price INTEGER NOT NULL,"
    " PRIMARY KEY (order_id, line)) WITHOUT ROWID;"
    "CREATE TABLE order_history (order_id TEXT NOT NULL, origin TEXT NOT NULL,"
    " seq INTEGER NOT NULL, hlc INTEGER NOT NULL, status TEXT NOT NULL,"
    " PRIMARY KEY (order_id, origin, seq)) WITHOUT ROWID;"
    "CREATE TABLE payments (id TEXT PRIMARY KEY, order_id TEXT NOT NULL,"
    " method TEXT NOT NULL, amount INTEGER NOT NULL, hlc INTEGER NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE INDEX payments_order ON payments (order_id);"
    "CREATE TABLE stock_movements (id TEXT PRIMARY KEY, site TEXT NOT NULL,"
    " sku TEXT NOT NULL, delta INTEGER NOT NULL, hlc INTEGER NOT NULL,"
    " order_id TEXT) WITHOUT ROWID;"
    "CREATE INDEX stock_movements_order ON stock_movements (order_id);"
    "CREATE TABLE stock (site TEXT NOT NULL, sku TEXT NOT NULL,"
    " on_hand INTEGER NOT NULL, PRIMARY KEY (site, sku)) WITHOUT ROWID;"
    "CREATE TABLE requests (entity TEXT NOT NULL, id TEXT NOT NULL,"
    " hash BLOB NOT NULL, PRIMARY KEY (entity, id)) WITHOUT ROWID;";

/* The statements of one sale; ?1 the order id, ?2 a seq, ?3 a clock, ?4 a
 * body or hash, ?5 a line or sku number. */
static const char *const s_floor_sql[] = {
	"SELECT value FROM meta WHERE name = 'hlc'",
	"SELECT value FROM meta WHERE name = 'seq'",
	"INSERT INTO op_log(origin, seq, hlc, entity, key, body, chain) "
	"VALUES ('S001', ?2, ?3, 'order', ?1, ?4, ?4)",
	"INSERT INTO orders VALUES (?1, 'S001', 'store', 'CNY', 500, ?3)",
	"INSERT INTO order_lines VALUES (?1, ?5, 'SKU' || ?5, ?5, 100)",
	"INSERT INTO order_history VALUES (?1, 'S001', ?2, ?3, 'completed')",
	"INSERT INTO op_log(origin, seq, hlc, entity, key, body, chain) "
	"VALUES ('S001', ?2, ?3, 'stock_movement', ?1 || '-' || ?5, ?4, ?4)",
	"INSERT INTO stock_movements VALUES (?1 || '-' || ?5, 'S001', "
	"'SKU' || ?5, -?5, ?3, ?1)",
	"INSERT INTO stock VALUES ('S001', 'SKU' || ?5, -?5) ON CONFLICT DO "
	"UPDATE SET on_hand = on_hand + excluded.on_hand",
	"INSERT INTO op_log(origin, seq, hlc, entity, key, body, chain) "
	"VALUES ('S001', ?2, ?3, 'payment', ?1 || '-P', ?4, ?4)",
	"INSERT INTO payments VALUES (?1 || '-P', ?1, 'card', 500, ?3)",
	"INSERT INTO requests VALUES ('order', ?1, ?4)",
	"INSERT INTO meta VALUES ('hlc', ?3) ON CONFLICT DO UPDATE SET "
	"value = excluded.value",
	"INSERT INTO meta VALUES ('seq', ?2) ON CONFLICT DO UPDATE SET "
	"value = excluded.value",
};
#define FLOOR_STMTS (sizeof s_floor_sql / sizeof s_floor_sql[0])

/* Steps s, one statement of the sale of order id, bound with the seq, the
 * clock, an op's body and a line as its parameters ask. */
static void
s_floor_step(sqlite3 *db, sqlite3_stmt *s, const char *id, long seq, long hlc,
    const uint8_t *body, int line)
{
	if (sqlite3_bind_parameter_count(s) >= 1)
		sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(s) >= 2)
		sqlite3_bind_int64(s, 2, seq);
	if (sqlite3_bind_parameter_count(s) >= 3)
		sqlite3_bind_int64(s, 3, hlc);
	if (sqlite3_bind_parameter_count(s) >= 4)
		sqlite3_bind_blob(s, 4, body, 200, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(s) >= 5)
		sqlite3_bind_int(s, 5, line);
	while (sqlite3_step(s) == SQLITE_ROW)
		;
	if (sqlite3_reset(s) != SQLITE_OK)
		bench_die("commit floor: %s", sqlite3_errmsg(db));
}

void
limit_commit_floor(const char *dir, int n, double *lat_ms)
{
	char path[4096], id[32];
	sqlite3 *db;
	sqlite3_stmt *s[FLOOR_STMTS];
	uint8_t body[200];
	long seq = 0;
	size_t k;
	int i, line;
	double t;

	snprintf(path, sizeof path, "%s/floor.db", dir);
	unlink(path);
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, s_floor_schema, NULL, NULL, NULL) != SQLITE_OK)
		bench_die("commit floor %s: %s", path, sqlite3_errmsg(db));
	for (k = 0; k < FLOOR_STMTS; k++)
		if (sqlite3_prepare_v2(db, s_floor_sql[k], -1, &s[k], NULL) !=
		    SQLITE_OK)
			bench_die("commit floor: %s: %s", s_floor_sql[k],
			    sqlite3_errmsg(db));
	randombytes_buf(body, sizeof body);
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof id, "S001-%06d", i);
		t = bench_now();
		sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		for (k = 0; k < FLOOR_STMTS; k++) {
			/* Lines and their movements twice, one op each. */
			const char *sql = s_floor_sql[k];
			int times = strstr(sql, "?5") != NULL ? 2 : 1;
			int op = strstr(sql, "INTO op_log") != NULL;

			for (line = 1; line <= times; line++) {
				seq += op;
				s_floor_step(db, s[k], id, seq, i, body, line);
			}
		}
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			bench_die("commit floor: %s", sqlite3_errmsg(db));
		lat_ms[i] = (bench_now() - t) * 1000;
	}
	for (k = 0; k < FLOOR_STMTS; k++)
		sqlite3_finalize(s[k]);
	sqlite3_close(db);
	unlink(path);
}

typedef struct {
	void *ctx;
	char endpoint[64];
	char server_secret[41];
	long msgs;
} sink_t;

static void *
s_sink(void *arg)
{
	sink_t *k = arg;
	void *router = zmq_socket(k->ctx, ZMQ_ROUTER);
	int one = 1, hwm = 100000;
	long n;
	zmq_msg_t m;

	zmq_setsockopt(router, ZMQ_CURVE_SERVER, &one, sizeof one);
	zmq_setsockopt(router, ZMQ_CURVE_SECRETKEY, k->server_secret, 40);
	zmq_setsockopt(router, ZMQ_RCVHWM, &hwm, sizeof hwm);
	zmq_bind(router, "tcp://127.0.0.1:*");
	{
		size_t sz = sizeof k->endpoint;

		zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, k->endpoint, &sz);
	}
	zmq_msg_init(&m);
	for (n = 0; n < k->msgs; n++) {
		zmq_msg_recv(&m, router, 0); /* routing id */
		zmq_msg_recv(&m, router, 0); /* payload */
	}
	zmq_msg_close(&m);
	zmq_send(router, "", 0, 0); /* unroutable: ignored */
	zmq_close(router);
	return NULL;
}

double
limit_curve(long msgs, size_t size)
{
	char spub[41], ssec[41], cpub[41], csec[41];
	void *ctx = zmq_ctx_new(), *dealer;
	sink_t k;
	pthread_t th;
	uint8_t *payload = malloc(size);
	int hwm = 100000, zero = 0;
	long i;
	double t0, t;

	zmq_curve_keypair(spub, ssec);
	zmq_curve_keypair(cpub, csec);
	memset(&k, 0, sizeof k);
	k.ctx = ctx;
	k.msgs = msgs;
	memcpy(k.server_secret, ssec, 41);
	pthread_create(&th, NULL, s_sink, &k);
	while (k.endpoint[0] == '\0')
		usleep(1000);
	dealer = zmq_socket(ctx, ZMQ_DEALER);
	zmq_setsockopt(dealer, ZMQ_CURVE_SERVERKEY, spub, 40);
	zmq_setsockopt(dealer, ZMQ_CURVE_PUBLICKEY, cpub, 40);
	zmq_setsockopt(dealer, ZMQ_CURVE_SECRETKEY, csec, 40);
	zmq_setsockopt(dealer, ZMQ_SNDHWM, &hwm, sizeof hwm);
	zmq_setsockopt(dealer, ZMQ_LINGER, &zero, sizeof zero);
	zmq_connect(dealer, k.endpoint);
	memset(payload, 0xa5, size);
	t0 = bench_now();
	for (i = 0; i < msgs; i++)
		zmq_send(dealer, payload, size, 0);
	pthread_join(th, NULL);
	t = bench_now() - t0;
	zmq_close(dealer);
	zmq_ctx_term(ctx);
	free(payload);
	return (double)msgs / t;
}
