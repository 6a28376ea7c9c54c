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
