/*
 * proc.c - the /proc file system (fs/proc/, kernel/sysctl.c).
 *
 *   /proc/cmdline        the kernel command line
 *   /proc/iomem          the resource tree (resource.c)
 *   /proc/modules        loaded modules, in Linux's format (module.c)
 *   /proc/meminfo        memory counters, incl. the page cache that panic()
 *                        never writes back (Dirty:)
 *   /proc/uptime, /proc/version
 *   /proc/sysrq-trigger  write a letter to run a SysRq command (sysrq.c)
 *   /proc/sys/kernel/{panic,panic_on_oops,panic_on_warn,tainted,sysrq,...}
 *   /proc/<pid>/{stat,comm}  one directory per task (for ps)
 */
#include "types.h"
#include "param.h"
#include "defs.h"
#include "utsname.h"
#include "errno.h"
#include "sched.h"
#include "mm.h"
#include "fs.h"
#include "proc_fs.h"
#include "memlayout.h"

static struct super_block proc_sb = { .s_type = "proc", .s_dev = 0x4 };
static struct inode *proc_root;

/* ---- seq_file ------------------------------------------------------------ */

int seq_printf(struct seq_file *m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vscnprintf(m->buf + m->count, m->size - m->count, fmt, ap);
	va_end(ap);
	m->count += n;
	return n;
}

void seq_puts(struct seq_file *m, const char *s)
{
	seq_printf(m, "%s", s);
}

long simple_read_from_buffer(char *to, long count, loff_t *ppos, const void *from, long available)
{
	loff_t pos = *ppos;
	if (pos < 0)
		return -EINVAL;
	if (pos >= available || !count)
		return 0;
	if (count > available - pos)
		count = available - pos;
	if (copy_to_user(to, (const char *)from + pos, count))
		return -EFAULT;
	*ppos = pos + count;
	return count;
}

#define SEQ_BUF_SIZE 8192

int single_open(struct file *file, int (*show)(struct seq_file *, void *), void *data)
{
	struct seq_file *m = kzalloc(sizeof(*m) + SEQ_BUF_SIZE);
	if (!m)
		return -ENOMEM;
	m->buf = (char *)(m + 1);
	m->size = SEQ_BUF_SIZE;
	m->private = data;
	show(m, data);
	file->private_data = m;
	return 0;
}

long seq_read(struct file *file, char *buf, long count, loff_t *ppos)
{
	struct seq_file *m = file->private_data;
	return m ? simple_read_from_buffer(buf, count, ppos, m->buf, m->count) : 0;
}

int single_release(struct inode *inode, struct file *file)
{
	kfree(file->private_data);
	return 0;
}

/* ---- proc entries and the one set of file operations they share ----------- */

struct proc_dir_entry *PDE(const struct inode *inode)
{
	return inode->i_private;
}

static int proc_single_open(struct inode *inode, struct file *file)
{
	struct proc_dir_entry *pde = PDE(inode);
	return single_open(file, pde->show, pde->data);
}

static const struct proc_ops proc_single_ops = {
	.proc_open = proc_single_open,
	.proc_read = seq_read,
	.proc_release = single_release,
};

static int proc_reg_open(struct inode *inode, struct file *file)
{
	struct proc_dir_entry *pde = PDE(inode);
	return pde->proc_ops->proc_open ? pde->proc_ops->proc_open(inode, file) : 0;
}

static long proc_reg_read(struct file *file, char *buf, long count, loff_t *ppos)
{
	struct proc_dir_entry *pde = PDE(file->f_inode);
	if (pde->proc_ops->proc_read)
		return pde->proc_ops->proc_read(file, buf, count, ppos);
	return -EIO;
}

static long proc_reg_write(struct file *file, const char *buf, long count, loff_t *ppos)
{
	struct proc_dir_entry *pde = PDE(file->f_inode);
	if (pde->proc_ops->proc_write)
		return pde->proc_ops->proc_write(file, buf, count, ppos);
	return -EIO;
}

