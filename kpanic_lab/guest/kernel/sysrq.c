/*
 * sysrq.c - the magic SysRq key (drivers/tty/sysrq.c, Linux 6.1).
 *
 * On a console, Alt+SysRq+<letter> asks the kernel to do something at
 * once, even when everything else is stuck; `echo <letter> >
 * /proc/sysrq-trigger` does the same from a shell.  The lecture's favourite
 * is 'c':
 *     write_sysrq_trigger -> __handle_sysrq -> sysrq_handle_crash -> panic()
 * In Linux 6.1 'c' is a plain panic("sysrq triggered crash\n"): no oops,
 * no NULL dereference (older kernels wrote to NULL to get an oops first).
 *
 * kernel.sysrq (/proc/sys/kernel/sysrq) is a bitmask of what the keyboard
 * may do; /proc/sysrq-trigger ignores it, as in Linux.
 */
#include "types.h"
#include "param.h"
#include "defs.h"
#include "errno.h"
#include "sched.h"
#include "mm.h"
#include "fs.h"
#include "proc_fs.h"
#include "buffer_head.h"
#include "panic_stages.h"

/* kernel.sysrq bits */
#define SYSRQ_ENABLE_LOG        0x0002
#define SYSRQ_ENABLE_KEYBOARD   0x0004
#define SYSRQ_ENABLE_DUMP       0x0008
#define SYSRQ_ENABLE_SYNC       0x0010
#define SYSRQ_ENABLE_REMOUNT    0x0020
#define SYSRQ_ENABLE_SIGNAL     0x0040
#define SYSRQ_ENABLE_BOOT       0x0080
#define SYSRQ_ENABLE_RTNICE     0x0100

int sysrq_enabled = 438;        /* Debian's CONFIG_MAGIC_SYSRQ_DEFAULT_ENABLE=0x01b6 */

struct sysrq_key_op {
	void (*handler)(int key);
	const char *help_msg;
	const char *action_msg;
	int enable_mask;
};

static void sysrq_handle_loglevel(int key)
{
	int i = key - '0';
	console_loglevel = 7;
	pr_info("Loglevel set to %d\n", i);
	console_loglevel = i;
}

/* 'c': crash the kernel on purpose, for testing kdump */
static void sysrq_handle_crash(int key)
{
	panic_stage(PANIC_STAGE_TRIGGER, TRIGGER_SYSRQ_CRASH, key);
	panic("sysrq triggered crash\n");
}

static void sysrq_handle_reboot(int key)
{
	emergency_restart();
}

static void sysrq_handle_poweroff(int key)
{
	machine_power_off();
}

/*
 * 's': emergency sync.  A disk file system's dirty pages are written back
 * (here: marked clean, there is no disk); ramfs has nowhere to write to.
 */
static void sysrq_handle_sync(int key)
{
	struct page *page;
	unsigned long cleaned = 0;

	list_for_each_entry(page, &file_lru, lru) {
		if (!TestPageFlag(page, PG_dirty) || !TestPageFlag(page, PG_private))
			continue;
		ClearPageFlag(page, PG_dirty);
		struct buffer_head *head = (struct buffer_head *)page->private, *bh = head;
		do {
			bh->b_state &= ~(1UL << BH_Dirty);
			bh = bh->b_this_page;
		} while (bh != head);
		nr_dirty_pages--;
		cleaned++;
	}
	pr_info("Emergency Sync complete\n");
}

void show_mem(void)
{
	pr_info("Mem-Info:\n");
	pr_info("free:%lu file:%lu dirty:%lu buffer_heads:%lu total:%lu\n", nr_free_pages(),
		nr_file_pages, nr_dirty_pages, nr_buffer_heads, totalram_pages);
}

static char task_state(struct task_struct *t)
{
	if (t->__state == TASK_RUNNING)
		return 'R';
	return t->__state & TASK_UNINTERRUPTIBLE ? 'D' : 'S';
}

static void sysrq_handle_showmem(int key)
{
	show_mem();
}

/* every task and where it is (show_state -> sched_show_task) */
void show_state(void)
{
	struct task_struct *t;
	list_for_each_entry(t, &init_task.tasks, tasks) {
		pr_info("task:%-15.15s state:%c stack:0     pid:%-5d ppid:%-6d flags:0x%08x\n",
			t->comm, task_state(t), t->pid, t->real_parent ? t->real_parent->pid : 0,
			t->flags);
		if (t == current)
			dump_stack();
		else if (!t->on_cpu)
			show_stack(t, NULL, KERN_INFO);
	}
}

