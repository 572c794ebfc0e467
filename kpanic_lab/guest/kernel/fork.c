/*
 * fork.c - making tasks: the task table, kernel stacks, fork(), kernel
 * threads, and the idle tasks of the other CPUs.
 *
 * A task is a struct task_struct (in task_table here; init_task is in
 * sched.c) plus a THREAD_SIZE kernel stack from the page allocator.  The top
 * of the stack holds the task's user registers (struct pt_regs, see
 * task_pt_regs); just below it copy_thread() builds the frame that makes the
 * task's first switch-in "return" into ret_from_fork (entry.S).
 *
 * Every task except the idle tasks is on the list that starts at
 * init_task.tasks, which is how crash's `ps` finds them (idle tasks are found
 * through each CPU's pcpu.idle, as Linux's runqueues' idle).
 */
#include "types.h"
#include "param.h"
#include "memlayout.h"
#include "mm.h"
#include "x86.h"
#include "sched.h"
#include "spinlock.h"
#include "errno.h"
#include "defs.h"

#define THREAD_SIZE_ORDER  2            /* 4 pages */

struct task_struct task_table[NR_TASKS];
DEFINE_SPINLOCK(tasklist_lock);
static pid_t last_pid;

/* what __switch_to_asm pops from a switched-out stack (entry.S) */
struct inactive_task_frame {
	unsigned long r15, r14, r13, r12, bx, bp;
	unsigned long ret_addr;
};

static void set_comm(struct task_struct *t, const char *name)
{
	int i;

	for (i = 0; i < TASK_COMM_LEN - 1 && name[i]; i++)
		t->comm[i] = name[i];
	while (i < TASK_COMM_LEN)
		t->comm[i++] = '\0';           /* zero-padded, as strscpy_pad */
}

/* a free slot with a fresh kernel stack; not on any list, no pid yet */
static struct task_struct *alloc_task(const char *name)
{
	struct task_struct *t = NULL, *s;
	struct page *stack;
	unsigned long flags;

	stack = alloc_pages(THREAD_SIZE_ORDER);
	if (!stack)
		return NULL;
	spin_lock_irqsave(&tasklist_lock, flags);
	for (s = task_table; s < task_table + NR_TASKS; s++) {
		if (!s->stack) {
			t = s;
			memset(t, 0, sizeof(*t));
			t->stack = page_address(stack);     /* the slot is taken */
			break;
		}
	}
	spin_unlock_irqrestore(&tasklist_lock, flags);
	if (!t) {
		__free_pages(stack, THREAD_SIZE_ORDER);
		return NULL;
	}
	t->__state = TASK_UNINTERRUPTIBLE;  /* not runnable until woken (Linux: TASK_NEW) */
	t->prio = 120;
	t->cpu = smp_processor_id();
	t->active_mm = &init_mm;
	t->start_time = local_clock();
	set_comm(t, name);
	INIT_LIST_HEAD(&t->tasks);
	INIT_LIST_HEAD(&t->run_list);
	INIT_LIST_HEAD(&t->children);
	INIT_LIST_HEAD(&t->sibling);
	return t;
}

/*
 * A new task: a slot, a kernel stack, a pid, a place on the task list and
 * among its parent's children.  It is not runnable yet: the caller sets up
 * how it starts (copy_thread), then wake_up_process().
 */
struct task_struct *copy_process(const char *name, struct task_struct *parent)
{
	struct task_struct *t = alloc_task(name);
	unsigned long flags;

	if (!t)
		return NULL;
	spin_lock_irqsave(&tasklist_lock, flags);
	t->pid = t->tgid = ++last_pid;
	t->real_parent = t->parent = parent;
	list_add_tail(&t->tasks, &init_task.tasks);
	list_add_tail(&t->sibling, &parent->children);
	spin_unlock_irqrestore(&tasklist_lock, flags);
	return t;
}

/*
 * The first switch to t pops this frame and returns into ret_from_fork,
 * which calls fn(arg) for a kernel thread (fn != NULL) or returns to user
 * mode with the registers in task_pt_regs(t) for a forked process.
 */