static int proc_reg_release(struct inode *inode, struct file *file)
{
	struct proc_dir_entry *pde = PDE(inode);
	return pde->proc_ops->proc_release ? pde->proc_ops->proc_release(inode, file) : 0;
}

static const struct file_operations proc_reg_file_ops = {
	.open = proc_reg_open,
	.read = proc_reg_read,
	.write = proc_reg_write,
	.release = proc_reg_release,
};

struct proc_dir_entry *proc_create(const char *name, unsigned int mode, struct inode *parent,
				   const struct proc_ops *proc_ops)
{
	struct proc_dir_entry *pde = kzalloc(sizeof(*pde));
	if (!pde)
		return NULL;
	pde->name = name;
	pde->mode = S_IFREG | (mode ? mode : 0444);
	pde->proc_ops = proc_ops;
	pde->inode = new_inode(&proc_sb, pde->mode, name, parent ? parent : proc_root);
	pde->inode->i_fop = &proc_reg_file_ops;
	pde->inode->i_private = pde;
	return pde;
}

struct proc_dir_entry *proc_create_single(const char *name, unsigned int mode, struct inode *parent,
					  int (*show)(struct seq_file *, void *))
{
	struct proc_dir_entry *pde = proc_create(name, mode, parent, &proc_single_ops);
	if (pde)
		pde->show = show;
	return pde;
}

struct inode *proc_mkdir(const char *name, struct inode *parent)
{
	return new_inode(&proc_sb, S_IFDIR | 0555, name, parent ? parent : proc_root);
}

/* Unlink an entry (a module going away); an open file keeps the memory. */
void proc_remove(struct proc_dir_entry *pde)
{
	if (pde && pde->inode)
		list_del(&pde->inode->sibling);
}

/* ---- the files ------------------------------------------------------------ */

static int cmdline_proc_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%s\n", saved_command_line);
	return 0;
}

static void iomem_emit(void *ctx, const char *s)
{
	seq_puts(ctx, s);
}

static int iomem_proc_show(struct seq_file *m, void *v)
{
	print_iomem(iomem_emit, m);
	return 0;
}

static void show_val_kb(struct seq_file *m, const char *name, unsigned long pages)
{
	seq_printf(m, "%-16s%8lu kB\n", name, pages << (PAGE_SHIFT - 10));
}

static int meminfo_proc_show(struct seq_file *m, void *v)
{
	unsigned long free = nr_free_pages();
	show_val_kb(m, "MemTotal:", totalram_pages);
	show_val_kb(m, "MemFree:", free);
	show_val_kb(m, "MemAvailable:", free + nr_file_pages);
	show_val_kb(m, "Buffers:", 0);
	show_val_kb(m, "Cached:", nr_file_pages);
	show_val_kb(m, "Dirty:", nr_dirty_pages);
	show_val_kb(m, "Writeback:", 0);
	seq_printf(m, "%-16s%8lu\n", "BufferHeads:", nr_buffer_heads);
	return 0;
}

static int uptime_proc_show(struct seq_file *m, void *v)
{
	u64 ns = local_clock();
	seq_printf(m, "%lu.%02lu 0.00\n", (unsigned long)(ns / 1000000000),
		   (unsigned long)(ns % 1000000000) / 10000000);
	return 0;
}

static int version_proc_show(struct seq_file *m, void *v)
{
	struct new_utsname *u = init_utsname();

	seq_printf(m, linux_proc_banner, u->sysname, u->release, u->version);
	return 0;
}

/* ---- /proc/sys: sysctls -------------------------------------------------- */

extern int sysrq_enabled;

struct ctl_table {
	const char *procname;       /* path below /proc/sys */
	void *data;
	int kind;                   /* CTL_INT, CTL_TAINT, CTL_STRING, CTL_ULONG */
};
#define CTL_INT    0
#define CTL_TAINT  1
#define CTL_STRING 2
#define CTL_ULONG  3

