/*
 * libc.c - _start, the system call wrappers and the string functions of
 * the lab's user programs.
 *
 * A system call on x86-64 Linux: number in rax, arguments in rdi, rsi,
 * rdx, r10, r8, r9, then `syscall`; the result comes back in rax, a
 * negative value being -errno.  The instruction clobbers rcx (the return
 * address) and r11 (the flags).
 */
#include "user.h"

int main(int argc, char **argv);

/* The kernel starts us with rsp -> argc, argv[0], ..., NULL (exec.c). */
asm(".section .text.start, \"ax\"\n"
    ".globl _start\n"
    "_start:\n"
    "\txorl %ebp, %ebp\n"
    "\tmovq (%rsp), %rdi\n"
    "\tleaq 8(%rsp), %rsi\n"
    "\tandq $-16, %rsp\n"
    "\tcall main\n"
    "\tmovl %eax, %edi\n"
    "\tcall exit\n"
    "\thlt\n"
    ".previous");

long syscall6(long nr, long a, long b, long c, long d, long e, long f)
{
	register long r10 asm("r10") = d;
	register long r8 asm("r8") = e;
	register long r9 asm("r9") = f;
	long ret;
	asm volatile("syscall" : "=a"(ret)
		     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
		     : "rcx", "r11", "memory");
	return ret;
}

#define SC(nr, a, b, c) syscall6(nr, (long)(a), (long)(b), (long)(c), 0, 0, 0)

long read(int fd, void *buf, size_t n) { return SC(SYS_read, fd, buf, n); }
long write(int fd, const void *buf, size_t n) { return SC(SYS_write, fd, buf, n); }
int open(const char *path, int flags, int mode) { return SC(SYS_open, path, flags, mode); }
int close(int fd) { return SC(SYS_close, fd, 0, 0); }
long brk(void *addr) { return SC(SYS_brk, addr, 0, 0); }
int getpid(void) { return SC(SYS_getpid, 0, 0, 0); }
int getppid(void) { return SC(SYS_getppid, 0, 0, 0); }
int fork(void) { return SC(SYS_fork, 0, 0, 0); }
int execve(const char *path, char *const argv[], char *const envp[]) { return SC(SYS_execve, path, argv, envp); }
int kill(int pid, int sig) { return SC(SYS_kill, pid, sig, 0); }
int uname(struct utsname *u) { return SC(SYS_uname, u, 0, 0); }
int init_module(const char *name, const char *params) { return SC(SYS_init_module, name, 0, params); }
int delete_module(const char *name) { return SC(SYS_delete_module, name, 0, 0); }
long getdents64(int fd, void *buf, size_t n) { return SC(SYS_getdents64, fd, buf, n); }
int nanosleep(const struct timespec *req, struct timespec *rem) { return SC(SYS_nanosleep, req, rem, 0); }

void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off)
{
	return (void *)syscall6(SYS_mmap, (long)addr, len, prot, flags, fd, off);
}

int wait4(int pid, int *status, int options, void *rusage)
{
	return syscall6(SYS_wait4, pid, (long)status, options, (long)rusage, 0, 0);
}

/* reboot(2) wants the two magic numbers first */
int reboot(unsigned int cmd)
{
	return SC(SYS_reboot, 0xfee1dead, 672274793, cmd);
}

void exit(int code)
{
	for (;;)
		SC(SYS_exit_group, code, 0, 0);
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (u8)*a - (u8)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (u8)*a - (u8)*b;
		if (!*a)
			return 0;
	}
	return 0;
}

char *strcpy(char *d, const char *s)
{
	char *r = d;
	while ((*d++ = *s++))
		;
	return r;
}

char *strchr(const char *s, int c)
{
	for (; *s; s++)
		if (*s == (char)c)
			return (char *)s;
	return c ? NULL : (char *)s;
}

char *strstr(const char *h, const char *n)
{
	size_t ln = strlen(n);
	for (; *h; h++)
		if (!strncmp(h, n, ln))
			return (char *)h;
	return ln ? NULL : (char *)h;
}

char *strrchr(const char *s, int c)
{
	const char *last = NULL;
	do {
		if (*s == (char)c)
			last = s;
	} while (*s++);
	return (char *)last;
}

/* 8 bytes at a time, then the tail: page-sized fills are common here */
void *memset(void *s, int c, size_t n)
{
	void *d = s;
	size_t words = n / 8, tail = n % 8;
	unsigned long v = 0x0101010101010101UL * (u8)c;
	asm volatile("rep stosq" : "+D"(d), "+c"(words) : "a"(v) : "memory");
	asm volatile("rep stosb" : "+D"(d), "+c"(tail) : "a"(v) : "memory");
	return s;
}

void *memcpy(void *d, const void *s, size_t n)
{
	void *dd = d;
	size_t words = n / 8, tail = n % 8;
	asm volatile("rep movsq" : "+D"(dd), "+S"(s), "+c"(words) :: "memory");
	asm volatile("rep movsb" : "+D"(dd), "+S"(s), "+c"(tail) :: "memory");
	return d;
}

long atol(const char *s)
{
	long v = 0, sign = 1;
	if (*s == '-')
		sign = -1, s++;
	while (*s >= '0' && *s <= '9')
		v = v * 10 + (*s++ - '0');
	return sign * v;
}

/* the messages glibc's strerror gives for the errors the kernel returns */
const char *strerror(int err)
{
	switch (err) {
	case 1: return "Operation not permitted";
	case 2: return "No such file or directory";
	case 3: return "No such process";
	case 4: return "Interrupted system call";
	case 9: return "Bad file descriptor";
	case 10: return "No child processes";
	case 11: return "Resource temporarily unavailable";
	case 12: return "Cannot allocate memory";
	case 13: return "Permission denied";
	case 14: return "Bad address";
	case 16: return "Device or resource busy";
	case 17: return "File exists";
	case 20: return "Not a directory";
	case 21: return "Is a directory";
	case 22: return "Invalid argument";
	case 24: return "Too many open files";
	case 28: return "No space left on device";
	case 36: return "File name too long";
	case 38: return "Function not implemented";
	case 99: return "Cannot assign requested address";
	default: return "Unknown error";
	}
}

/* ---- the lab's host tools ----------------------------------------------- */

long lab_tool(const char *request, size_t len, void *reply, size_t size)
{
	unsigned int result;
	register long r8 asm("r8") = (long)size;

	asm volatile("outl %%eax, %%dx" :: "a"(4 /* LAB_OP_TOOL */), "d"(0x500), "D"(request), "S"(len),
		     "c"(reply), "r"(r8) : "memory");
	asm volatile("inl %%dx, %%eax" : "=a"(result) : "d"(0x500));
	return (int)result;
}

long read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY, 0);
	long n, total = 0;

	if (fd < 0)
		return fd;
	while (total < (long)size && (n = read(fd, buf + total, size - total)) > 0)
		total += n;
	close(fd);
	return total;
}

long lab_attach(char *buf, size_t size, size_t *used, const char *name, const void *data, size_t len)
{
	int h = snprintf(buf + *used, size - *used, "--- %s %lu\n", name, (unsigned long)len);
	if (h < 0 || *used + h + len > size)
		return -28;     /* -ENOSPC */
	*used += h;
	memcpy(buf + *used, data, len);
	*used += len;
	return 0;
}

long lab_attach_file(char *buf, size_t size, size_t *used, const char *path)
{
	static char file[65536];
	long n = read_file(path, file, sizeof(file));

	if (n < 0)
		return n;
	return lab_attach(buf, size, used, path, file, n);
}
