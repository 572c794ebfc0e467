/*
 * sh.c - the lab's shell: prompt "# ", one command per line, built-ins only.
 *
 * Each command runs in a child process (fork, run the built-in, exit), the
 * way a real shell runs a program: if the kernel kills it - an oops in a
 * system call it made - the shell survives, prints "Killed" as busybox
 * does, and prompts again.  Only `exit` runs in the shell itself.
 *
 *   echo c > /proc/sysrq-trigger     cat /proc/iomem     ls /proc
 *   insmod my_panic                  rmmod null_deref    lsmod
 *   sysctl kernel.panic              sysctl -w kernel.panic_on_oops=1
 *   uname -a   ps   free   kill PID   reboot   poweroff   help   exit
 */
#include "user.h"

#define MAXARGS 16

static int argcount;
static char *args[MAXARGS + 1];

static void err(const char *cmd, const char *what, int e)
{
	dprintf(2, "%s: %s: %s\n", cmd, what, strerror(e));
}

/* ---- the built-ins ------------------------------------------------------- */

/* one write(2) for the whole line, as a real echo: "c\n" reaches sysrq-trigger at once */
static int cmd_echo(int argc, char **argv)
{
	char line[512];
	int n = 0;
	for (int i = 1; i < argc && n < (int)sizeof(line) - 1; i++)
		n += snprintf(line + n, sizeof(line) - n, "%s%s", i > 1 ? " " : "", argv[i]);
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	return write(1, line, n) < 0;
}

static int cat_fd(int fd)
{
	char buf[1024];
	long n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		write(1, buf, n);
	return n < 0 ? (int)-n : 0;
}

static int cmd_cat(int argc, char **argv)
{
	int ret = 0;
	if (argc == 1)
		return cat_fd(0);
	for (int i = 1; i < argc; i++) {
		int fd = open(argv[i], O_RDONLY, 0);
		if (fd < 0) {
			err("cat", argv[i], -fd);
			ret = 1;
			continue;
		}
		int e = cat_fd(fd);
		if (e)
			err("cat", argv[i], e);
		close(fd);
	}
	return ret;
}