static struct ctl_table kern_table[] = {
	{ "kernel/panic", &panic_timeout, CTL_INT },
	{ "kernel/panic_on_oops", &panic_on_oops, CTL_INT },
	{ "kernel/panic_on_warn", &panic_on_warn, CTL_INT },
	{ "kernel/panic_print", &panic_print, CTL_ULONG },
	{ "kernel/oops_limit", &oops_limit, CTL_INT },
	{ "kernel/warn_limit", &warn_limit, CTL_INT },
	{ "kernel/tainted", &tainted_mask, CTL_TAINT },
	{ "kernel/sysrq", &sysrq_enabled, CTL_INT },
	{ "kernel/ostype", init_uts_ns.name.sysname, CTL_STRING },
	{ "kernel/osrelease", init_uts_ns.name.release, CTL_STRING },
	{ "kernel/version", init_uts_ns.name.version, CTL_STRING },
};

static int sysctl_show(struct seq_file *m, void *v)
{
	struct ctl_table *t = v;
	if (t->kind == CTL_INT)
		seq_printf(m, "%d\n", *(int *)t->data);
	else if (t->kind == CTL_TAINT || t->kind == CTL_ULONG)
		seq_printf(m, "%lu\n", *(unsigned long *)t->data);
	else
		seq_printf(m, "%s\n", (const char *)t->data);
	return 0;
}

static int sysctl_apply(struct ctl_table *t, const char *val)
{
	char *end;
	long v = simple_strtol(skip_spaces(val), &end, 0);
	if (t->kind == CTL_STRING || end == skip_spaces(val))
		return -EINVAL;
	if (t->kind == CTL_INT) {
		*(int *)t->data = (int)v;
	} else if (t->kind == CTL_ULONG) {
		*(unsigned long *)t->data = (unsigned long)v;
	} else {
		/* proc_taint(): taints can be added, never cleared */
		for (int bit = 0; bit < 32; bit++)
			if ((v >> bit) & 1)
				add_taint(bit, 1);
	}
	return 0;
}

static int proc_sys_open(struct inode *inode, struct file *file)
{
	return single_open(file, sysctl_show, PDE(inode)->data);
}

static long proc_sys_write(struct file *file, const char *buf, long count, loff_t *ppos)
{
	char kbuf[32];
	long n = min(count, (long)sizeof(kbuf) - 1);
	if (copy_from_user(kbuf, buf, n))
		return -EFAULT;
	kbuf[n] = 0;
	int err = sysctl_apply(PDE(file->f_inode)->data, kbuf);
	return err ? err : count;
}

static const struct proc_ops proc_sys_ops = {
	.proc_open = proc_sys_open,
	.proc_read = seq_read,
	.proc_write = proc_sys_write,
	.proc_release = single_release,
};

/* sysctl.kernel.panic=5 on the command line (setup.c): path "kernel/panic" */
int sysctl_set_from_cmdline(const char *path, const char *val)
{
	for (size_t i = 0; i < ARRAY_SIZE(kern_table); i++)
		if (!strcmp(kern_table[i].procname, path))
			return sysctl_apply(&kern_table[i], val);
	return -ENOENT;
}

/* ---- /proc/<pid> ---------------------------------------------------------- */

static struct task_struct *task_by_pid(long pid)
{
	struct task_struct *t;
	if (pid == 0)
		return &init_task;
	list_for_each_entry(t, &init_task.tasks, tasks)
		if (t->pid == pid)
			return t;
	return NULL;
}

static char task_state_char(struct task_struct *t)
{
	if (t->exit_state & EXIT_ZOMBIE)
		return 'Z';
	if (t->exit_state & EXIT_DEAD)
		return 'X';
	if (t->__state == TASK_RUNNING)
		return 'R';
	if (t->__state & TASK_UNINTERRUPTIBLE)
		return 'D';
	return 'S';
}

