/*
 * exit.c - the end of a task: exit(), kill(), and wait4() reaping zombies.
 *
 * An exiting task gives back what it owns (files, address space), hands its
 * children to init, and becomes a zombie: nothing is left of it but its
 * task_struct, its kernel stack, and its exit code, until its parent's
 * wait4() collects the code and frees the rest.  Kernel threads have no
 * parent waiting: they are freed as soon as they are off their CPU.
 *
 * Exit codes as Linux's wait status: exit(n) gives (n & 0xff) << 8, death by
 * signal s gives s.  So init calling exit(1) panics with exitcode=0x00000100.
 */
#include "types.h"
#include "param.h"
#include "x86.h"
#include "hw.h"
#include "sched.h"
#include "spinlock.h"
#include "errno.h"
#include "defs.h"

#define WNOHANG 1

extern spinlock_t tasklist_lock;

static void exit_files(struct task_struct *tsk)
{
	int fd;

	for (fd = 0; fd < NR_OPEN; fd++)
		if (tsk->files[fd])
			ksys_close(fd);
}

/* leave our address space for the kernel's, then free it */
static void exit_mm(struct task_struct *tsk)
{
	struct mm_struct *mm = tsk->mm;

	if (!mm)
		return;
	preempt_disable();
	tsk->mm = NULL;
	tsk->active_mm = &init_mm;
	write_cr3(init_mm.pgd);
	preempt_enable();
	mm_free(mm);
}

/* pid 1, which adopts orphans */
static struct task_struct *child_reaper(void)
{
	struct task_struct *t;

	list_for_each_entry(t, &init_task.tasks, tasks)
		if (t->pid == 1)
			return t;
	return &init_task;
}

/*
 * Give the children to init, become a zombie (or, with no one to wait for
 * us, nothing at all), and wake whoever will reap.  Interrupts are off from
 * here to the final switch, so we cannot be preempted as a zombie: a
 * parent may free a zombie as soon as it is off its CPU.
 */
static void exit_notify(struct task_struct *tsk)
{
	struct task_struct *reaper, *child, *n, *parent;
	bool wake_reaper = false;

	spin_lock(&tasklist_lock);
	reaper = child_reaper();
	list_for_each_entry_safe(child, n, &tsk->children, sibling) {
		list_del(&child->sibling);
		child->real_parent = child->parent = reaper;
		list_add_tail(&child->sibling, &reaper->children);
		if (child->exit_state == EXIT_ZOMBIE)
			wake_reaper = true;
	}
	parent = tsk->parent;
	if (parent == &init_task) {
		/* a kernel thread: nobody reaps it, it goes away after its last switch */
		tsk->exit_state = EXIT_DEAD;
		list_del(&tsk->tasks);
		list_del(&tsk->sibling);
		INIT_LIST_HEAD(&tsk->tasks);
		INIT_LIST_HEAD(&tsk->sibling);
	} else {
		tsk->exit_state = EXIT_ZOMBIE;
	}
	spin_unlock(&tasklist_lock);

	if (wake_reaper)
		wake_up(reaper);
	if (parent != &init_task)
		wake_up(parent);        /* a parent in wait4() sleeps on itself */
}

void do_exit(long code)
{
	struct task_struct *tsk = current;

	if (unlikely(in_interrupt()))
		panic("Aiee, killing interrupt handler!");
	if (unlikely(tsk->flags & PF_IDLE))
		panic("Attempted to kill the idle task!");
	lab_event(LAB_EV_TASK_EXIT, tsk->pid, code, 0);
	if (unlikely(tsk->pid == 1))
		panic("Attempted to kill init! exitcode=0x%08x\n", (int)code);

	tsk->flags |= PF_EXITING;
	tsk->exit_code = code;
	exit_files(tsk);
	exit_mm(tsk);

	local_irq_disable();
	exit_notify(tsk);
	tsk->__state = TASK_DEAD;       /* do_task_dead(): switch away for the last time */
	schedule();
	panic("do_exit: a dead task was scheduled again");
}

/* exit_group(): with one thread per process, the same as exit() */
void do_group_exit(int exit_code)
{
	do_exit(exit_code);
}

long __x64_sys_exit(const struct pt_regs *regs)
{
	do_exit((regs->di & 0xff) << 8);
}

long __x64_sys_exit_group(const struct pt_regs *regs)
{
	do_group_exit((regs->di & 0xff) << 8);
	return 0;
}

/*
 * Collect a zombie child: pid -1 means any child.  Returns its pid and its
 * status, 0 with WNOHANG if none has exited yet, -ECHILD if there is no
 * such child at all.
 */
long do_wait4(pid_t pid, int *status, int options)
{
	struct task_struct *me = current, *child, *zombie;
	long ret;

	for (;;) {
		bool have_child = false;

		prepare_to_wait(me);
		zombie = NULL;
		spin_lock_irq(&tasklist_lock);
		list_for_each_entry(child, &me->children, sibling) {
			if (pid != -1 && child->pid != pid)
				continue;
			have_child = true;
			if (child->exit_state == EXIT_ZOMBIE) {
				zombie = child;
				list_del(&child->tasks);
				list_del(&child->sibling);
				break;
			}
		}
		spin_unlock_irq(&tasklist_lock);

		if (zombie) {
			finish_wait(me);
			/* it may still be on its way out of its CPU */
			while (READ_ONCE(zombie->on_cpu))
				cpu_relax();
			if (status)
				*status = zombie->exit_code;
			ret = zombie->pid;
			free_task(zombie);
			return ret;
		}
		if (!have_child) {
			finish_wait(me);
			return -ECHILD;
		}
		if (options & WNOHANG) {
			finish_wait(me);
			return 0;
		}
		if (signal_pending(me)) {
			finish_wait(me);
			return -EINTR;
		}
		schedule();
	}
}

long do_wait(pid_t pid, int *status)
{
	return do_wait4(pid, status, 0);
}

/*
 * kill(): every signal is fatal here (there are no handlers), and acted on
 * when the target next returns to user mode.  As in Linux, kernel threads
 * ignore signals and init ignores the ones it has no handler for.
 */
long do_kill(pid_t pid, int sig)
{
	struct task_struct *t;

	if (sig < 0 || sig > 64)
		return -EINVAL;
	t = find_task_by_pid(pid);
	if (!t || pid <= 0 || t->exit_state)
		return -ESRCH;
	if (sig == 0 || (t->flags & PF_KTHREAD) || t->pid == 1)
		return 0;
	t->sigpending = sig;
	wake_up_process(t);             /* out of an interruptible sleep, to see it */
	return 0;
}
