/*
 * test_domain_site: head office's moves of sites between regions
 * (sync/domain/site.h): the last move of a site wins in every replica
 * whatever order the ops arrive in, a bad move is refused with its
 * reason, and what a node asks for follows from the moves it holds.
 */
#include <stdlib.h>
#include <string.h>

#include "domain_harness.h"
#include "harness.h"
#include "site.h"

/* Head office's move number m of site to region, as role. */
static void
s_move(dh_history_t *h, uint64_t m, const char *site, const char *region,
    const char *role, int valid)
{
	dh_add(h, "HQ", m, dh_at(m, 0), SITE_REGION_ENTITY, site, "set",
	    json_pack("{s:s, s:s}", "region", region, "role", role), valid);
}

/* S2 moved east then back west, S3 east, W1 (a warehouse) east; and
 * moves no replica takes. */
static void
s_history(dh_history_t *h)
{
	s_move(h, 1, "S2", "east", "store", 1);
	s_move(h, 2, "S3", "east", "store", 1);
	s_move(h, 3, "S2", "west", "store", 1);
	s_move(h, 4, "W1", "east", "warehouse", 1);
	s_move(h, 5, "S4", "east side", "store", 0);
	s_move(h, 6, "S4", "east", "hq", 0);
	s_move(h, 7, "HQ2", "east", "store", 0);
	s_move(h, 8, "S-4", "east", "store", 0);
	dh_add(h, "HQ", 9, dh_at(9, 0), SITE_REGION_ENTITY, "S4", "move",
	    json_pack("{s:s, s:s}", "region", "east", "role", "store"), 0);
	dh_add(h, "HQ", 10, dh_at(10, 0), SITE_REGION_ENTITY, "S4", "set",
	    json_pack("{s:s, s:s, s:s}", "region", "east", "role", "store",
		"from", "west"),
	    0);
	dh_add(h, "HQ", 11, dh_at(11, 0), SITE_REGION_ENTITY, "S4", "set",
	    json_pack("{s:s}", "role", "store"), 0);
}

/* Collects the ids site_region_moved_in gives, space-separated. */
static int
s_collect(void *arg, const char *site, err_t *err)
{
	char *buf = arg;

	(void)err;
	if (buf[0] != '\0')
		strcat(buf, " ");
	strcat(buf, site);
	return 0;
}

TEST(the_last_move_wins_whatever_the_order)
{
	dh_history_t h = { 0 };
	size_t counts[INGEST_RESULTS], idx[16], i, k;
	char *first = NULL, *got;
	store_t *st;

	s_history(&h);
	REQUIRE(h.n <= sizeof idx / sizeof idx[0]);
	for (k = 0; k < 3; k++) {
		for (i = 0; i < h.n; i++)
			idx[i] = k == 1 ? h.n - 1 - i : i;
		if (k == 2)
			dh_shuffle(idx, h.n);
		memset(counts, 0, sizeof counts);
		st = dh_open(harness_tmpdir(), "E1");
		REQUIRE(st != NULL);
		if (dh_ingest(st, &h, idx, h.n, counts) != 0) {
			store_close(&st);
			break;
		}
		CHECK_EQ_UINT(counts[INGEST_APPLIED], h.n_valid);
		CHECK_EQ_UINT(counts[INGEST_QUARANTINED], h.n_invalid);
		got = dh_rows(st,
		    "SELECT site, region, role FROM site_regions ORDER BY site");
		CHECK_STR(got,
		    "'S2'|'west'|'store'\n'S3'|'east'|'store'\n"
		    "'W1'|'east'|'warehouse'\n");
		free(got);
		got = dh_rows(st,
		    "SELECT seq, reason FROM quarantine ORDER BY seq");
		if (first == NULL)
			first = got;
		else {
			CHECK_STR(got, first);
			free(got);
		}
		store_close(&st);
	}
	CHECK_STR(first,
	    "5|'apply op HQ/5: site region S4: region: 'east side': use 1-63 "
	    "of A-Z a-z 0-9 _ -'\n"
	    "6|'apply op HQ/6: site region S4: role: 'hq' is not one of "
	    "store, warehouse'\n"
	    "7|'apply op HQ/7: site region HQ2: key: 'HQ2' is not the id of a "
	    "store or warehouse'\n"
	    "8|'apply op HQ/8: site region S-4: key: 'S-4' is not the id of a "
	    "store or warehouse'\n"
	    "9|'apply op HQ/9: site region S4: unknown kind 'move''\n"
	    "10|'apply op HQ/10: site region S4: from: unknown field'\n"
	    "11|'apply op HQ/11: site region S4: region: missing'\n");
	free(first);
	dh_history_free(&h);
}

TEST(a_node_asks_for_the_stores_moved_into_its_region)
{
	dh_history_t h = { 0 };
	size_t counts[INGEST_RESULTS] = { 0 }, idx[16], i;
	char site[OP_SITE_MAX + 1], got[64] = "";
	store_t *st;
	err_t err;

	s_history(&h);
	for (i = 0; i < h.n; i++)
		idx[i] = i;
	st = dh_open(harness_tmpdir(), "E1");
	REQUIRE(st != NULL);
	REQUIRE(dh_ingest(st, &h, idx, h.n, counts) == 0);
	/* The stores last moved into east, not a warehouse, not itself. */
	CHECK_EQ_INT(site_region_moved_in(st, "east", "E1", s_collect, got,
			 &err),
	    0);
	CHECK_STR(got, "S3");
	got[0] = '\0';
	CHECK_EQ_INT(site_region_moved_in(st, "east", "S3", s_collect, got,
			 &err),
	    0);
	CHECK_STR(got, "");
	/* An op: a store moved into the region, not a warehouse, not the
	 * node itself, not another region. */
	CHECK_EQ_INT(site_region_moves_into(&h.ops[0].op, "east", "E1", site),
	    1);
	CHECK_STR(site, "S2");
	CHECK_EQ_INT(site_region_moves_into(&h.ops[0].op, "east", "S2", site),
	    0);
	CHECK_EQ_INT(site_region_moves_into(&h.ops[0].op, "west", "E1", site),
	    0);
	CHECK_EQ_INT(site_region_moves_into(&h.ops[3].op, "east", "E1", site),
	    0);
	store_close(&st);
	dh_history_free(&h);
}

TEST(only_head_office_records_a_move)
{
	store_t *st = dh_open(harness_tmpdir(), "S1");
	err_t err;

	REQUIRE(st != NULL);
	REQUIRE(store_begin(st, &err) == 0);
	CHECK_EQ_INT(site_region_record(st, "S2", "store", "east", &err), -1);
	CHECK_EQ_INT(err.code, ERR_FORBIDDEN);
	CHECK_STR(err.msg,
	    "site region S2: head office data is written at the hub only");
	store_rollback(st);
	store_close(&st);
}
