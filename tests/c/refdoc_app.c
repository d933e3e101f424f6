/* Fires every refdoc event with the inputs of the LTTng-UST reference trace. */
#include <stdint.h>
#include <stdlib.h>
#include <lttng/tracef.h>
#include <lttng/tracelog.h>
#include "refdoc_tp.h"

static int evaluated;

static int count(int v)
{
	evaluated++;
	return v;
}

int main(int argc, char **argv)
{
	const uint8_t bytes[4] = { 0x41, 0, 0x42, 0xff };
	const uint16_t shorts[2] = { 0x0102, 0xfffe };
	const char txt[8] = { 'a', 'b', 'c', 0, 'Q', 'Z', 'x', 'y' };
	int rounds = argc > 1 ? atoi(argv[1]) : 1;

	for (int r = 0; r < rounds; r++) {
		lttng_ust_tracepoint(refdoc, ints, -1, UINT64_MAX, (const void *) 0x1234);
		lttng_ust_tracepoint(refdoc, ints, 300, 300, NULL);
		lttng_ust_tracepoint(refdoc, arrays, bytes, shorts, txt);
		lttng_ust_tracepoint(refdoc, seqs, bytes, shorts, txt, 0);
		lttng_ust_tracepoint(refdoc, seqs, bytes, shorts, txt, 2);
		lttng_ust_tracepoint(refdoc, strings, "hello", NULL);
		lttng_ust_tracepoint(refdoc, strings, "tab\there \"q\" back\\slash", "nl\nx");
		lttng_ust_tracepoint(refdoc, enums, 3);
		lttng_ust_tracepoint(refdoc, enums, -3);
		lttng_ust_tracepoint(refdoc, enums, 100);
		lttng_ust_tracepoint(refdoc, empty);
		lttng_ust_tracepoint(refdoc, voidargs);
		lttng_ust_tracepoint(refdoc, ten, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
		lttng_ust_tracepoint(refdoc, inst_a, count(42), "a");
		if (lttng_ust_tracepoint_enabled(refdoc, inst_b))
			lttng_ust_do_tracepoint(refdoc, inst_b, 9, "via do_tracepoint");
		lttng_ust_tracef("tracef %d %s", 42, "str");
		lttng_ust_tracelog(LTTNG_UST_TRACEPOINT_LOGLEVEL_WARNING, "tracelog %d", 7);
	}
	/* Exit status: how many times the enabled-only argument was evaluated. */
	return evaluated > 100 ? 100 : evaluated;
}
