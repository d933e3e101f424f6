/*
 * ust_bench_lttng: the libust bench workload (libust/benches/ust_bench.rs), emitted
 * through LTTng-UST 2.13 instead, so that scripts/bench-vs-lttng.sh can run both side
 * by side.
 *
 *   ust_bench_lttng N T [ev|min|clock|loop]
 *
 * T threads each run N iterations of a tight loop. They are released together by a
 * barrier and each one times its own loop with CLOCK_MONOTONIC. Modes:
 *   ev     bench:ev (u64 a = i, u32 b = i ^ tid, string s = "payload-16chars!")
 *   min    bench:ev_min (u64 a = i)
 *   clock  one clock_gettime(CLOCK_MONOTONIC) per iteration (LTTng-UST's default clock)
 *   loop   the empty loop
 * Whether the tracepoints are enabled is decided outside the program (an LTTng session
 * with the event enabled, or none).
 *
 * Output, the same lines as ust_bench:
 *   THREAD mode=ev tid=0 n=... ns=... ns_per_ev=...
 *   AGG mode=ev threads=T n_per_thread=N total=... wall_ns=... events_per_s=...
 *       ns_per_ev_thread_median=... sink=...
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_tp.h"

#define PAYLOAD "payload-16chars!"

enum mode { MODE_EV, MODE_MIN, MODE_CLOCK, MODE_LOOP };

static const char *const MODE_NAMES[] = {
	[MODE_EV] = "ev", [MODE_MIN] = "min", [MODE_CLOCK] = "clock", [MODE_LOOP] = "loop",
};

struct worker {
	pthread_t thread;
	pthread_barrier_t *start;
	enum mode mode;
	uint32_t tid;
	uint64_t n;
	uint64_t t0, t1; /* CLOCK_MONOTONIC ns around the loop */
	uint64_t sink;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * UINT64_C(1000000000) + (uint64_t) ts.tv_nsec;
}

static void *run_worker(void *arg)
{
	struct worker *w = arg;
	const uint64_t n = w->n;
	const uint32_t tid = w->tid;
	uint64_t sink = 0;

	pthread_barrier_wait(w->start);
	w->t0 = mono_ns();
	switch (w->mode) {
	case MODE_EV:
		for (uint64_t i = 0; i < n; i++)
			lttng_ust_tracepoint(bench, ev, i, (uint32_t) i ^ tid, PAYLOAD);
		break;
	case MODE_MIN:
		for (uint64_t i = 0; i < n; i++)
			lttng_ust_tracepoint(bench, ev_min, i);
		break;
	case MODE_CLOCK:
		for (uint64_t i = 0; i < n; i++)
			sink += mono_ns();
		break;
	case MODE_LOOP:
		for (uint64_t i = 0; i < n; i++)
			__asm__ __volatile__("" : : "r"(i) : "memory"); /* like black_box(i) */
		break;
	}
	w->t1 = mono_ns();
	w->sink = sink;
	return NULL;
}

static int cmp_double(const void *pa, const void *pb)
{
	const double a = *(const double *) pa, b = *(const double *) pb;

	return (a > b) - (a < b);
}

static int parse_mode(const char *s, enum mode *out)
{
	for (size_t m = 0; m < sizeof(MODE_NAMES) / sizeof(MODE_NAMES[0]); m++) {
		if (strcmp(s, MODE_NAMES[m]) == 0) {
			*out = (enum mode) m;
			return 0;
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	uint64_t n = 10000000;
	long nthreads = 1;
	enum mode mode = MODE_EV;
	char *end;

	if (argc > 4) {
		fprintf(stderr, "usage: %s N T [ev|min|clock|loop]\n", argv[0]);
		return 2;
	}
	if (argc > 1) {
		n = strtoull(argv[1], &end, 10);
		if (*end || n == 0) {
			fprintf(stderr, "bad N '%s'\n", argv[1]);
			return 2;
		}
	}
	if (argc > 2) {
		nthreads = strtol(argv[2], &end, 10);
		if (*end || nthreads < 1 || nthreads > 1024) {
			fprintf(stderr, "bad T '%s'\n", argv[2]);
			return 2;
		}
	}
	if (argc > 3 && parse_mode(argv[3], &mode)) {
		fprintf(stderr, "unknown mode %s\n", argv[3]);
		return 2;
	}

	pthread_barrier_t start;
	struct worker *w = calloc((size_t) nthreads, sizeof(*w));
	double *per_ev = calloc((size_t) nthreads, sizeof(*per_ev));

	if (!w || !per_ev) {
		perror("calloc");
		return 1;
	}
	pthread_barrier_init(&start, NULL, (unsigned) nthreads);
	for (long t = 0; t < nthreads; t++) {
		w[t].start = &start;
		w[t].mode = mode;
		w[t].tid = (uint32_t) t;
		w[t].n = n;
		int err = pthread_create(&w[t].thread, NULL, run_worker, &w[t]);
		if (err) {
			fprintf(stderr, "pthread_create: %s\n", strerror(err));
			return 1;
		}
	}

	uint64_t first = UINT64_MAX, last = 0, sink = 0;

	for (long t = 0; t < nthreads; t++) {
		pthread_join(w[t].thread, NULL);
		if (w[t].t0 < first)
			first = w[t].t0;
		if (w[t].t1 > last)
			last = w[t].t1;
		sink ^= w[t].sink;
		uint64_t ns = w[t].t1 - w[t].t0;
		per_ev[t] = (double) ns / (double) n;
		printf("THREAD mode=%s tid=%ld n=%" PRIu64 " ns=%" PRIu64 " ns_per_ev=%.3f\n",
		       MODE_NAMES[mode], t, n, ns, per_ev[t]);
	}
	qsort(per_ev, (size_t) nthreads, sizeof(*per_ev), cmp_double);
	double median = nthreads % 2 ? per_ev[nthreads / 2]
				     : (per_ev[nthreads / 2 - 1] + per_ev[nthreads / 2]) / 2.0;
	uint64_t total = n * (uint64_t) nthreads, wall = last - first;

	printf("AGG mode=%s threads=%ld n_per_thread=%" PRIu64 " total=%" PRIu64 " wall_ns=%" PRIu64
	       " events_per_s=%.0f ns_per_ev_thread_median=%.3f sink=%" PRIu64 "\n",
	       MODE_NAMES[mode], nthreads, n, total, wall, (double) total * 1e9 / (double) wall,
	       median, sink & 1);
	pthread_barrier_destroy(&start);
	free(per_ev);
	free(w);
	return 0;
}
