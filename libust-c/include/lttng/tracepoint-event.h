/*
 * Included at the end of every provider header. In the one translation unit that
 * defines LTTNG_UST_TRACEPOINT_CREATE_PROBES, it reads the provider header again to
 * generate the provider's descriptions and probes (<lttng/ust-rs-probe.h>).
 */
#pragma GCC system_header

#if !defined(LTTNG_UST_TRACEPOINT_PROVIDER) && defined(TRACEPOINT_PROVIDER)
#define LTTNG_UST_TRACEPOINT_PROVIDER TRACEPOINT_PROVIDER
#endif
#if !defined(LTTNG_UST_TRACEPOINT_INCLUDE) && defined(TRACEPOINT_INCLUDE)
#define LTTNG_UST_TRACEPOINT_INCLUDE TRACEPOINT_INCLUDE
#endif

#if (defined(LTTNG_UST_TRACEPOINT_CREATE_PROBES) || defined(TRACEPOINT_CREATE_PROBES)) \
	&& !defined(__LR_IN_PROBE_PASSES)
#include <lttng/ust-rs-probe.h>
#endif