void copy_thread(struct task_struct *t, int (*fn)(void *), void *arg)
{
	struct inactive_task_frame *frame = (struct inactive_task_frame *)task_pt_regs(t) - 1;

	memset(frame, 0, sizeof(*frame));
	frame->bx = (unsigned long)fn;
	frame->r12 = (unsigned long)arg;
	frame->bp = 0;                  /* stack walks stop at ret_from_fork */
	frame->ret_addr = (unsigned long)ret_from_fork;
	t->thread.sp = (unsigned long)frame;
}

/* a kernel thread running fn(arg); when fn returns, ret_from_fork goes to user mode */
struct task_struct *kernel_thread(int (*fn)(void *), void *arg, const char *name)
{
	struct task_struct *t = copy_process(name, &init_task);

	if (!t)
		return NULL;
	t->flags |= PF_KTHREAD;
	memset(task_pt_regs(t), 0, sizeof(struct pt_regs));
	copy_thread(t, fn, arg);
	wake_up_process(t);
	return t;
}

/* CPU n's idle task, "swapper/n": pid 0 like every idle task, not on the task list */
struct task_struct *fork_idle(int cpu)
{
	char name[TASK_COMM_LEN] = "swapper/";
	struct task_struct *t;

	name[8] = '0' + cpu % 10;
	name[9] = '\0';
	t = alloc_task(name);
	if (!t)
		return NULL;
	t->flags = PF_KTHREAD | PF_IDLE;
	t->__state = TASK_RUNNING;
	t->on_cpu = 1;
	t->cpu = cpu;
	t->real_parent = t->parent = &init_task;
	return t;
}

/*
 * fork(): a copy of the calling process, with copies of all its user pages
 * (no copy-on-write: the lab's processes are small), its open files, and
 * its registers, except that the child's fork() returns 0.
 */
pid_t kernel_clone_user(struct pt_regs *parent_regs)
{
	struct task_struct *parent = current;
	struct task_struct *t = copy_process(parent->comm, parent);
	struct pt_regs *childregs;
	int fd;

	if (!t)
		return -EAGAIN;
	if (parent->mm) {
		t->mm = dup_mm(parent->mm);
		if (!t->mm) {
			t->__state = TASK_DEAD;
			t->exit_state = EXIT_DEAD;
			unhash_task(t);
			free_task(t);
			return -ENOMEM;
		}
		t->active_mm = t->mm;
	}
	for (fd = 0; fd < NR_OPEN; fd++)
		if (parent->files[fd])
			t->files[fd] = get_file(parent->files[fd]);

	childregs = task_pt_regs(t);
	*childregs = *parent_regs;
	childregs->ax = 0;              /* fork() returns 0 in the child */
	copy_thread(t, NULL, NULL);
	wake_up_process(t);
	return t->pid;
}

/* take a task off the task list and its parent's children (it is being freed) */
void unhash_task(struct task_struct *t)
{
	unsigned long flags;

	spin_lock_irqsave(&tasklist_lock, flags);
	list_del(&t->tasks);
	list_del(&t->sibling);
	spin_unlock_irqrestore(&tasklist_lock, flags);
}

/* the end of a task: its stack and its slot (it is off every list and every CPU) */
void free_task(struct task_struct *t)
{
	void *stack = t->stack;

	t->__state = TASK_DEAD;
	t->exit_state = EXIT_DEAD;
	__free_pages(virt_to_page(stack), THREAD_SIZE_ORDER);
	WRITE_ONCE(t->stack, NULL);     /* the slot is free */
}

struct task_struct *find_task_by_pid(pid_t pid)
{
	struct task_struct *t, *found = NULL;
	unsigned long flags;

	if (pid == 0)
		return &init_task;
	spin_lock_irqsave(&tasklist_lock, flags);
	list_for_each_entry(t, &init_task.tasks, tasks) {
		if (t->pid == pid) {
			found = t;
			break;
		}
	}
	spin_unlock_irqrestore(&tasklist_lock, flags);
	return found;
}