/* Call fn(name) for each entry of a directory but . and .. */
static int for_each_dirent(const char *dir, void (*fn)(const char *name, int type, void *arg), void *arg)
{
	char buf[512];
	long n;
	int fd = open(dir, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	while ((n = getdents64(fd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
			if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
				fn(d->d_name, d->d_type, arg);
			off += d->d_reclen;
		}
	}
	close(fd);
	return 0;
}

static void ls_one(const char *name, int type, void *arg)
{
	printf("%s%s\n", name, type == 4 ? "/" : "");
}

static int cmd_ls(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/";
	int e = for_each_dirent(dir, ls_one, NULL);
	if (e == -20) {             /* not a directory: print its name, as ls does */
		printf("%s\n", dir);
		return 0;
	}
	if (e < 0)
		dprintf(2, "ls: cannot access '%s': %s\n", dir, strerror(-e));
	return e < 0;
}

/* "my_panic", "my_panic.ko", "/lib/modules/.../my_panic.ko" all name my_panic */
static void module_name(const char *arg, char *name, size_t n)
{
	const char *base = strrchr(arg, '/') ? strrchr(arg, '/') + 1 : arg;
	size_t len = strlen(base);
	if (len > 3 && !strcmp(base + len - 3, ".ko"))
		len -= 3;
	if (len >= n)
		len = n - 1;
	memcpy(name, base, len);
	name[len] = 0;
}

static int cmd_insmod(int argc, char **argv)
{
	char name[64], params[128] = "";
	int n = 0;
	if (argc < 2) {
		dprintf(2, "Usage: insmod MODULE [param=value ...]\n");
		return 1;
	}
	module_name(argv[1], name, sizeof(name));
	for (int i = 2; i < argc && n < (int)sizeof(params) - 1; i++)   /* insmod joins them, as kmod */
		n += snprintf(params + n, sizeof(params) - n, "%s%s", i > 2 ? " " : "", argv[i]);
	int e = init_module(name, params);
	if (e < 0)
		dprintf(2, "insmod: ERROR: could not insert module %s: %s\n", argv[1],
			e == -2 ? "Unknown symbol in module, or unknown module" : strerror(-e));
	return e < 0;
}

static int cmd_rmmod(int argc, char **argv)
{
	char name[64];
	if (argc < 2) {
		dprintf(2, "Usage: rmmod MODULE\n");
		return 1;
	}
	module_name(argv[1], name, sizeof(name));
	int e = delete_module(name);
	if (e < 0)
		dprintf(2, "rmmod: ERROR: could not remove module %s: %s\n", argv[1], strerror(-e));
	return e < 0;
}

/* read a whole small file into buf; its length or -errno */
static long slurp(const char *path, char *buf, long size)
{
	int fd = open(path, O_RDONLY, 0);
	long n, got = 0;
	if (fd < 0)
		return fd;
	while (got < size - 1 && (n = read(fd, buf + got, size - 1 - got)) > 0)
		got += n;
	buf[got] = 0;
	close(fd);
	return got;
}

/* lsmod: /proc/modules in kmod's columns */
static int cmd_lsmod(int argc, char **argv)
{
	char buf[2048], *line = buf;
	if (slurp("/proc/modules", buf, sizeof(buf)) < 0)
		return 1;
	printf("Module                  Size  Used by\n");
	while (*line) {
		char *nl = strchr(line, '\n'), *f[4];
		if (nl)
			*nl = 0;
		int n = 0;
		for (char *p = line; *p && n < 4;) {
			f[n++] = p;
			while (*p && *p != ' ')
				p++;
			if (*p)
				*p++ = 0;
		}
		if (n >= 3)
			printf("%-19s %8s  %s\n", f[0], f[1], f[2]);
		line = nl ? nl + 1 : line + strlen(line);
	}
	return 0;
}

/* sysctl kernel.panic | sysctl -w kernel.panic=5 | sysctl kernel.panic=5 | sysctl -a */
static int sysctl_one(const char *arg)
{
	char path[128], name[96], value[64];
	const char *eq = strchr(arg, '=');
	size_t n = eq ? (size_t)(eq - arg) : strlen(arg);
	if (n >= sizeof(name))
		n = sizeof(name) - 1;
	memcpy(name, arg, n);
	name[n] = 0;
	int len = snprintf(path, sizeof(path), "/proc/sys/%s", name);
	for (char *p = path + 10; p < path + len; p++)
		if (*p == '.')
			*p = '/';
	if (eq) {
		int fd = open(path, O_WRONLY, 0);
		if (fd < 0) {
			dprintf(2, "sysctl: cannot stat %s: %s\n", path, strerror(-fd));
			return 1;
		}
		long w = write(fd, eq + 1, strlen(eq + 1));
		close(fd);
		if (w < 0) {
			dprintf(2, "sysctl: setting key \"%s\": %s\n", name, strerror(-w));
			return 1;
		}
	}
	long r = slurp(path, value, sizeof(value));
	if (r < 0) {
		dprintf(2, "sysctl: cannot stat %s: %s\n", path, strerror(-r));
		return 1;
	}
	printf("%s = %s", name, value);
	return 0;
}

static void sysctl_all(const char *entry, int type, void *arg)
{
	char name[96];
	snprintf(name, sizeof(name), "kernel.%s", entry);
	sysctl_one(name);
}

static int cmd_sysctl(int argc, char **argv)
{
	int ret = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-w"))
			continue;
		if (!strcmp(argv[i], "-a")) {
			for_each_dirent("/proc/sys/kernel", sysctl_all, NULL);
			continue;
		}
		ret |= sysctl_one(argv[i]);
	}
	if (argc == 1)
		dprintf(2, "Usage: sysctl [-w] name[=value] ... | sysctl -a\n");
	return ret;
}

static int cmd_uname(int argc, char **argv)
{
	struct utsname u;
	uname(&u);
	if (argc > 1 && !strcmp(argv[1], "-a"))
		printf("%s %s %s %s %s GNU/Linux\n", u.sysname, u.nodename, u.release, u.version, u.machine);
	else if (argc > 1 && !strcmp(argv[1], "-r"))
		printf("%s\n", u.release);
	else
		printf("%s\n", u.sysname);
	return 0;
}

/* ps: one line per /proc/<pid>/stat */
static void ps_one(const char *name, int type, void *arg)
{
	char path[64], stat[256];
	if (name[0] < '0' || name[0] > '9')
		return;
	snprintf(path, sizeof(path), "/proc/%s/stat", name);
	if (slurp(path, stat, sizeof(stat)) <= 0)
		return;
	/* "pid (comm) S ppid ..." */
	char *open_paren = strchr(stat, '('), *close_paren = strrchr(stat, ')');
	if (!open_paren || !close_paren)
		return;
	*close_paren = 0;
	char state = close_paren[2];
	long ppid = atol(close_paren + 4);
	printf("%5s %5ld %c    %s\n", name, ppid, state, open_paren + 1);
}

static int cmd_ps(int argc, char **argv)
{
	printf("  PID  PPID STAT COMMAND\n");
	return for_each_dirent("/proc", ps_one, NULL) < 0;
}

static long meminfo_kb(const char *buf, const char *key)
{
	const char *p = buf;
	size_t n = strlen(key);
	while (*p) {
		if (!strncmp(p, key, n)) {
			p += n;
			while (*p == ' ' || *p == ':')
				p++;
			return atol(p);
		}
		p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p);
	}
	return 0;
}

