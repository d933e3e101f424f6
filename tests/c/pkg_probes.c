/* The provider's probes (a static library, a shared library, or the program). */
#define LTTNG_UST_TRACEPOINT_CREATE_PROBES
#include "pkg_tp.h"
