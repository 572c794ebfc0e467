/*
 * syscall.c - system calls: from entry_SYSCALL_64 (entry.S) to the function
 * that does the work, by Linux's x86-64 numbers
 * (arch/x86/entry/syscalls/syscall_64.tbl), so a student's strace-trained
 * eye and the ORIG_RAX in an oops read as on a real system.
 *
 *   user: syscall  (rax = number; rdi, rsi, rdx, r10, r8, r9 = arguments)
 *   entry_SYSCALL_64 -> do_syscall_64(regs, nr) -> ksys_write(fd, buf, n) ...
 *   result in regs->ax, back to user with iretq
 *
 * Pointers from user space are checked (access_ok, copy_from_user) before the
 * kernel touches them: a bad pointer is -EFAULT, not an oops.
 */
#include "types.h"
#include "param.h"
#include "x86.h"
#include "sched.h"
#include "errno.h"
#include "defs.h"
#include "utsname.h"

#define __NR_read             0
#define __NR_write            1
#define __NR_open             2
#define __NR_close            3
#define __NR_mmap             9
#define __NR_munmap          11
#define __NR_brk             12
#define __NR_sched_yield     24
#define __NR_nanosleep       35
#define __NR_getpid          39
#define __NR_fork            57
#define __NR_execve          59
#define __NR_exit            60
#define __NR_wait4           61
#define __NR_kill            62
#define __NR_uname           63
#define __NR_getppid        110
#define __NR_reboot         169
#define __NR_init_module    175
#define __NR_delete_module  176
#define __NR_kexec_load     246
#define __NR_getdents64     217
#define __NR_exit_group     231

#define PATH_MAX            256
#define MODULE_NAME_LEN     56

struct timespec {
	long tv_sec;
	long tv_nsec;
};

static long sys_open(const char *upath, int flags, int mode)
{
	char path[PATH_MAX];
	long n = strncpy_from_user(path, upath, sizeof(path));

	if (n < 0)
		return n;
	return ksys_open(path, flags, mode);
}

static long sys_nanosleep(const struct timespec *ureq, struct timespec *urem)
{
	struct timespec req;
	u64 until;

	if (copy_from_user(&req, ureq, sizeof(req)))
		return -EFAULT;
	if (req.tv_sec < 0 || req.tv_nsec < 0 || req.tv_nsec >= 1000000000L)
		return -EINVAL;
	until = local_clock() + (u64)req.tv_sec * 1000000000ULL + req.tv_nsec;
	/* the timer tick wakes sleepers on &jiffies every 1/HZ second (time.c) */
	for (;;) {
		prepare_to_wait((void *)&jiffies);
		if (local_clock() >= until || signal_pending(current))
			break;
		schedule();
	}
	finish_wait((void *)&jiffies);
	if (local_clock() < until) {
		if (urem) {
			u64 left = until - local_clock();
			struct timespec rem = { left / 1000000000ULL, left % 1000000000ULL };

			copy_to_user(urem, &rem, sizeof(rem));
		}
		return -EINTR;
	}
	return 0;
}

static long sys_wait4(pid_t pid, int *ustatus, int options)
{
	int status = 0;
	long ret = do_wait4(pid, &status, options);

	if (ret > 0 && ustatus && copy_to_user(ustatus, &status, sizeof(status)))
		return -EFAULT;
	return ret;
}

static long sys_uname(struct new_utsname *uname)
{
	return copy_to_user(uname, init_utsname(), sizeof(*uname)) ? -EFAULT : 0;
}

/* init_module(image, len, param_values): the lab's image is the module's name */
static long sys_module(int nr, const char *uname, const char *uargs)
{
	char name[MODULE_NAME_LEN], args[128] = "";
	long n = strncpy_from_user(name, uname, sizeof(name));

	if (n < 0)
		return n;
	if (nr == __NR_init_module && uargs) {
		n = strncpy_from_user(args, uargs, sizeof(args));
		if (n < 0)
			return n;
		if (n >= (long)sizeof(args))
			return -ENOSPC;
	}
	return nr == __NR_init_module ? load_module(name, args) : delete_module(name);
}

long do_syscall_64(struct pt_regs *regs, long nr)
{
	unsigned long a0 = regs->di, a1 = regs->si, a2 = regs->dx;
	unsigned long a3 = regs->r10, a4 = regs->r8, a5 = regs->r9;
	long ret;

	local_irq_enable();     /* entry_SYSCALL_64 ran with IF masked (MSR_SYSCALL_MASK) */

	switch (nr) {
	case __NR_read:
		ret = access_ok((void *)a1, a2) ? ksys_read(a0, (char *)a1, a2) : -EFAULT;
		break;
	case __NR_write:
		ret = access_ok((void *)a1, a2) ? ksys_write(a0, (const char *)a1, a2) : -EFAULT;
		break;
	case __NR_open:
		ret = sys_open((const char *)a0, a1, a2);
		break;
	case __NR_close:
		ret = ksys_close(a0);
		break;
	case __NR_mmap:
		ret = sys_mmap(a0, a1, a2, a3, a4, a5);
		break;
	case __NR_munmap:
		ret = sys_munmap(a0, a1);
		break;
	case __NR_brk:
		ret = sys_brk(a0);
		break;
	case __NR_sched_yield:
		schedule();
		ret = 0;
		break;
	case __NR_nanosleep:
		ret = sys_nanosleep((const struct timespec *)a0, (struct timespec *)a1);
		break;
	case __NR_getpid:
		ret = current->tgid;
		break;
	case __NR_getppid:
		ret = current->real_parent ? current->real_parent->tgid : 0;
		break;
	case __NR_fork:
		ret = kernel_clone_user(regs);
		break;
	case __NR_execve:
		ret = sys_execve((const char *)a0, (char *const *)a1);
		break;
	case __NR_exit:
		ret = __x64_sys_exit(regs);    /* does not return */
		break;
	case __NR_exit_group:
		ret = __x64_sys_exit_group(regs);
		break;
	case __NR_wait4:
		ret = sys_wait4(a0, (int *)a1, a2);
		break;
	case __NR_kill:
		ret = do_kill(a0, a1);
		break;
	case __NR_uname:
		ret = sys_uname((struct new_utsname *)a0);
		break;
	case __NR_reboot:
		ret = sys_reboot(a0, a1, a2);
		break;
	case __NR_kexec_load:
		ret = sys_kexec_load(a0, a1, (const void *)a2, a3);
		break;
	case __NR_init_module:
	case __NR_delete_module:
		ret = sys_module(nr, (const char *)a0, nr == __NR_init_module ? (const char *)a2 : NULL);
		break;
	case __NR_getdents64:
		ret = access_ok((void *)a1, a2) ? ksys_getdents(a0, (char *)a1, a2) : -EFAULT;
		break;
	default:
		ret = -ENOSYS;
		break;
	}
	regs->ax = ret;
	syscall_exit_to_user_mode(regs);
	return ret;
}