static int cmd_free(int argc, char **argv)
{
	char buf[1024];
	if (slurp("/proc/meminfo", buf, sizeof(buf)) < 0)
		return 1;
	long total = meminfo_kb(buf, "MemTotal"), free = meminfo_kb(buf, "MemFree");
	long cache = meminfo_kb(buf, "Cached"), avail = meminfo_kb(buf, "MemAvailable");
	printf("               total        used        free      shared  buff/cache   available\n");
	printf("Mem:     %11ld %11ld %11ld %11d %11ld %11ld\n", total, total - free - cache, free, 0,
	       cache, avail);
	printf("Swap:    %11d %11d %11d\n", 0, 0, 0);
	return 0;
}

static int cmd_kill(int argc, char **argv)
{
	int sig = 15, i = 1;
	if (argc > 1 && argv[1][0] == '-')
		sig = (int)atol(argv[1] + 1), i = 2;
	for (; i < argc; i++) {
		int e = kill((int)atol(argv[i]), sig);
		if (e < 0)
			dprintf(2, "sh: kill: (%s) - %s\n", argv[i], strerror(-e));
	}
	return 0;
}

static int cmd_reboot(int argc, char **argv)
{
	/* LINUX_REBOOT_CMD_RESTART / _POWER_OFF */
	return reboot(!strcmp(argv[0], "poweroff") ? 0x4321fedc : 0x01234567) < 0;
}

static int cmd_sleep(int argc, char **argv)
{
	struct timespec ts = { argc > 1 ? atol(argv[1]) : 1, 0 };
	return nanosleep(&ts, NULL) < 0;
}

static int cmd_help(int argc, char **argv);

static const struct builtin {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} builtins[] = {
	{ "echo", cmd_echo, "echo [TEXT...] [> FILE]   print (or write) text" },
	{ "cat", cmd_cat, "cat FILE...               print files" },
	{ "ls", cmd_ls, "ls [DIR]                  list a directory" },
	{ "insmod", cmd_insmod, "insmod MODULE             load a module (my_panic null_deref timer_oops bug_on warn_on panic_on_cpu1 double_panic)" },
	{ "rmmod", cmd_rmmod, "rmmod MODULE              unload a module" },
	{ "lsmod", cmd_lsmod, "lsmod                     list loaded modules" },
	{ "sysctl", cmd_sysctl, "sysctl [-w] NAME[=VALUE]  read or set kernel.panic, kernel.panic_on_oops, ..." },
	{ "uname", cmd_uname, "uname [-a|-r]             the kernel's name and version" },
	{ "ps", cmd_ps, "ps                        list processes" },
	{ "free", cmd_free, "free                      memory use" },
	{ "kill", cmd_kill, "kill [-SIG] PID...        send a signal" },
	{ "sleep", cmd_sleep, "sleep SECONDS             wait" },
	{ "reboot", cmd_reboot, "reboot                    restart the machine" },
	{ "poweroff", cmd_reboot, "poweroff                  switch the machine off" },
	{ "help", cmd_help, "help                      this list" },
	{ "exit", NULL, "exit [CODE]               leave the shell (init starts a new one)" },
};

