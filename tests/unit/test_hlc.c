/*
 * test_hlc: the hybrid logical clock's one invariant, that every timestamp it
 * issues is above everything it issued or observed, whatever the wall clock
 * does; the drift bound of hlc_observe; and that the invariant holds across
 * a restart, both for a bare clock and for a store that persists it.
 */
#include <stdio.h>
#include <string.h>

#include "apply.h"
#include "harness.h"
#include "hlc.h"
#include "op.h"
#include "store.h"

/* 2023-11-14T22:13:20Z: an ordinary present-day wall clock. */
#define WALL0 1700000000000ull
#define HOUR_MS (3600ull * 1000)

TEST(pack_and_unpack)
{
	uint64_t ts = hlc_pack(WALL0, 7);

	CHECK_EQ_UINT(ts, (WALL0 << 16) | 7);
	CHECK_EQ_UINT(hlc_ms(ts), WALL0);
	CHECK_EQ_UINT(hlc_counter(ts), 7);
	/* A counter beyond 16 bits is masked, never spills into the ms. */
	CHECK_EQ_UINT(hlc_pack(WALL0, 0x10001), hlc_pack(WALL0, 1));
	/* Later ms beats any counter. */
	CHECK(hlc_pack(WALL0 + 1, 0) > hlc_pack(WALL0, HLC_COUNTER_MAX));
}

TEST(tick_follows_a_wall_clock_that_moves_forward)
{
	hlc_t c;

	hlc_init(&c, 0, HLC_DEFAULT_MAX_DRIFT_MS);
	CHECK_EQ_UINT(hlc_tick(&c, WALL0), hlc_pack(WALL0, 0));
	CHECK_EQ_UINT(hlc_tick(&c, WALL0 + 5), hlc_pack(WALL0 + 5, 0));
	CHECK_EQ_UINT(hlc_last(&c), hlc_pack(WALL0 + 5, 0));
	/* Same ms again: the logical counter moves. */
	CHECK_EQ_UINT(hlc_tick(&c, WALL0 + 5), hlc_pack(WALL0 + 5, 1));
	CHECK_EQ_UINT(hlc_tick(&c, WALL0 + 5), hlc_pack(WALL0 + 5, 2));
	CHECK_EQ_UINT(hlc_tick(&c, WALL0 + 6), hlc_pack(WALL0 + 6, 0));
}

TEST(tick_is_monotonic_when_the_wall_jumps_back_hours)
{
	hlc_t c;
	uint64_t a, b, d, e;

	hlc_init(&c, 0, HLC_DEFAULT_MAX_DRIFT_MS);
	a = hlc_tick(&c, WALL0);
	b = hlc_tick(&c, WALL0 - 3 * HOUR_MS);
	CHECK_MSG(b > a, "after a 3 h jump back: %llu <= %llu",
	    (unsigned long long)b, (unsigned long long)a);
	CHECK_EQ_UINT(b, a + 1);
	CHECK_EQ_UINT(hlc_ms(b), WALL0);
	/* Still behind: keeps counting on the old ms. */
	d = hlc_tick(&c, WALL0 - 2 * HOUR_MS);
	CHECK_EQ_UINT(d, b + 1);
	/* Wall catches up and overtakes: back to wall time, counter 0. */
	e = hlc_tick(&c, WALL0 + 1);
	CHECK_EQ_UINT(e, hlc_pack(WALL0 + 1, 0));
	/* Jump back to the epoch itself. */
	CHECK_EQ_UINT(hlc_tick(&c, 0), e + 1);
}

