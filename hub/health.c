/*
 * health: what each site last reported of its own machine (its database
 * and WAL sizes, free disk and first disk problem, carried by PING), and
 * when; and the last time a second copy of its data folder tried to
 * connect while one was connected (twin incarnations, server.c). Kept in
 * memory: a site reports again within seconds of connecting, and a twin
 * tries again, so a hub restart loses nothing that matters. A hash of site
 * ids, since thousands of sites each report every few seconds.
 */
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "log.h"
#include "text.h"

#define HEALTH_BUCKETS 4096

typedef struct entry {
	struct entry *next;
	char site[OP_SITE_MAX + 1];
	proto_disk_t disk;
	uint64_t at_ms;
	int64_t offset_ms;	/* its clock minus ours, at its last PING */
	uint64_t logged_ms;	/* when its problem was last logged */
	char twin[ERR_MSG_MAX]; /* the last twin refusal, "" when none */
	uint64_t twin_ms, twin_logged_ms;
} entry_t;

#define HEALTH_TWIN_KEEP_MS (24 * 3600 * 1000) /* alerted this long */

#define HEALTH_LOG_EVERY_MS (10 * 60 * 1000)

struct health {
	entry_t *buckets[HEALTH_BUCKETS];
};

static unsigned
s_hash(const char *site)
{
	unsigned h = 2166136261u;

	for (; *site != '\0'; site++)
		h = (h ^ (unsigned char)*site) * 16777619u;
	return h % HEALTH_BUCKETS;
}

health_t *
health_new(void)
{
	health_t *h = calloc(1, sizeof *h);

	if (h == NULL)
		fatal("health: out of memory");
	return h;
}

void
health_destroy(health_t **self_p)
{
	entry_t *e, *next;
	int i;

	if (self_p == NULL || *self_p == NULL)
		return;
	for (i = 0; i < HEALTH_BUCKETS; i++)
		for (e = (*self_p)->buckets[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	free(*self_p);
	*self_p = NULL;
}

static entry_t *
s_find(health_t *h, const char *site)
{
	entry_t *e;

	for (e = h->buckets[s_hash(site)]; e != NULL; e = e->next)
		if (strcmp(e->site, site) == 0)
			return e;
	return NULL;
}

/* The entry of site, made when there is none. */
static entry_t *
s_entry(health_t *h, const char *site)
{
	entry_t *e = s_find(h, site);

	if (e == NULL) {
		unsigned b = s_hash(site);

		if ((e = calloc(1, sizeof *e)) == NULL)
			fatal("health: out of memory");
		snprintf(e->site, sizeof e->site, "%s", site);
		e->next = h->buckets[b];
		h->buckets[b] = e;
	}
	return e;
}

void
health_twin(health_t *h, const char *site, const char *reason, uint64_t now_ms)
{
	entry_t *e = s_entry(h, site);

	snprintf(e->twin, sizeof e->twin, "%s", reason);
	e->twin_ms = now_ms;
	/* A twin retries with backoff; a line every few minutes says it. */
	if (e->twin_logged_ms == 0 ||
	    now_ms - e->twin_logged_ms >= HEALTH_LOG_EVERY_MS) {
		log_warn("site %s: %s", site, reason);
		e->twin_logged_ms = now_ms;
	}
}

void
health_report(health_t *h, const char *site, const proto_disk_t *disk,
    uint64_t sent_ms, uint64_t now_ms)
{
	entry_t *e = s_entry(h, site);

	e->disk = *disk;
	/* A PING is answered at once: the trip is milliseconds. */
	e->offset_ms = (int64_t)sent_ms - (int64_t)now_ms;
	/* The peer's text goes into JSON and the log: no control characters
	 * (it is UTF-8, the decoder saw to that). */
	text_clean(e->disk.problem);
	e->at_ms = now_ms;
	/* A problem is worth a line at head office when it appears and then
	 * every few minutes while it lasts (its text changes at every PING:
	 * it counts seconds and frames), and its end. */
	if (e->disk.problem[0] != '\0' &&
	    (e->logged_ms == 0 ||
		now_ms - e->logged_ms >= HEALTH_LOG_EVERY_MS)) {
		log_warn("site %s reports: %s", site, e->disk.problem);
		e->logged_ms = now_ms;
	} else if (e->disk.problem[0] == '\0' && e->logged_ms != 0) {
		log_info("site %s reports its disk fine again", site);
		e->logged_ms = 0;
	}
}

int
health_clock_offset(health_t *h, const char *site, int64_t *offset_ms)
{
	entry_t *e = s_find(h, site);

	if (e == NULL || e->at_ms == 0)
		return 0;
	*offset_ms = e->offset_ms;
	return 1;
}

uint64_t
health_last_heard(health_t *h, const char *site)
{
	entry_t *e = s_find(h, site);

	return e != NULL ? e->at_ms : 0;
}

void
health_forget(health_t *h, const char *site)
{
	entry_t **p = &h->buckets[s_hash(site)], *e;

	for (; (e = *p) != NULL; p = &e->next)
		if (strcmp(e->site, site) == 0) {
			*p = e->next;
			free(e);
			return;
		}
}

/* Byte counts as JSON integers (a peer may send any 64-bit value). */
static json_int_t
s_clamp(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? (json_int_t)INT64_MAX : (json_int_t)v;
}

json_t *
health_json(health_t *h, const char *site)
{
	entry_t *e = s_find(h, site);

	if (e == NULL)
		return json_null();
	return json_pack("{s:I, s:I, s:I, s:I, s:s}", "reported_ms",
	    (json_int_t)e->at_ms, "db_bytes", s_clamp(e->disk.db_bytes),
	    "wal_bytes", s_clamp(e->disk.wal_bytes), "free_bytes",
	    s_clamp(e->disk.free_bytes), "problem", e->disk.problem);
}

void
health_alerts(health_t *h, json_t *items,
    int (*enrolled)(void *arg, const char *site), void *arg, uint64_t now_ms)
{
	entry_t *e;
	char id[64];
	int i;

	for (i = 0; i < HEALTH_BUCKETS; i++)
		for (e = h->buckets[i]; e != NULL; e = e->next) {
			if (!enrolled(arg, e->site))
				continue;
			if (e->twin[0] != '\0' &&
			    now_ms - e->twin_ms < HEALTH_TWIN_KEEP_MS) {
				snprintf(id, sizeof id,
				    "twin_incarnation:%s:%s", e->site, e->site);
				json_array_append_new(items,
				    json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}",
					"id", id, "kind", "twin_incarnation",
					"site", e->site, "subject", e->site,
					"message", e->twin, "at",
					(json_int_t)e->twin_ms));
			}
			if (e->disk.problem[0] == '\0')
				continue;
			snprintf(id, sizeof id, "disk:%s:reported", e->site);
			json_array_append_new(items,
			    json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "id",
				id, "kind", "disk", "site", e->site, "subject",
				e->site, "message", e->disk.problem, "at",
				(json_int_t)e->at_ms));
		}
}