static int cmd_help(int argc, char **argv)
{
	for (unsigned i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
		printf("  %s\n", builtins[i].help);
	return 0;
}

/* ---- parsing and running -------------------------------------------------- */

/* Split a line into words; "> file" / ">> file" set the redirection. */
static void parse(char *line, const char **redir, int *append)
{
	argcount = 0;
	*redir = NULL;
	*append = 0;
	for (char *p = line; *p;) {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			*p++ = 0;
		if (!*p)
			break;
		if (*p == '>') {
			*p++ = 0;
			if (*p == '>')
				*append = 1, *p++ = 0;
			while (*p == ' ' || *p == '\t')
				*p++ = 0;
			*redir = p;
		} else if (argcount < MAXARGS) {
			/* a word; quotes anywhere in it group spaces and are removed,
			 * as in --append="irqpoll nr_cpus=1 reset_devices" */
			char *o = p, quote = 0;
			args[argcount++] = p;
			while (*p && (quote || (*p != ' ' && *p != '\t' && *p != '\n' && *p != '>'))) {
				if (!quote && (*p == '"' || *p == '\'')) {
					quote = *p++;
				} else if (quote && *p == quote) {
					quote = 0;
					p++;
				} else {
					*o++ = *p++;
				}
			}
			if (o != p)
				*o = 0;         /* quotes were removed: end the word; the separator at p stays */
			continue;
		}
		while (*p && *p != ' ' && *p != '\t' && *p != '\n')
			p++;
	}
	args[argcount] = NULL;
}

static void run(const struct builtin *b, const char *redir, int append)
{
	if (redir) {
		/* there is no dup2: close stdout, and open() takes the lowest free descriptor, 1 */
		close(1);
		int fd = open(redir, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0644);
		if (fd != 1) {
			dprintf(2, "sh: can't create %s: %s\n", redir, fd < 0 ? strerror(-fd) : "bad descriptor");
			exit(1);
		}
	}
	exit(b->fn(argcount, args));
}

/* not a built-in: run /bin/NAME (kexec, kdump, ...) as a real shell would */
static void exec_program(const char *redir, int append)
{
	char path[64];

	if (strchr(args[0], '/'))
		strcpy(path, args[0]);
	else if (strlen(args[0]) < sizeof(path) - 6)
		snprintf(path, sizeof(path), "/bin/%s", args[0]);
	else
		path[0] = 0;
	if (redir) {
		close(1);
		if (open(redir, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0644) != 1)
			exit(1);
	}
	if (path[0])
		execve(path, args, NULL);
	dprintf(2, "sh: %s: not found\n", args[0]);
	exit(127);
}

static const char *signal_name(int sig)
{
	switch (sig) {
	case 4: return "Illegal instruction";
	case 5: return "Trace/breakpoint trap";
	case 7: return "Bus error";
	case 8: return "Floating point exception";
	case 9: return "Killed";
	case 11: return "Segmentation fault";
	case 15: return "Terminated";
	default: return "Killed by a signal";
	}
}

int main(int argc, char **argv)
{
	char line[256];

	for (;;) {
		const char *redir;
		int append;

		write(1, "# ", 2);
		long n = read(0, line, sizeof(line) - 1);
		if (n <= 0)
			continue;
		line[n] = 0;
		parse(line, &redir, &append);
		if (!argcount)
			continue;
		if (!strcmp(args[0], "exit"))
			exit(argcount > 1 ? (int)atol(args[1]) : 0);

		const struct builtin *b = NULL;
		for (unsigned i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
			if (!strcmp(builtins[i].name, args[0]))
				b = &builtins[i];
		int pid = fork();
		if (pid == 0) {
			if (b)
				run(b, redir, append);
			exec_program(redir, append);    /* a program in /bin, or "not found" */
		}
		if (pid < 0) {
			dprintf(2, "sh: fork: %s\n", strerror(-pid));
			continue;
		}
		int status = 0;
		while (wait4(pid, &status, 0, NULL) != pid)
			;
		if (WIFSIGNALED(status))
			printf("%s\n", signal_name(WTERMSIG(status)));
	}
}
