/*
 * exec.c - execve(): replace the calling process's program with a static
 * ELF executable from the initramfs table.
 *
 * The user programs (user/) are linked into the kernel image by
 * scripts/initramfs.py as a table of {name, data, size}; there is no block
 * device and no file system to load from.  execve builds the new address
 * space completely (segments, heap start, stack with argc/argv) before it
 * touches the old one, so a failed execve returns an error to a process that
 * is still intact, as in Linux.
 *
 * The initial user stack, as the System V x86-64 ABI wants it at _start:
 *
 *   USER_STACK_TOP -> +------------------------+
 *                     | argument strings       |
 *                     +------------------------+ (16-byte aligned)
 *                     | AT_NULL auxv (0, 0)    |
 *                     | NULL (end of envp)     |
 *                     | NULL (end of argv)     |
 *                     | argv[argc-1] ...       |
 *                     | argv[0]                |
 *   rsp ------------> | argc                   |   16-byte aligned
 *
 * As a convenience for a C _start, %rdi = argc and %rsi = argv as well.
 */
#include "types.h"
#include "param.h"
#include "memlayout.h"
#include "mm.h"
#include "x86.h"
#include "hw.h"
#include "sched.h"
#include "errno.h"
#include "defs.h"
#include "elf.h"

#define MAX_ARG_STRINGS   32
#define MAX_ARG_BYTES     2048


/* scripts/initramfs.py: the table, ended by an entry with a NULL name */
extern const struct initramfs_entry initramfs_table[];

const struct initramfs_entry *initramfs_lookup(const char *path)
{
	const struct initramfs_entry *e;

	for (e = initramfs_table; e->name; e++)
		if (!strcmp(e->name, path))
			return e;
	return NULL;
}

/* the argument strings, packed, while the old address space is still around */
struct exec_args {
	int argc;
	int bytes;
	char buf[MAX_ARG_BYTES];
};

static int collect_args(struct exec_args *a, char *const argv[])
{
	int i;

	a->argc = 0;
	a->bytes = 0;
	for (i = 0; argv && argv[i]; i++) {
		int n = strlen(argv[i]) + 1;

		if (i >= MAX_ARG_STRINGS || a->bytes + n > MAX_ARG_BYTES)
			return -E2BIG;
		memcpy(a->buf + a->bytes, argv[i], n);
		a->bytes += n;
		a->argc++;
	}
	return 0;
}

static int load_elf(struct mm_struct *mm, const struct initramfs_entry *e, unsigned long *entry)
{
	const struct elf64_hdr *eh = (const void *)e->data;
	unsigned long end = 0;
	int i;

	if (e->size < sizeof(*eh) || memcmp(eh->e_ident, "\177ELF", 4) || eh->e_ident[4] != 2 ||
	    eh->e_type != ET_EXEC || eh->e_machine != EM_X86_64 ||
	    eh->e_phoff + (unsigned long)eh->e_phnum * sizeof(struct elf64_phdr) > e->size)
		return -ENOEXEC;

	for (i = 0; i < eh->e_phnum; i++) {
		const struct elf64_phdr *ph = (const struct elf64_phdr *)(e->data + eh->e_phoff) + i;

		if (ph->p_type != PT_LOAD || !ph->p_memsz)
			continue;
		if (ph->p_filesz > ph->p_memsz || ph->p_offset + ph->p_filesz > e->size ||
		    ph->p_vaddr < USER_TEXT_START || ph->p_vaddr + ph->p_memsz > USER_STACK_TOP - (1UL << 30))
			return -ENOEXEC;
		if (map_user_range(mm, ph->p_vaddr, ph->p_memsz))
			return -ENOMEM;
		if (copy_to_mm(mm, ph->p_vaddr, e->data + ph->p_offset, ph->p_filesz))
			return -EFAULT;
		if (ph->p_flags & 1) {          /* PF_X */
			if (!mm->start_code || ph->p_vaddr < mm->start_code)
				mm->start_code = ph->p_vaddr;
			mm->end_code = max(mm->end_code, ph->p_vaddr + ph->p_filesz);
		}
		end = max(end, ph->p_vaddr + ph->p_memsz);
	}
	if (!end)
		return -ENOEXEC;
	mm->start_brk = mm->brk = ALIGN(end, PAGE_SIZE);
	*entry = eh->e_entry;
	return 0;
}

