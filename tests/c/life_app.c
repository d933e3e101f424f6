/*
 * life_app spin: fires life:ev { who = 0, seq } for ever, writing each seq (8 bytes,
 *     little-endian) to stdout once its event is committed; the test SIGKILLs it.
 * life_app fork T N: T threads fire N events each (who = 100 + thread), then the
 *     process forks: the child fires N events (who = 1) and leaves with _exit, the
 *     parent waits for it and fires N more (who = 2); prints "child=PID".
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "life_tp.h"

static uint64_t n;

static void *worker(void *arg)
{
	uint32_t who = (uint32_t) (uintptr_t) arg;

	for (uint64_t seq = 0; seq < n; seq++)
		lttng_ust_tracepoint(life, ev, who, seq);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "spin")) {
		for (uint64_t seq = 0;; seq++) {
			lttng_ust_tracepoint(life, ev, 0, seq);
			if (write(1, &seq, sizeof(seq)) != sizeof(seq))
				return 1;
		}
	}
	if (argc != 4 || strcmp(argv[1], "fork")) {
		fprintf(stderr, "usage: life_app spin | life_app fork THREADS N\n");
		return 2;
	}
	int threads = atoi(argv[2]);
	pthread_t tid[64];

	n = strtoull(argv[3], NULL, 10);
	if (threads < 1 || threads > 64)
		return 2;
	for (int t = 0; t < threads; t++)
		if (pthread_create(&tid[t], NULL, worker, (void *) (uintptr_t) (100 + t)))
			return 1;
	for (int t = 0; t < threads; t++)
		pthread_join(tid[t], NULL);
	pid_t child = fork();

	if (child < 0)
		return 1;
	if (child == 0) {
		worker((void *) 1);
		_exit(0);
	}
	int status;

	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		return 1;
	worker((void *) 2);
	printf("child=%d\n", (int) child);
	return 0;
}
