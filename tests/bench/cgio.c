// SPDX-License-Identifier: GPL-2.0
/*
 * cgio DEV NR NCG SECONDS BS PREFIX: NR processes spread over NCG cgroups
 * (process i, from 0, in /sys/fs/cgroup/PREFIX<i % NCG + 1>), each doing
 * BS-byte O_DIRECT random reads of DEV for SECONDS, all let go at once
 * after every one is in its cgroup with DEV open.  Prints "<bytes> <ios>":
 * the sum over all of them.
 *
 * A benchmark helper (tests/bench/cgroup_scaling.sh): starting 1000 dd
 * processes under TCG costs more than their I/O, so the processes here
 * are forked once and the timed part is only I/O.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <linux/fs.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	perror(what);
	_exit(2);
}

static void child(const char *dev, int i, int cg, double secs, size_t bs,
		  const char *prefix, int ready, int go, int res)
{
	unsigned long long result[2] = { 0, 0 }, blocks, x = 0x9e3779b97f4a7c15ULL * (i + 1);
	char path[256], c = 0;
	void *buf;
	double end;
	int fd;

	snprintf(path, sizeof(path), "/sys/fs/cgroup/%s%d/cgroup.procs", prefix, cg);
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, "0", 1) != 1)
		die(path);
	close(fd);
	fd = open(dev, O_RDONLY | O_DIRECT);
	if (fd < 0 || ioctl(fd, BLKGETSIZE64, &blocks) < 0)
		die(dev);
	blocks /= bs;
	if (!blocks || posix_memalign(&buf, 4096, bs))
		die("size");
	if (write(ready, &c, 1) != 1)
		die("ready");
	if (read(go, &c, 1) != 0)	/* EOF: the parent let go */
		die("go");
	end = now() + secs;
	while (now() < end) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (pread(fd, buf, bs, (off_t)(x % blocks) * bs) != (ssize_t)bs)
			die("pread");
		result[0] += bs;
		result[1]++;
	}
	if (write(res, result, sizeof(result)) != sizeof(result))
		die("result");
	_exit(0);
}

int main(int argc, char **argv)
{
	int ready[2], go[2], res[2], nr, ncg, i, failed = 0, status;
	unsigned long long sum[2] = { 0, 0 }, r[2];
	double secs;
	size_t bs;
	char c;

	if (argc != 7) {
		fprintf(stderr, "usage: cgio DEV NR NCG SECONDS BS PREFIX\n");
		return 2;
	}
	nr = atoi(argv[2]);
	ncg = atoi(argv[3]);
	secs = atof(argv[4]);
	bs = strtoul(argv[5], NULL, 0);
	if (nr < 1 || ncg < 1 || secs <= 0 || !bs || bs % 512)
		return 2;
	if (pipe(ready) || pipe(go) || pipe(res))
		die("pipe");
	for (i = 0; i < nr; i++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (!pid) {
			close(ready[0]);
			close(go[1]);
			close(res[0]);
			child(argv[1], i, i % ncg + 1, secs, bs, argv[6],
			      ready[1], go[0], res[1]);
		}
	}
	close(ready[1]);
	close(go[0]);
	close(res[1]);
	for (i = 0; i < nr; i++)
		if (read(ready[0], &c, 1) != 1) {
			fprintf(stderr, "cgio: only %d of %d readers got ready\n", i, nr);
			failed = 1;
			break;
		}
	close(go[1]);			/* let all of them go */
	while (!failed && read(res[0], r, sizeof(r)) == sizeof(r)) {
		sum[0] += r[0];
		sum[1] += r[1];
	}
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			failed = 1;
	if (failed)
		return 1;
	printf("%llu %llu\n", sum[0], sum[1]);
	return 0;
}
