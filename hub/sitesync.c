/*
 * sitesync: GET /v1/sites/sync, each site's sync health as head office
 * sees it, for the console's sync page and bl-hub report sites.
 *
 * It is GET /v1/sites (server_sites: role, region, connected now, the
 * last disk report) with what the hub's database tells of each site:
 *
 *   last_push_ms     when the hub last committed a batch the site pushed
 *                    (push_sigs.at), kept across hub restarts
 *   last_contact_ms  the later of that and its last PING (disk report)
 *   ops_held         the site's ops the hub holds, last_seq the highest
 *   quarantined      the site's ops the hub holds back, with a reason
 *   conflicts        different ops under one of its (origin, seq)
 *   clock_offset_ms  measured at its last PING while the hub runs; else
 *                    the stamp of the last op of its last pushed batch
 *                    minus when the hub received the batch: how far the
 *                    site's clock ran ahead of head office's then. A store
 *                    that sells offline and pushes later reads as behind
 *                    by as long as it waited; ahead is always real.
 *   ops_waiting_max  for a site not connected: the ops it may see that
 *                    the hub logged after the site's newest op, an upper
 *                    bound on what waits for it (it pulled at least up to
 *                    its last push); null while connected (streamed as
 *                    they come)
 *   link             up, down, revoked, or never (not heard from since
 *                    the hub started and never pushed)
 *   silent           the hub alerts it as silent_site now
 *
 * With server NULL (the command line, no daemon) connected and the disk
 * report are unknown (link "unknown"), and silent is decided from
 * last_push_ms and silent_after_ms.
 */
#include <string.h>

#include "hub.h"

/* Sets key on o unless the server already gave it (a later server may
 * report a figure better than ours); steals v. */
static void
s_set(json_t *o, const char *key, json_t *v)
{
	if (json_object_get(o, key) == NULL)
		json_object_set_new(o, key, v);
	else
		json_decref(v);
}

/* The registry without a server: what server_sites gives, less the
 * connection and disk report. */
static int
s_registry(store_t *st, json_t **out, err_t *err)
{
	sqlite3_stmt *q = store_stmt(st,
	    "SELECT id, role, region, name, revoked_at FROM sites "
	    "ORDER BY id");
	json_t *items = json_array();

	while (store_row(st, q))
		json_array_append_new(items,
		    json_pack("{s:s, s:s, s:s, s:s?, s:b, s:n, s:n}", "site",
			(const char *)sqlite3_column_text(q, 0), "role",
			(const char *)sqlite3_column_text(q, 1), "region",
			(const char *)sqlite3_column_text(q, 2), "name",
			(const char *)sqlite3_column_text(q, 3), "revoked",
			sqlite3_column_type(q, 4) != SQLITE_NULL, "connected",
			"disk"));
	sqlite3_reset(q);
	if (store_read_error(st, err)) {
		json_decref(items);
		return err_prefix(err, "sites");
	}
	*out = json_pack("{s:o}", "items", items);
	return 0;
}

/* Adds the database's figures for site to item; of head office's own
 * (hq), only what it holds. */
