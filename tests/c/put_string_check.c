/*
 * Checks the probes' string copy (<lttng/ust-rs-probe.h>) for every length up to 48:
 * a string recorded as measured is copied as is; one that shrank after it was
 * measured (a NUL at any earlier place) is padded with '#' up to the measured length,
 * as LTTng-UST records it; nothing past the record's bytes is written, and nothing
 * past the measured bytes is read (the source ends where an inaccessible page
 * begins). Prints "ok" and exits 0, or says what differs and exits 1.
 */
#define LTTNG_UST_TRACEPOINT_CREATE_PROBES
#define LTTNG_UST_TRACEPOINT_DEFINE
#include "pkg_tp.h"
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void)
{
	long page = sysconf(_SC_PAGESIZE);
	char *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char dst[64], want[64];

	if (map == MAP_FAILED || mprotect(map + page, page, PROT_NONE)) {
		perror("mmap");
		return 1;
	}
	for (size_t n = 1; n <= 48; n++) {
		/* The n - 1 measured bytes end at the inaccessible page. */
		char *src = map + page - (n - 1);

		for (size_t nul = 0; nul < n; nul++) {
			size_t i;

			for (i = 0; i + 1 < n; i++)
				src[i] = (char) ('a' + i % 26);
			if (nul + 1 < n)
				src[nul] = '\0'; /* shrank: a NUL before the measured end */
			memset(dst, 0x55, sizeof(dst));
			memset(want, 0x55, sizeof(want));
			for (i = 0; i + 1 < n && src[i]; i++)
				want[i] = src[i];
			for (; i + 1 < n; i++)
				want[i] = '#';
			want[n - 1] = '\0';
			__lr_put_string(dst, src, n);
			if (memcmp(dst, want, sizeof(dst))) {
				printf("length %zu with a NUL at %zu: got \"%.*s\"\n", n, nul, (int) n, dst);
				return 1;
			}
		}
	}
	puts("ok");
	return 0;
}
