/*
 * user.h - the tiny C library of the lab's user programs (init, sh).
 *
 * Programs are freestanding: no glibc, just system calls by their Linux
 * x86-64 numbers (the kernel's syscall.c), a few string functions and
 * printf.  A program's main(argc, argv) is called by _start (libc.c).
 */
#ifndef KPANIC_USER_H
#define KPANIC_USER_H

typedef unsigned long size_t;
typedef long ssize_t;
typedef unsigned long long u64;
typedef unsigned char u8;
typedef __builtin_va_list va_list;
#define va_start(v, l) __builtin_va_start(v, l)
#define va_end(v)      __builtin_va_end(v)
#define va_arg(v, T)   __builtin_va_arg(v, T)
#define NULL ((void *)0)

/* system call numbers (arch/x86/entry/syscalls/syscall_64.tbl) */
#define SYS_read            0
#define SYS_write           1
#define SYS_open            2
#define SYS_close           3
#define SYS_mmap            9
#define SYS_munmap          11
#define SYS_brk             12
#define SYS_nanosleep       35
#define SYS_getpid          39
#define SYS_fork            57
#define SYS_execve          59
#define SYS_exit            60
#define SYS_wait4           61
#define SYS_kill            62
#define SYS_uname           63
#define SYS_getppid         110
#define SYS_reboot          169
#define SYS_init_module     175
#define SYS_delete_module   176
#define SYS_getdents64      217
#define SYS_exit_group      231
#define SYS_kexec_load      246

#define O_RDONLY 00
#define O_WRONLY 01
#define O_RDWR   02
#define O_CREAT  0100
#define O_TRUNC  01000
#define O_APPEND 02000
#define O_DIRECTORY 0200000

#define PROT_READ 1
#define PROT_WRITE 2
#define MAP_PRIVATE 0x02
#define MAP_ANONYMOUS 0x20

#define WIFEXITED(s)   (((s) & 0x7f) == 0)
#define WEXITSTATUS(s) (((s) >> 8) & 0xff)
#define WIFSIGNALED(s) (((s) & 0x7f) != 0 && ((s) & 0x7f) != 0x7f)
#define WTERMSIG(s)    ((s) & 0x7f)

struct utsname {
	char sysname[65], nodename[65], release[65], version[65], machine[65], domainname[65];
};

struct linux_dirent64 {
	u64 d_ino;
	long d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

struct timespec {
	long tv_sec;
	long tv_nsec;
};

/* libc.c: system calls (negative return = -errno) */
long syscall6(long nr, long a, long b, long c, long d, long e, long f);
long read(int fd, void *buf, size_t n);
long write(int fd, const void *buf, size_t n);
int open(const char *path, int flags, int mode);
int close(int fd);
void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off);
long brk(void *addr);
int getpid(void);
int getppid(void);
int fork(void);
int execve(const char *path, char *const argv[], char *const envp[]);
void exit(int code) __attribute__((noreturn));
int wait4(int pid, int *status, int options, void *rusage);
int kill(int pid, int sig);
int uname(struct utsname *u);
int reboot(unsigned int cmd);
int init_module(const char *name, const char *params);
int delete_module(const char *name);
long getdents64(int fd, void *buf, size_t n);
int nanosleep(const struct timespec *req, struct timespec *rem);

/* libc.c: strings */
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strcpy(char *d, const char *s);
char *strchr(const char *s, int c);
char *strrchr(const char *s, int c);
char *strstr(const char *h, const char *n);
void *memset(void *s, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
long atol(const char *s);
const char *strerror(int err);

/* libprintf.c */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int dprintf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* the lab: ask a host tool (kexec-tools, the kdump collector) to do a job (hw.h LAB_OP_TOOL) */
long lab_tool(const char *request, size_t len, void *reply, size_t size);
/* append "--- PATH LENGTH\n" and the file's bytes to buf at *used; -errno on failure */
long lab_attach_file(char *buf, size_t size, size_t *used, const char *path);
long lab_attach(char *buf, size_t size, size_t *used, const char *name, const void *data, size_t len);
long read_file(const char *path, char *buf, size_t size);
int puts(const char *s);

#endif
