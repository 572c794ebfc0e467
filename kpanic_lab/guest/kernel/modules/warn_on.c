/*
 * warn_on - WARN_ON(): the kernel reports a broken assumption and goes on.
 *
 * Prints "------------[ cut here ]------------", "WARNING: CPU: .. at
 * kernel/modules/warn_on.c:NN warn_on_init+0x../0x.. [warn_on]", the
 * registers and the trace, "---[ end trace 0000000000000000 ]---", taints
 * the kernel 'W', and the module loads anyway.  With kernel.panic_on_warn=1
 * the warning becomes a panic: "kernel: panic_on_warn set ...".
 */
#include "module.h"
#include "bug.h"

static int lab_refcount = -1;   /* a reference count gone negative */

static int __init warn_on_init(void)
{
	pr_info("warn_on: refcount is %d\n", lab_refcount);
	if (WARN_ON(lab_refcount < 0))
		lab_refcount = 0;
	pr_info("warn_on: loaded anyway (refcount reset to %d)\n", lab_refcount);
	return 0;
}

static void __exit warn_on_exit(void)
{
}

module_init(warn_on_init);
module_exit(warn_on_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("kpanic_lab");
MODULE_DESCRIPTION("WARN_ON() in module init");
