/* A workload with known numbers of kernel events, for
 * tests/a_kernel_trace_has_lttng_modules_layouts_and_its_workload_counts_by_field_name.rs:
 * WRITES one-byte writes to fd 11 and READS reads from fd 10 (a pipe), FORKS children
 * that each exec /bin/true, then one more child that sleeps SLEEPS times (one switch
 * out in state S each), a file written with O_DIRECT and fsync'd (block I/O), and a
 * UDP packet to 127.0.0.1 (loopback). Prints the sleeper's pid. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { WRITES = 50, READS = 50, FORKS = 5, SLEEPS = 20, FILE_BYTES = 65536 };

int main(int argc, char **argv)
{
	int p[2];
	char c = 'x';
	int i;

	if (argc != 2 || pipe(p) != 0 || dup2(p[0], 10) != 10 || dup2(p[1], 11) != 11)
		return 1;
	for (i = 0; i < WRITES; i++)
		if (write(11, &c, 1) != 1)
			return 2;
	for (i = 0; i < READS; i++)
		if (read(10, &c, 1) != 1)
			return 3;
	for (i = 0; i < FORKS; i++) {
		pid_t k = fork();
		if (k == 0) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		if (k < 0 || waitpid(k, NULL, 0) != k)
			return 4;
	}
	pid_t sleeper = fork();
	if (sleeper == 0) {
		struct timespec t = { 0, 1000000 };
		for (i = 0; i < SLEEPS; i++)
			nanosleep(&t, NULL);
		_exit(0);
	}
	if (sleeper < 0 || waitpid(sleeper, NULL, 0) != sleeper)
		return 5;

	void *buf;
	int fd = open(argv[1], O_CREAT | O_WRONLY | O_DIRECT, 0600);
	if (fd < 0 || posix_memalign(&buf, 4096, FILE_BYTES) != 0)
		return 6;
	memset(buf, 'a', FILE_BYTES);
	if (write(fd, buf, FILE_BYTES) != FILE_BYTES || fsync(fd) != 0 || close(fd) != 0)
		return 7;

	int u = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to;
	memset(&to, 0, sizeof to);
	to.sin_family = AF_INET;
	to.sin_port = htons(9);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (u < 0 || sendto(u, "x", 1, 0, (struct sockaddr *)&to, sizeof to) != 1)
		return 8;
	printf("%d\n", (int)sleeper);
	return 0;
}