TEST(tick_counter_overflow_carries_into_the_ms_part)
{
	hlc_t c;
	uint64_t prev, ts;
	int i, n = 70000;

	hlc_init(&c, 0, HLC_DEFAULT_MAX_DRIFT_MS);
	prev = hlc_tick(&c, WALL0);
	CHECK_EQ_UINT(prev, hlc_pack(WALL0, 0));
	for (i = 1; i < n; i++) {
		ts = hlc_tick(&c, WALL0);
		if (!CHECK_MSG(ts > prev,
			"tick %d at a stalled wall: %llu <= %llu", i,
			(unsigned long long)ts, (unsigned long long)prev))
			return;
		if (i == (int)HLC_COUNTER_MAX)
			CHECK_EQ_UINT(ts, hlc_pack(WALL0, HLC_COUNTER_MAX));
		if (i == (int)HLC_COUNTER_MAX + 1)
			CHECK_EQ_UINT(ts, hlc_pack(WALL0 + 1, 0));
		prev = ts;
	}
	/* 70000 ticks in one ms: the clock ran 1 ms ahead of the wall. */
	CHECK_EQ_UINT(prev, hlc_pack(WALL0 + 1, n - 1 - 65536));
	/* The wall reaching that ms does not move the clock back... */
	ts = hlc_tick(&c, WALL0 + 1);
	CHECK_EQ_UINT(ts, prev + 1);
	/* ...and passing it resumes wall time. */
	CHECK_EQ_UINT(hlc_tick(&c, WALL0 + 2), hlc_pack(WALL0 + 2, 0));
}

TEST(tick_is_monotonic_under_a_random_skewed_wall)
{
	hlc_t c;
	uint64_t prev = 0, ts, wall = WALL0;
	int i;

	hlc_init(&c, 0, HLC_DEFAULT_MAX_DRIFT_MS);
	for (i = 0; i < 20000; i++) {
		/* Mostly small steps either way, sometimes big jumps, sometimes
		 * a stall; never below the epoch. */
		switch (harness_rand_below(8)) {
		case 0:
			wall -= harness_rand_below(
			    wall < 6 * HOUR_MS ? 1 : 6 * HOUR_MS);
			break;
		case 1: wall += harness_rand_below(6 * HOUR_MS); break;
		case 2:
		case 3: break;
		default:
			wall += harness_rand_below(10);
			wall -= harness_rand_below(10);
			break;
		}
		ts = hlc_tick(&c, wall);
		if (!CHECK_MSG(ts > prev, "step %d wall %llu: %llu <= %llu", i,
			(unsigned long long)wall, (unsigned long long)ts,
			(unsigned long long)prev))
			return;
		if (!CHECK_MSG(ts >= hlc_pack(wall, 0),
			"step %d: %llu below wall %llu", i,
			(unsigned long long)ts, (unsigned long long)wall))
			return;
		CHECK_EQ_UINT(hlc_last(&c), ts);
		prev = ts;
	}
}

TEST(observe_far_ahead_is_refused_and_leaves_the_clock_alone)
{
	hlc_t c;
	err_t err;
	uint64_t before, remote;

	hlc_init(&c, 0, HLC_DEFAULT_MAX_DRIFT_MS);
	hlc_tick(&c, WALL0);
	before = hlc_last(&c);
	err_clear(&err);
	remote = hlc_pack(WALL0 + HLC_DEFAULT_MAX_DRIFT_MS + 1, 3);
	CHECK_EQ_INT(hlc_observe(&c, remote, WALL0, &err), -1);
	CHECK_EQ_INT(err.code, ERR_UNPROCESSABLE);
	CHECK_STR(err.msg, "clock 300001 ms ahead (max 300000 ms)");
	CHECK_EQ_UINT(hlc_last(&c), before);
	CHECK_EQ_UINT(c.max_drift_ms, HLC_DEFAULT_MAX_DRIFT_MS);
	/* The refused value does not leak into later ticks. */
	CHECK_EQ_UINT(hlc_tick(&c, WALL0), before + 1);

	/* A day ahead, with a custom bound. */
	hlc_init(&c, hlc_pack(WALL0, 9), 1000);
	err_clear(&err);
	CHECK_EQ_INT(hlc_observe(&c, hlc_pack(WALL0 + 24 * HOUR_MS, 0), WALL0,
			 &err),
	    -1);
	CHECK_STR(err.msg, "clock 86400000 ms ahead (max 1000 ms)");
	CHECK_EQ_UINT(hlc_last(&c), hlc_pack(WALL0, 9));

	/* A NULL err is allowed and the refusal still holds. */
	CHECK_EQ_INT(hlc_observe(&c, hlc_pack(WALL0 + 1001, 0), WALL0, NULL),
	    -1);
	CHECK_EQ_UINT(hlc_last(&c), hlc_pack(WALL0, 9));
}

