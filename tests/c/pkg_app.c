/*
 * pkg_app WHERE [PROVIDER.so [WAIT_MS]]: fires pkg:hit three times with `where` =
 * WHERE; with a provider library, first waits WAIT_MS, then loads it with dlopen and
 * says whether the event is enabled right after.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "pkg_tp.h"

int main(int argc, char **argv)
{
	const char *where = argc > 1 ? argv[1] : "?";

	if (argc > 2) {
		long ms = argc > 3 ? atol(argv[3]) : 0;
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

		nanosleep(&ts, NULL);
		if (!dlopen(argv[2], RTLD_NOW)) {
			fprintf(stderr, "dlopen %s: %s\n", argv[2], dlerror());
			return 1;
		}
		printf("enabled after dlopen: %d\n", lttng_ust_tracepoint_enabled(pkg, hit) ? 1 : 0);
	}
	for (int i = 0; i < 3; i++)
		lttng_ust_tracepoint(pkg, hit, i, where);
	return 0;
}
