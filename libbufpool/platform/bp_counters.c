/*
 * bp_counters.c - the thread's counter shard.
 *
 * Owns: the thread's shard index, one per thread and process-wide, handed
 * out round-robin at a thread's first count.  Every layer adds to its own
 * counters in the shard of the adding thread (BP_STAT, platform.h), so
 * a count is one relaxed add on a line few threads share; bp_stats_get
 * sums the shards.
 */
#include "platform/platform.h"

BP__TLS int bp__tls_shard = -1;
static unsigned bp__next_shard;

int bp__shard_assign(void)
{
    bp__tls_shard = (int)(__atomic_fetch_add(&bp__next_shard, 1,
                                             __ATOMIC_RELAXED) % BP__SHARDS);
    return bp__tls_shard;
}