static void sysrq_handle_showstate(int key)
{
	show_state();
}

static void sysrq_handle_showregs(int key);
static void sysrq_handle_help(int key);

static const struct sysrq_key_op sysrq_loglevel_op = {
	sysrq_handle_loglevel, "loglevel(0-9)", "Changing Loglevel", SYSRQ_ENABLE_LOG };
static const struct sysrq_key_op sysrq_crash_op = {
	sysrq_handle_crash, "crash(c)", "Trigger a crash", SYSRQ_ENABLE_DUMP };
static const struct sysrq_key_op sysrq_reboot_op = {
	sysrq_handle_reboot, "reboot(b)", "Resetting", SYSRQ_ENABLE_BOOT };
static const struct sysrq_key_op sysrq_poweroff_op = {
	sysrq_handle_poweroff, "poweroff(o)", "Power Off", SYSRQ_ENABLE_BOOT };
static const struct sysrq_key_op sysrq_sync_op = {
	sysrq_handle_sync, "sync(s)", "Emergency Sync", SYSRQ_ENABLE_SYNC };
static const struct sysrq_key_op sysrq_showmem_op = {
	sysrq_handle_showmem, "show-memory-usage(m)", "Show Memory", SYSRQ_ENABLE_DUMP };
static const struct sysrq_key_op sysrq_showstate_op = {
	sysrq_handle_showstate, "show-task-states(t)", "Show State", SYSRQ_ENABLE_DUMP };
static const struct sysrq_key_op sysrq_showregs_op = {
	sysrq_handle_showregs, "show-registers(p)", "Show Regs", SYSRQ_ENABLE_DUMP };
static const struct sysrq_key_op sysrq_help_op = {
	sysrq_handle_help, "help(h)", "HELP", 0 };

static void sysrq_handle_showregs(int key)
{
	dump_stack();
}

static const struct sysrq_key_op *sysrq_key_op(int key)
{
	switch (key) {
	case '0' ... '9': return &sysrq_loglevel_op;
	case 'b': return &sysrq_reboot_op;
	case 'c': return &sysrq_crash_op;
	case 'h': return &sysrq_help_op;
	case 'm': return &sysrq_showmem_op;
	case 'o': return &sysrq_poweroff_op;
	case 'p': return &sysrq_showregs_op;
	case 's': return &sysrq_sync_op;
	case 't': return &sysrq_showstate_op;
	default: return NULL;
	}
}

static void sysrq_handle_help(int key)
{
	static const char keys[] = "0bchmopst";
	printk(KERN_INFO "sysrq: HELP : ");
	for (const char *k = keys; *k; k++)
		if (*k != '0' || k == keys)
			pr_cont("%s ", sysrq_key_op(*k)->help_msg);
	pr_cont("\n");
}

static bool sysrq_on_mask(int mask)
{
	return sysrq_enabled == 1 || (sysrq_enabled & mask);
}

noinline void __handle_sysrq(int key, bool check_mask)
{
	const struct sysrq_key_op *op;
	int orig_log_level = console_loglevel;

	/* the action line is always printed, whatever the log level */
	console_loglevel = 7;
	op = sysrq_key_op(key);
	if (op && op != &sysrq_help_op) {
		if (!check_mask || sysrq_on_mask(op->enable_mask)) {
			pr_info("sysrq: %s\n", op->action_msg);
			console_loglevel = orig_log_level;
			op->handler(key);
		} else {
			pr_info("sysrq: This sysrq operation is disabled.\n");
			console_loglevel = orig_log_level;
		}
	} else {
		sysrq_handle_help(key);
		console_loglevel = orig_log_level;
	}
}

/* echo c > /proc/sysrq-trigger: the first byte written is the key */
static long write_sysrq_trigger(struct file *file, const char *buf, long count, loff_t *ppos)
{
	if (count) {
		char c;
		if (copy_from_user(&c, buf, 1))
			return -EFAULT;
		__handle_sysrq(c, false);
	}
	return count;
}

static const struct proc_ops sysrq_trigger_proc_ops = {
	.proc_write = write_sysrq_trigger,
};

void sysrq_init(void)
{
	proc_create("sysrq-trigger", 0200, NULL, &sysrq_trigger_proc_ops);
}
