/*
 * null_deref - a NULL pointer dereference in process context.
 *
 * insmod creates /proc/null_deref; writing to it runs null_deref_write(),
 * which stores through a pointer nobody set: a write to address 0x8, a
 * page fault in kernel mode, an oops:
 *   BUG: kernel NULL pointer dereference, address: 0000000000000008
 *   #PF: supervisor write access in kernel mode
 * With panic_on_oops=0 only the writing process dies (the system goes on,
 * tainted 'D'); with panic_on_oops=1 (or oops=panic) the oops panics.
 * With null_deref.in_init=1 on the kernel command line the dereference
 * happens in the module's init function instead, during insmod.
 */
#include "module.h"
#include "sched.h"
#include "proc_fs.h"

struct lab_record {
	long id;
	long value;             /* offset 8: where the fault happens */
};

struct lab_record *null_deref_record;  /* never allocated: the bug */
static struct proc_dir_entry *entry;

static noinline void lab_record_store(struct lab_record *rec, long value)
{
	rec->value = value;
}

static long null_deref_write(struct file *file, const char *buf, long count, loff_t *ppos)
{
	pr_info("null_deref: about to dereference NULL (comm=%s pid=%d)\n",
		current->comm, current->pid);
	null_deref_record->value = count;
	return count;
}

static const struct proc_ops null_deref_ops = {
	.proc_write = null_deref_write,
};

static int __init null_deref_init(void)
{
	const char *in_init = cmdline_get("null_deref.in_init");

	if (in_init && *in_init == '1') {
		pr_info("null_deref: dereferencing NULL in init (comm=%s pid=%d)\n",
			current->comm, current->pid);
		lab_record_store(null_deref_record, 1);
	}
	entry = proc_create("null_deref", 0200, NULL, &null_deref_ops);
	pr_info("null_deref: loaded, write to /proc/null_deref to oops\n");
	return 0;
}

static void __exit null_deref_exit(void)
{
	proc_remove(entry);
	pr_info("null_deref: unloaded\n");
}

module_init(null_deref_init);
module_exit(null_deref_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("kpanic_lab");
MODULE_DESCRIPTION("NULL pointer dereference in a /proc write handler");