/* /proc/<pid>/stat: the first fields of Linux's format (fs/proc/array.c) */
static int pid_stat_show(struct seq_file *m, void *v)
{
	struct task_struct *t = task_by_pid((long)v);
	if (!t)
		return 0;
	seq_printf(m, "%d (%s) %c %d %d %d 0 -1 %u 0 0 0 0 %lu %lu 0 0 20 0 1 0 %lu %lu 0\n",
		   t->pid, t->comm, task_state_char(t), t->real_parent ? t->real_parent->pid : 0,
		   t->pid, t->pid, t->flags, t->utime, t->stime, t->start_time / (1000000000 / HZ),
		   t->mm ? t->mm->brk - t->mm->start_code : 0UL);
	return 0;
}

static int pid_comm_show(struct seq_file *m, void *v)
{
	struct task_struct *t = task_by_pid((long)v);
	if (t)
		seq_printf(m, "%s\n", t->comm);
	return 0;
}

#define PID_CACHE 64
static struct { long pid; struct inode *dir; } pid_dirs[PID_CACHE];
static int pid_dir_next;

static struct inode *proc_pid_lookup(struct inode *dir, const char *name)
{
	char *end;
	long pid = simple_strtol(name, &end, 10);
	if (*end || end == name || !task_by_pid(pid))
		return NULL;
	for (int i = 0; i < PID_CACHE; i++)
		if (pid_dirs[i].dir && pid_dirs[i].pid == pid)
			return pid_dirs[i].dir;
	/* made on first use, remembered (a small, bounded cache) */
	struct inode *d = new_inode(&proc_sb, S_IFDIR | 0555, name, NULL);
	d->parent = proc_root;
	struct proc_dir_entry *stat = proc_create_single("stat", 0444, d, pid_stat_show);
	struct proc_dir_entry *comm = proc_create_single("comm", 0444, d, pid_comm_show);
	stat->data = comm->data = (void *)pid;
	int slot = pid_dir_next++ % PID_CACHE;
	pid_dirs[slot].pid = pid;
	pid_dirs[slot].dir = d;
	return d;
}

/* readdir of /proc beyond its fixed entries: one directory per task */
static int proc_pid_readdir(struct inode *dir, long idx, char *name, size_t n, unsigned char *type)
{
	struct task_struct *t;
	list_for_each_entry(t, &init_task.tasks, tasks) {
		if (t->pid <= 0)
			continue;
		if (idx-- == 0) {
			scnprintf(name, n, "%d", t->pid);
			*type = DT_DIR;
			return 1;
		}
	}
	return 0;
}

static const struct dir_operations proc_root_dops = {
	.lookup = proc_pid_lookup,
	.readdir = proc_pid_readdir,
};

static bool proc_ready;

void proc_init(void)
{
	if (proc_ready)
		return;
	proc_ready = true;
	proc_root = mkdir_p("/proc", &proc_sb);
	proc_root->i_dop = &proc_root_dops;

	proc_create_single("cmdline", 0444, NULL, cmdline_proc_show);
	proc_create_single("iomem", 0444, NULL, iomem_proc_show);
	proc_create_single("meminfo", 0444, NULL, meminfo_proc_show);
	proc_create_single("modules", 0444, NULL, modules_show);
	proc_create_single("uptime", 0444, NULL, uptime_proc_show);
	proc_create_single("version", 0444, NULL, version_proc_show);
	sysrq_init();

	struct inode *sys = proc_mkdir("sys", NULL);
	struct inode *kernel = proc_mkdir("kernel", sys);
	for (size_t i = 0; i < ARRAY_SIZE(kern_table); i++) {
		struct ctl_table *t = &kern_table[i];
		struct proc_dir_entry *pde = proc_create(t->procname + strlen("kernel/"),
							 t->kind == CTL_STRING ? 0444 : 0644,
							 kernel, &proc_sys_ops);
		pde->data = t;
	}
}