TEST(observe_at_exactly_the_bound_is_accepted)
{
	hlc_t c;
	err_t err;
	uint64_t remote = hlc_pack(WALL0 + 1000, HLC_COUNTER_MAX);

	hlc_init(&c, 0, 1000);
	err_clear(&err);
	CHECK_EQ_INT(hlc_observe(&c, remote, WALL0, &err), 0);
	CHECK_EQ_INT(err.code, ERR_OK);
	CHECK_EQ_UINT(hlc_last(&c), remote);
	/* One ms more is refused. */
	CHECK_EQ_INT(hlc_observe(&c, hlc_pack(WALL0 + 1001, 0), WALL0, &err),
	    -1);
	CHECK_STR(err.msg, "clock 1001 ms ahead (max 1000 ms)");
}

TEST(observe_within_bound_advances_and_next_tick_is_above)
{
	hlc_t c;
	err_t err;
	uint64_t remote = hlc_pack(WALL0 + 60000, 42), ts;

	hlc_init(&c, 0, HLC_DEFAULT_MAX_DRIFT_MS);
	hlc_tick(&c, WALL0);
	err_clear(&err);
	CHECK_EQ_INT(hlc_observe(&c, remote, WALL0, &err), 0);
	CHECK_EQ_UINT(hlc_last(&c), remote);
	ts = hlc_tick(&c, WALL0 + 1);
	CHECK_MSG(ts > remote, "tick %llu not above observed %llu",
	    (unsigned long long)ts, (unsigned long long)remote);
	CHECK_EQ_UINT(ts, remote + 1);
	/* Once the wall passes the observed ms, wall time resumes. */
	CHECK_EQ_UINT(hlc_tick(&c, WALL0 + 60001), hlc_pack(WALL0 + 60001, 0));
}

TEST(observe_of_an_older_remote_does_not_move_the_clock_back)
{
	hlc_t c;
	err_t err;
	uint64_t last;

	hlc_init(&c, 0, HLC_DEFAULT_MAX_DRIFT_MS);
	hlc_tick(&c, WALL0);
	last = hlc_tick(&c, WALL0);
	err_clear(&err);
	/* Hours behind is fine (only "ahead" is bounded). */
	CHECK_EQ_INT(hlc_observe(&c, hlc_pack(WALL0 - 5 * HOUR_MS, 0), WALL0,
			 &err),
	    0);
	CHECK_EQ_UINT(hlc_last(&c), last);
	CHECK_EQ_INT(hlc_observe(&c, last, WALL0, &err), 0);
	CHECK_EQ_UINT(hlc_last(&c), last);
	CHECK_EQ_UINT(hlc_tick(&c, WALL0), last + 1);
}

TEST(ticks_continue_above_across_a_restart)
{
	hlc_t old, fresh;
	uint64_t max = 0, ts;
	int i;

	hlc_init(&old, 0, HLC_DEFAULT_MAX_DRIFT_MS);
	for (i = 0; i < 100; i++)
		max = hlc_tick(&old, WALL0 + (uint64_t)i / 10);
	CHECK_EQ_UINT(max, hlc_pack(WALL0 + 9, 9));
	/* Restart: the clock is restored from what was persisted, and the
	 * machine's wall clock came back a day earlier. */
	hlc_init(&fresh, hlc_last(&old), HLC_DEFAULT_MAX_DRIFT_MS);
	CHECK_EQ_UINT(hlc_last(&fresh), max);
	for (i = 0; i < 1000; i++) {
		ts = hlc_tick(&fresh, WALL0 - 24 * HOUR_MS + (uint64_t)i);
		if (!CHECK_MSG(ts > max, "tick %d after restart: %llu <= %llu",
			i, (unsigned long long)ts, (unsigned long long)max))
			return;
		max = ts;
	}
	CHECK_EQ_UINT(max, hlc_pack(WALL0 + 9, 9 + 1000));
}

