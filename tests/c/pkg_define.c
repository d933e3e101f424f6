/* The program's call sites (with -DLTTNG_UST_TRACEPOINT_PROBE_DYNAMIC_LINKAGE when the
 * provider is loaded with dlopen or LD_PRELOAD). */
#define LTTNG_UST_TRACEPOINT_DEFINE
#include "pkg_tp.h"
