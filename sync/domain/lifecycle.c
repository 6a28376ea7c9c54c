/* lifecycle: status ranks and transitions (see lifecycle.h). */
#include "lifecycle.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

/* SPEC §4: draft < pending_approval < confirmed < allocated < picked <
 * cancelled < shipped < delivered < completed (order.h's ORDER_RANK_*). A
 * cancellation concurrent with a shipment loses. An order whose special
 * prices wait for head office is pending_approval; only head office's
 * decision moves it on (approval.h). */
static const lifecycle_status_t s_order[] = {
	{ "draft", "pending_approval confirmed cancelled" },
	{ "pending_approval", "confirmed cancelled" },
	{ "confirmed", "allocated picked shipped completed cancelled" },
	{ "allocated", "picked shipped cancelled" },
	{ "picked", "shipped cancelled" },
	{ "cancelled", "" },
	{ "shipped", "delivered completed" },
	{ "delivered", "completed" },
	{ "completed", "" },
};

/* A void after payment is a credit note: it outranks paid. */
static const lifecycle_status_t s_invoice[] = {
	{ "issued", "paid void" },
	{ "paid", "void" },
	{ "void", "" },
};

static const lifecycle_status_t s_case[] = {
	{ "open", "in_progress rejected completed" },
	{ "in_progress", "rejected completed" },
	{ "rejected", "closed" },
	{ "completed", "closed" },
	{ "closed", "" },
};

/* A transfer document (transfer.h): head office closes a receipt that
 * differs from what was sent. */
static const lifecycle_status_t s_transfer[] = {
	{ "requested", "shipped" },
	{ "shipped", "received" },
	{ "received", "reconciled" },
	{ "reconciled", "" },
};

const lifecycle_t lifecycle_order = { "order", s_order,
	sizeof s_order / sizeof s_order[0] };
const lifecycle_t lifecycle_invoice = { "invoice", s_invoice, 3 };
const lifecycle_t lifecycle_case = { "case", s_case, 5 };
const lifecycle_t lifecycle_transfer = { "transfer", s_transfer, 4 };

int
lifecycle_rank(const lifecycle_t *lc, const char *status)
{
	int i;

	for (i = 0; i < lc->count; i++)
		if (strcmp(lc->statuses[i].name, status) == 0)
			return i;
	return -1;
}

const char *
lifecycle_name(const lifecycle_t *lc, int rank)
{
	assert(rank >= 0 && rank < lc->count);
	return lc->statuses[rank].name;
}

/* Whether word is one of the space-separated words of list. */
static int
s_listed(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *p = list;

	while ((p = strstr(p, word)) != NULL) {
		if ((p == list || p[-1] == ' ') &&
		    (p[n] == ' ' || p[n] == '\0'))
			return 1;
		p += n;
	}
	return 0;
}

int
lifecycle_check(const lifecycle_t *lc, const char *id, int from, const char *to,
    err_t *err)
{
	const char *next;

	if (lifecycle_rank(lc, to) < 0)
		return err_set(err, ERR_BAD_REQUEST,
		    "to: '%s' is not a %s status", to, lc->what);
	next = lc->statuses[from].next;
	if (s_listed(next, to))
		return 0;
	if (next[0] == '\0')
		return err_set(err, ERR_UNPROCESSABLE,
		    "to: %s %s is %s, which is final", lc->what, id,
		    lc->statuses[from].name);
	{
		char list[128];
		size_t i, j = 0;

		for (i = 0; next[i] != '\0' && j + 2 < sizeof list; i++) {
			if (next[i] == ' ') {
				list[j++] = ',';
				list[j++] = ' ';
			} else {
				list[j++] = next[i];
			}
		}
		list[j] = '\0';
		return err_set(err, ERR_UNPROCESSABLE,
		    "to: %s %s is %s; it can move to %s", lc->what, id,
		    lc->statuses[from].name, list);
	}
}