/* ---- a store persists its clock ---- */

/* 2100-01-01 and 2000-01-01: a wall clock set far ahead, then far back. */
#define WALL_FUTURE 4102444800000ull
#define WALL_PAST 946684800000ull

static uint64_t
s_wall_future(void)
{
	return WALL_FUTURE;
}

static uint64_t
s_wall_past(void)
{
	return WALL_PAST;
}

static json_t *
s_movement_fields(void)
{
	return json_pack("{s:s, s:s, s:i, s:s}", "site", "S001", "sku", "A",
	    "delta", 5, "reason", "receipt");
}

/* Appends one stock movement in its own transaction; returns 0 or -1. */
static int
s_append(store_t *st, const char *key, op_t *out, err_t *err)
{
	json_t *fields = s_movement_fields();
	int rc;

	if (store_begin(st, err)) {
		json_decref(fields);
		return -1;
	}
	rc = store_append_local(st, "stock_movement", key, "add", fields, out,
	    err);
	json_decref(fields);
	if (rc == 0)
		rc = store_commit(st, err);
	else
		store_rollback(st);
	return rc;
}

TEST(store_clock_survives_a_restart_with_the_wall_gone_back)
{
	char path[4200];
	store_t *st;
	err_t err;
	op_t first, second;
	int64_t persisted = 0;

	memset(&first, 0, sizeof first);
	memset(&second, 0, sizeof second);
	snprintf(path, sizeof path, "%s/node.db", harness_tmpdir());
	err_clear(&err);
	st = store_open(path, STORE_NODE, 1, &apply_rules, &err);
	REQUIRE_MSG(st != NULL, "store_open: %s", err.msg);
	store_set_wall(st, s_wall_future);
	CHECK_EQ_INT(store_begin(st, &err), 0);
	CHECK_EQ_INT(store_meta_set_text(st, "site", "S001", &err), 0);
	CHECK_EQ_INT(store_commit(st, &err), 0);
	CHECK_EQ_INT(s_append(st, "S001-000001", &first, &err), 0);
	CHECK_STR(err.msg, "");
	CHECK_EQ_UINT(first.hlc, hlc_pack(WALL_FUTURE, 0));
	CHECK_EQ_UINT(first.seq, 1);
	CHECK_STR(first.origin, "S001");
	store_close(&st);
	CHECK(st == NULL);

	st = store_open(path, STORE_NODE, 0, &apply_rules, &err);
	REQUIRE_MSG(st != NULL, "reopen: %s", err.msg);
	CHECK_STR(store_site(st), "S001");
	CHECK_EQ_INT(store_meta_get_int(st, "hlc", 0, &persisted, &err), 0);
	CHECK_EQ_UINT((uint64_t)persisted, first.hlc);
	store_set_wall(st, s_wall_past);
	CHECK_EQ_INT(s_append(st, "S001-000002", &second, &err), 0);
	CHECK_STR(err.msg, "");
	CHECK_MSG(second.hlc > first.hlc,
	    "hlc after restart %llu not above %llu before",
	    (unsigned long long)second.hlc, (unsigned long long)first.hlc);
	CHECK_EQ_UINT(second.hlc, first.hlc + 1);
	CHECK_EQ_UINT(second.seq, 2);
	/* The op log agrees with what the calls returned. */
	CHECK_EQ_INT(store_query_int(st,
			 store_stmt(st, "SELECT max(hlc) FROM op_log"), -1),
	    (int64_t)second.hlc);
	op_clear(&first);
	op_clear(&second);
	store_close(&st);
}
