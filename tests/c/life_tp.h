/* The provider of life_app: one event; `who` says which thread or process phase. */
#undef LTTNG_UST_TRACEPOINT_PROVIDER
#define LTTNG_UST_TRACEPOINT_PROVIDER life
#undef LTTNG_UST_TRACEPOINT_INCLUDE
#define LTTNG_UST_TRACEPOINT_INCLUDE "./life_tp.h"

#if !defined(LIFE_TP_H) || defined(LTTNG_UST_TRACEPOINT_HEADER_MULTI_READ)
#define LIFE_TP_H

#include <lttng/tracepoint.h>
#include <stdint.h>

LTTNG_UST_TRACEPOINT_EVENT(life, ev,
	LTTNG_UST_TP_ARGS(uint32_t, who, uint64_t, seq),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_integer(uint32_t, who, who)
		lttng_ust_field_integer(uint64_t, seq, seq)))

#endif

#include <lttng/tracepoint-event.h>
