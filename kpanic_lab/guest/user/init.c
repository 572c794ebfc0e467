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
#define WORKLOAD_ANON_DATA  (2 * MiB)
#define WORKLOAD_ANON_ZERO  (2 * MiB)
#define WORKLOAD_TMP_FILE   (2 * MiB)
#define WORKLOAD_LOG_FILE   (2 * MiB)

static unsigned long *anon_data;    /* kept mapped: pid 1 never exits */
static unsigned long *anon_zero;

/* A recognisable 64-byte line per block: "anon-data page 0003 line 17 ...\n" */
static void fill_block(char *p, const char *what, unsigned long page, unsigned long line)
{
	char text[65];
	int n = snprintf(text, sizeof(text), "%s page %04lu line %02lu kpanic_lab deterministic data",
			 what, page, line);
	for (; n < 63; n++)
		text[n] = '.';
	text[63] = '\n';
	memcpy(p, text, 64);
}

static void fill_pattern(char *buf, unsigned long size, const char *what, unsigned long first_page)
{
	for (unsigned long off = 0; off < size; off += 64)
		fill_block(buf + off, what, first_page + off / 4096, (off % 4096) / 64);
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
	while (done < size) {
		int used = 0;
		while (used < (int)sizeof(chunk) - 128) {
			used += snprintf(chunk + used, sizeof(chunk) - used,
					 "Nov 26 08:%02lu:%02lu kpanic app[%lu]: request %lu served in %lu ms\n",
					 (seq / 60) % 60, seq % 60, 100 + seq % 7, seq, 3 + seq % 17);
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
