/*
 * Tracepoint provider "bench" for the LTTng-UST 2.13 side of scripts/bench-vs-lttng.sh.
 *
 * The two event classes mirror the ones declared in libust/benches/ust_bench.rs:
 *   bench:ev      a: u64, b: u32, s: string (the bench passes "payload-16chars!")
 *   bench:ev_min  a: u64
 *
 * Written against the 2.13 namespaced API (LTTNG_UST_TRACEPOINT_*, lttng_ust_field_*).
 */
#undef LTTNG_UST_TRACEPOINT_PROVIDER
#define LTTNG_UST_TRACEPOINT_PROVIDER bench

#undef LTTNG_UST_TRACEPOINT_INCLUDE
#define LTTNG_UST_TRACEPOINT_INCLUDE "./bench_tp.h"

#if !defined(LIBUST_BENCH_TP_H) || defined(LTTNG_UST_TRACEPOINT_HEADER_MULTI_READ)
#define LIBUST_BENCH_TP_H

#include <stdint.h>
#include <lttng/tracepoint.h>

LTTNG_UST_TRACEPOINT_EVENT(bench, ev,
	LTTNG_UST_TP_ARGS(uint64_t, a_arg, uint32_t, b_arg, const char *, s_arg),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_integer(uint64_t, a, a_arg)
		lttng_ust_field_integer(uint32_t, b, b_arg)
		lttng_ust_field_string(s, s_arg)
	)
)

LTTNG_UST_TRACEPOINT_EVENT(bench, ev_min,
	LTTNG_UST_TP_ARGS(uint64_t, a_arg),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_integer(uint64_t, a, a_arg)
	)
)

#endif /* LIBUST_BENCH_TP_H */

#include <lttng/tracepoint-event.h>
