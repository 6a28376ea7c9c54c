/* hlc: hybrid logical clock (see hlc.h). */
#include "hlc.h"

#include <stdlib.h>
#include <time.h>

void
hlc_init(hlc_t *clock, uint64_t last, uint64_t max_drift_ms)
{
	clock->last = last;
	clock->max_drift_ms = max_drift_ms;
}

uint64_t
hlc_wall_ms(void)
{
	/* Tests play a machine whose clock is off (BL_TEST_CLOCK_SKEW_MS,
	 * read once); nothing else sets it. */
	static int64_t skew = -1;
	struct timespec ts;

	if (skew == -1) {
		const char *v = getenv("BL_TEST_CLOCK_SKEW_MS");

		skew = v != NULL ? strtoll(v, NULL, 10) : 0;
		if (skew == -1)
			skew = 0;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)((int64_t)((uint64_t)ts.tv_sec * 1000u +
			      (uint64_t)ts.tv_nsec / 1000000u) +
	    skew);
}

/* Returns the smallest timestamp greater than both `after` and the start of
 * wall_ms. When the counter of `after` is exhausted the physical part moves
 * one millisecond ahead of the wall, which is the HLC's bounded drift. */
static uint64_t
s_next(uint64_t after, uint64_t wall_ms)
{
	uint64_t wall = hlc_pack(wall_ms, 0);

	if (wall > after)
		return wall;
	return after + 1;
}

uint64_t
hlc_tick(hlc_t *clock, uint64_t wall_ms)
{
	clock->last = s_next(clock->last, wall_ms);
	return clock->last;
}

int
hlc_observe(hlc_t *clock, uint64_t remote, uint64_t wall_ms, err_t *err)
{
	uint64_t remote_ms = hlc_ms(remote);

	if (remote_ms > wall_ms && remote_ms - wall_ms > clock->max_drift_ms)
		return err_set(err, ERR_UNPROCESSABLE,
		    "clock %llu ms ahead (max %llu ms)",
		    (unsigned long long)(remote_ms - wall_ms),
		    (unsigned long long)clock->max_drift_ms);
	if (remote > clock->last)
		clock->last = remote;
	return 0;
}