static void
s_figures(store_t *st, const char *site, const char *region, int hq,
    json_t *item)
{
	sqlite3_stmt *q;
	int64_t held = 0, last_seq = 0, last_lsn = 0, push_at = 0, hlc = 0;

	q = store_stmt(st,
	    "SELECT count(*), max(seq), max(lsn) FROM op_log WHERE origin = ?");
	sqlite3_bind_text(q, 1, site, -1, SQLITE_STATIC);
	if (store_row(st, q)) {
		held = sqlite3_column_int64(q, 0);
		last_seq = sqlite3_column_int64(q, 1);
		last_lsn = sqlite3_column_int64(q, 2);
	}
	sqlite3_reset(q);
	q = store_stmt(st,
	    "SELECT p.at, o.hlc FROM push_sigs p LEFT JOIN op_log o "
	    "ON o.origin = p.origin AND o.seq = p.seq "
	    "WHERE p.origin = ? ORDER BY p.at DESC, p.seq DESC LIMIT 1");
	sqlite3_bind_text(q, 1, site, -1, SQLITE_STATIC);
	if (store_row(st, q)) {
		push_at = sqlite3_column_int64(q, 0);
		hlc = sqlite3_column_int64(q, 1);
	}
	sqlite3_reset(q);
	if (hq)
		push_at = hlc = 0; /* it signs its own chain; it never pushes */
	json_object_set_new(item, "ops_held", json_integer(held));
	json_object_set_new(item, "last_seq", json_integer(last_seq));
	json_object_set_new(item, "last_push_ms",
	    push_at > 0 ? json_integer(push_at) : json_null());
	s_set(item, "clock_offset_ms",
	    push_at > 0 && hlc > 0
		? json_integer(
		      (json_int_t)(hlc_ms((uint64_t)hlc) - (uint64_t)push_at))
		: json_null());
	q = store_stmt(st, "SELECT count(*) FROM quarantine WHERE origin = ?");
	sqlite3_bind_text(q, 1, site, -1, SQLITE_STATIC);
	json_object_set_new(item, "quarantined",
	    json_integer(store_query_int(st, q, 0)));
	q = store_stmt(st,
	    "SELECT count(*) FROM op_conflicts WHERE origin = ?");
	sqlite3_bind_text(q, 1, site, -1, SQLITE_STATIC);
	json_object_set_new(item, "conflicts",
	    json_integer(store_query_int(st, q, 0)));
	if (hq || json_is_true(json_object_get(item, "connected"))) {
		s_set(item, "ops_waiting_max", json_null());
		return;
	}
	/* What it may see (the stream's rule, visibility.c) logged after its
	 * newest op. */
	q = store_stmt(st,
	    "SELECT count(*) FROM op_log WHERE lsn > ?1 AND origin != ?2 "
	    "AND CASE WHEN vis_order IS NOT NULL THEN EXISTS (SELECT 1 "
	    "FROM order_sites WHERE order_id = vis_order AND site = ?2) "
	    "ELSE (vis_site IS NULL AND vis_site2 IS NULL AND "
	    "vis_region IS NULL) OR vis_site = ?2 OR vis_site2 = ?2 OR "
	    "vis_region = '*' OR vis_region = ?3 END");
	sqlite3_bind_int64(q, 1, last_lsn);
	sqlite3_bind_text(q, 2, site, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, region, -1, SQLITE_STATIC);
	s_set(item, "ops_waiting_max", json_integer(store_query_int(st, q, 0)));
}

int
sitesync_list(store_t *st, server_t *server, uint64_t silent_after_ms,
    uint64_t now, json_t **out, err_t *err)
{
	json_t *items, *item, *alerts = NULL, *a;
	size_t i, k;

	*out = NULL;
	if (server != NULL ? server_sites(server, NULL, out, err)
			   : s_registry(st, out, err))
		return -1;
	if (server != NULL) {
		alerts = json_array();
		server_alerts(server, alerts);
	}
	store_read_clear(st);
	items = json_object_get(*out, "items");
	json_array_foreach(items, i, item) {
		const char *site = json_string_value(
		    json_object_get(item, "site"));
		const char *region = json_string_value(
		    json_object_get(item, "region"));
		json_t *disk = json_object_get(item, "disk");
		json_int_t push, heard = 0, contact;
		int silent = 0, hq;
		const char *link;

		hq = strcmp(json_string_value(json_object_get(item, "role")),
			 "hq") == 0;
		s_figures(st, site, region != NULL ? region : "", hq, item);
		push = json_integer_value(
		    json_object_get(item, "last_push_ms"));
		if (json_is_object(disk))
			heard = json_integer_value(
			    json_object_get(disk, "reported_ms"));
		contact = heard > push ? heard : push;
		json_object_set_new(item, "last_contact_ms",
		    contact > 0 ? json_integer(contact) : json_null());
		if (alerts != NULL) {
			json_array_foreach(alerts, k, a)
				silent |= strcmp(json_string_value(
						     json_object_get(a,
							 "kind")),
					      "silent_site") == 0 &&
				    strcmp(json_string_value(
					       json_object_get(a, "site")),
					site) == 0;
		} else if (!hq &&
		    !json_is_true(json_object_get(item, "revoked"))) {
			silent = contact == 0 ||
			    now - (uint64_t)contact >= silent_after_ms;
		}
		if (json_is_true(json_object_get(item, "revoked")))
			link = "revoked";
		else if (hq)
			link = "self";
		else if (server == NULL)
			link = "unknown";
		else if (json_is_true(json_object_get(item, "connected")))
			link = "up";
		else if (contact == 0)
			link = "never";
		else
			link = "down";
		json_object_set_new(item, "link", json_string(link));
		json_object_set_new(item, "silent", json_boolean(silent));
	}
	json_decref(alerts);
	if (store_read_error(st, err)) {
		json_decref(*out);
		*out = NULL;
		return err_prefix(err, "sites sync");
	}
	json_object_set_new(*out, "now_ms", json_integer((json_int_t)now));
	return 0;
}
