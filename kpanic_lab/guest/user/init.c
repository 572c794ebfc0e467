/*
 * init.c - pid 1: set the stage, then run the shell, forever.
 *
 * Before starting the shell, init leaves memory in the state a real
 * machine's memory is in after a while, so a crash dump (and makedumpfile's
 * -d filter) has every kind of page to sort:
 *   anonymous user pages holding data      (-d 8 drops them)
 *   anonymous user pages that are all zero (-d 1 drops them)
 *   page cache of /tmp (ramfs, no private data: -d 2 or 4 drops it)
 *   page cache of /var/log (a disk file system: pages with buffer heads,
 *     PG_private: only -d 4 drops it) - dirty, never written back
 * All contents are deterministic, so two runs give the same memory.
 * init keeps these mappings for as long as it lives (it never exits).
 */
#include "user.h"

#define MiB (1024UL * 1024)
#define WORKLOAD_ANON_DATA  (1 * MiB)
#define WORKLOAD_ANON_ZERO  (1 * MiB)
#define WORKLOAD_TMP_FILE   (1 * MiB)
#define WORKLOAD_LOG_FILE   (1 * MiB)

static unsigned long *anon_data;    /* kept mapped: pid 1 never exits */
static unsigned long *anon_zero;

/* Write v as `width` decimal digits at p (zero padded): cheaper than printf per line. */
static void put_dec(char *p, unsigned long v, int width)
{
	while (width--) {
		p[width] = '0' + v % 10;
		v /= 10;
	}
}

/*
 * Fill buf with recognisable 64-byte lines, 64 per page:
 *   "anon-data page 0003 line 17 kpanic_lab deterministic data......\n"
 * The line is formatted once and copied; only the numbers change.
 */
static void fill_pattern(char *buf, unsigned long size, const char *what, unsigned long first_page)
{
	char line[65];
	int n = snprintf(line, sizeof(line), "%s page 0000 line 00 kpanic_lab deterministic data", what);
	int page_at = n - (int)strlen(" 0000 line 00 kpanic_lab deterministic data") + 1;
	int line_at = page_at + 10;
	for (; n < 63; n++)
		line[n] = '.';
	line[63] = '\n';
	for (unsigned long off = 0; off < size; off += 64) {
		put_dec(line + page_at, first_page + off / 4096, 4);
		put_dec(line + line_at, (off % 4096) / 64, 2);
		memcpy(buf + off, line, 64);
	}
}

static void write_file(const char *path, unsigned long size, const char *what)
{
	static char chunk[16384];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		printf("init: cannot create %s: %s\n", path, strerror(-fd));
		return;
	}
	for (unsigned long off = 0; off < size; off += sizeof(chunk)) {
		fill_pattern(chunk, sizeof(chunk), what, off / 4096);
		long n = write(fd, chunk, sizeof(chunk));
		if (n < 0) {
			printf("init: write %s: %s\n", path, strerror(-n));
			break;
		}
	}
	close(fd);
}

/* syslog-like lines, as an application's log file would hold them */
static void write_log(const char *path, unsigned long size)
{
	static char chunk[16384];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	unsigned long seq = 0, done = 0;
	if (fd < 0) {
		printf("init: cannot create %s: %s\n", path, strerror(-fd));
		return;
	}
	/* "Nov 26 08:MM:SS kpanic app[10N]: request NNNNNN served in NN ms\n", 64 bytes */
	static const char tmpl[] = "Nov 26 08:00:00 kpanic app[100]: request 000000 served in 00 ms\n";
	while (done < size) {
		int used = 0;
		while (used + 64 <= (int)sizeof(chunk)) {
			char *l = chunk + used;
			memcpy(l, tmpl, 64);
			put_dec(l + 10, (seq / 60) % 60, 2);
			put_dec(l + 13, seq % 60, 2);
			put_dec(l + 27, 100 + seq % 7, 3);
			put_dec(l + 41, seq, 6);
			put_dec(l + 58, 3 + seq % 17, 2);
			used += 64;
			seq++;
		}
		long n = write(fd, chunk, used);
		if (n < 0)
			break;
		done += n;
	}
	close(fd);
}

static void workload(void)
{
	anon_data = mmap(NULL, WORKLOAD_ANON_DATA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if ((long)anon_data > 0)
		fill_pattern((char *)anon_data, WORKLOAD_ANON_DATA, "anon-data", 0);
	/* zero pages: mapped and touched, but never written anything but zeros */
	anon_zero = mmap(NULL, WORKLOAD_ANON_ZERO, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if ((long)anon_zero > 0)
		for (unsigned long i = 0; i < WORKLOAD_ANON_ZERO / 8; i += 512)
			anon_zero[i] = 0;
	write_file("/tmp/data.bin", WORKLOAD_TMP_FILE, "tmp-file");
	write_log("/var/log/messages", WORKLOAD_LOG_FILE);
}

int main(int argc, char **argv)
{
	/* started by a crash (a kdump capture kernel): dump, don't live (kdump.c) */
	int vmcore = open("/proc/vmcore", O_RDONLY, 0);
	if (vmcore >= 0) {
		char *kdump_argv[] = { "kdump", NULL };
		close(vmcore);
		execve("/bin/kdump", kdump_argv, NULL);
		printf("init: cannot run /bin/kdump\n");
	}
	workload();
	for (;;) {
		int pid = fork();
		if (pid == 0) {
			char *sh_argv[] = { "sh", NULL };
			execve("/bin/sh", sh_argv, NULL);
			printf("init: cannot run /bin/sh\n");
			exit(127);
		}
		if (pid < 0) {
			printf("init: fork failed: %s\n", strerror(-pid));
			exit(1);
		}
		/* reap every child (orphans come to pid 1) until the shell itself ends */
		for (;;) {
			int status = 0;
			int who = wait4(-1, &status, 0, NULL);
			if (who == pid || who < 0)
				break;
		}
	}
}
