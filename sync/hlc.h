/*
 * hlc: hybrid logical clock (Kulkarni et al. 2014).
 *
 * A timestamp packs 48 bits of wall-clock milliseconds since the epoch and a
 * 16-bit logical counter into one uint64_t, so timestamps compare as plain
 * integers. The clock owns one invariant: every value it hands out is greater
 * than every value it handed out or observed before, whatever the wall clock
 * does (jumps back, stalls, skews). Persistence is the caller's part: the
 * store saves hlc_last() in the same transaction as the op that used it and
 * restores it with hlc_init(), so the clock never goes back across restarts.
 *
 * Drift bound: a remote timestamp more than max_drift_ms ahead of our wall
 * clock is refused by hlc_observe (the op is quarantined by the caller), so a
 * single site with a wrong clock cannot drag every replica's clock forward.
 */
#ifndef BL_HLC_H
#define BL_HLC_H

#include <stdint.h>

#include "err.h"

#define HLC_COUNTER_BITS 16
#define HLC_COUNTER_MAX 0xffffu
#define HLC_DEFAULT_MAX_DRIFT_MS (5 * 60 * 1000)

typedef struct {
	uint64_t last;	       /* highest timestamp issued or observed */
	uint64_t max_drift_ms; /* how far ahead of wall a remote may be */
} hlc_t;

/* Physical milliseconds of a timestamp. */
static inline uint64_t
hlc_ms(uint64_t ts)
{
	return ts >> HLC_COUNTER_BITS;
}

/* Logical counter of a timestamp. */
static inline uint32_t
hlc_counter(uint64_t ts)
{
	return (uint32_t)(ts & HLC_COUNTER_MAX);
}

/* Makes a timestamp from milliseconds and counter. */
static inline uint64_t
hlc_pack(uint64_t ms, uint32_t counter)
{
	return (ms << HLC_COUNTER_BITS) | (counter & HLC_COUNTER_MAX);
}

/* Starts a clock that continues after `last` (0 for a new replica). */
void hlc_init(hlc_t *clock, uint64_t last, uint64_t max_drift_ms);

/* Returns the wall clock in milliseconds since the epoch. Tests pass their
 * own wall values to the functions below instead. */
uint64_t hlc_wall_ms(void);

/* Issues a timestamp for a local event at wall time wall_ms: strictly greater
 * than anything issued or observed before. */
uint64_t hlc_tick(hlc_t *clock, uint64_t wall_ms);

/* Merges a timestamp received from another site. Returns 0 and advances the
 * clock past it; or -1 with ERR_UNPROCESSABLE when remote is more than
 * max_drift_ms ahead of wall_ms, leaving the clock unchanged. */
int hlc_observe(hlc_t *clock, uint64_t remote, uint64_t wall_ms, err_t *err);

/* Highest timestamp issued or observed; what the store persists. */
static inline uint64_t
hlc_last(const hlc_t *clock)
{
	return clock->last;
}

#endif