/* the stack of the picture above; returns the initial rsp */
static long setup_stack(struct mm_struct *mm, struct exec_args *a, unsigned long *argv_out)
{
	unsigned long sp = USER_STACK_TOP;
	unsigned long strings, words, uargv[MAX_ARG_STRINGS + 1];
	unsigned long frame[MAX_ARG_STRINGS + 5];
	int i, off, n = 0;

	if (map_user_range(mm, USER_STACK_TOP - USER_STACK_PAGES * PAGE_SIZE, USER_STACK_PAGES * PAGE_SIZE))
		return -ENOMEM;
	sp -= a->bytes;
	strings = sp;
	if (copy_to_mm(mm, strings, a->buf, a->bytes))
		return -EFAULT;
	for (i = 0, off = 0; i < a->argc; i++) {
		uargv[i] = strings + off;
		off += strlen(a->buf + off) + 1;
	}
	sp &= ~15UL;
	words = 1 + a->argc + 1 + 1 + 2;        /* argc, argv[], NULL, envp NULL, AT_NULL pair */
	if (words & 1)
		sp -= 8;                         /* so that rsp ends 16-byte aligned */
	sp -= words * 8;
	frame[n++] = a->argc;
	for (i = 0; i < a->argc; i++)
		frame[n++] = uargv[i];
	frame[n++] = 0;
	frame[n++] = 0;
	frame[n++] = 0;
	frame[n++] = 0;
	if (copy_to_mm(mm, sp, frame, words * 8))
		return -EFAULT;
	mm->start_stack = sp;
	*argv_out = sp + 8;
	return sp;
}

/* user registers for a fresh program (Linux: start_thread) */
void arch_setup_new_exec_regs(struct pt_regs *regs, unsigned long ip, unsigned long sp)
{
	memset(regs, 0, sizeof(*regs));
	regs->ip = ip;
	regs->sp = sp;
	regs->cs = USER_CS;
	regs->ss = USER_DS;
	regs->flags = X86_EFLAGS_IF | 0x2;
	regs->orig_ax = -1;
}

/* the program's name, for comm: "/bin/sh" -> "sh" */
static const char *kbasename(const char *path)
{
	const char *s = strchr(path, '/'), *last = path;

	while (s) {
		last = s + 1;
		s = strchr(last, '/');
	}
	return last;
}

/*
 * path and argv are kernel memory (sys_execve copies them in).  On success
 * the caller returns to user mode into the new program: its registers are
 * already in task_pt_regs(current).
 */
long do_execve(const char *path, char *const argv[])
{
	struct task_struct *tsk = current;
	const struct initramfs_entry *e = initramfs_lookup(path);
	struct exec_args *args;
	struct mm_struct *mm, *old;
	unsigned long entry = 0, uargv = 0;
	long sp, err;
	int i;

	if (!e)
		return -ENOENT;
	args = kmalloc(sizeof(*args));
	if (!args)
		return -ENOMEM;
	err = collect_args(args, argv);
	if (err)
		goto out;
	err = -ENOMEM;
	mm = mm_alloc();
	if (!mm)
		goto out;
	err = load_elf(mm, e, &entry);
	if (!err) {
		sp = setup_stack(mm, args, &uargv);
		err = sp < 0 ? sp : 0;
	}
	if (err) {
		mm_free(mm);
		goto out;
	}

	/* the point of no return: switch to the new address space, drop the old */
	preempt_disable();
	old = tsk->mm;
	tsk->mm = mm;
	tsk->active_mm = mm;
	write_cr3(mm->pgd);
	preempt_enable();
	if (old)
		mm_free(old);

	tsk->flags &= ~PF_KTHREAD;
	for (i = 0; i < TASK_COMM_LEN - 1 && kbasename(path)[i]; i++)
		tsk->comm[i] = kbasename(path)[i];
	while (i < TASK_COMM_LEN)
		tsk->comm[i++] = '\0';        /* zero-padded, as __set_task_comm's strscpy_pad */
	arch_setup_new_exec_regs(task_pt_regs(tsk), entry, sp);
	task_pt_regs(tsk)->di = args->argc;
	task_pt_regs(tsk)->si = uargv;
	err = 0;
out:
	kfree(args);
	return err;
}

/* execve(path, argv, envp) from user mode: copy the arguments in, then do_execve */
long sys_execve(const char *upath, char *const *uargv)
{
	char *path = kmalloc(256);
	char **argv = kmalloc((MAX_ARG_STRINGS + 1) * sizeof(char *));
	char *strings = kmalloc(MAX_ARG_BYTES);
	long err = -ENOMEM, len;
	int argc = 0, used = 0;

	if (!path || !argv || !strings)
		goto out;
	err = strncpy_from_user(path, upath, 256);
	if (err < 0)
		goto out;
	for (; uargv; ) {
		char *p;

		if (copy_from_user(&p, uargv + argc, sizeof(p))) {
			err = -EFAULT;
			goto out;
		}
		if (!p)
			break;
		if (argc >= MAX_ARG_STRINGS || used >= MAX_ARG_BYTES - 1) {
			err = -E2BIG;
			goto out;
		}
		len = strncpy_from_user(strings + used, p, MAX_ARG_BYTES - used);
		if (len < 0) {
			err = len;
			goto out;
		}
		argv[argc++] = strings + used;
		used += len + 1;
	}
	argv[argc] = NULL;
	err = do_execve(path, argv);
out:
	if (path)
		kfree(path);
	if (argv)
		kfree(argv);
	if (strings)
		kfree(strings);
	return err;
}
