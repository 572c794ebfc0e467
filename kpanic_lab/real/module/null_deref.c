// SPDX-License-Identifier: GPL-2.0
/*
 * null_deref - the lab's NULL pointer write, as a module for the real kernel.
 *
 * The same bug as the lab's guest module (kpanic_lab/guest/kernel/modules/null_deref.c):
 * insmod creates /proc/null_deref; writing to it runs null_deref_write(), which stores
 * through a pointer nobody set, at offset 8 of the struct:
 *   BUG: kernel NULL pointer dereference, address: 0000000000000008
 *   #PF: supervisor write access in kernel mode
 * With panic_on_oops=0 (Debian's default) only the writing process dies and the kernel
 * goes on, tainted 'D'; booted with oops=panic the oops panics: "Fatal exception".
 *
 * kpanic_lab builds it at run time against /lib/modules/<release>/build (kbuild).  It is
 * out of tree and unsigned: loading it taints the kernel 'O' and 'E' (Debian's kernel has
 * CONFIG_MODULE_SIG=y without MODULE_SIG_FORCE, so it loads and says so).
 */
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/sched.h>

struct lab_record {
	long id;
	long value;             /* offset 8: where the fault happens */
};

struct lab_record *null_deref_record;  /* never allocated: the bug */
static struct proc_dir_entry *entry;

static ssize_t null_deref_write(struct file *file, const char __user *buf, size_t count,
				loff_t *ppos)
{
	pr_info("null_deref: about to dereference NULL (comm=%s pid=%d)\n",
		current->comm, current->pid);
	WRITE_ONCE(null_deref_record->value, count);
	return count;
}

static const struct proc_ops null_deref_ops = {
	.proc_write = null_deref_write,
};

static int __init null_deref_init(void)
{
	entry = proc_create("null_deref", 0200, NULL, &null_deref_ops);
	if (!entry)
		return -ENOMEM;
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
MODULE_DESCRIPTION("kpanic_lab: a NULL pointer write in a /proc write handler");
