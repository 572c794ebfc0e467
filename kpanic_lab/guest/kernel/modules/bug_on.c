/*
 * bug_on - BUG_ON(): the kernel checks an assumption and stops.
 *
 * BUG_ON(cond) is a ud2 instruction; the invalid-opcode handler finds it in
 * __bug_table and prints "kernel BUG at kernel/modules/bug_on.c:NN!", then
 * an "invalid opcode" oops.  insmod's process dies (or, with
 * panic_on_oops, the system panics); the module stays half-loaded (OE+).
 */
#include "module.h"
#include "bug.h"

struct lab_queue {
	int len;
	int capacity;
};

static struct lab_queue queue = { .len = 5, .capacity = 4 };

static int __init bug_on_init(void)
{
	pr_info("bug_on: checking the queue (len %d, capacity %d)\n", queue.len, queue.capacity);
	BUG_ON(queue.len > queue.capacity);
	return 0;
}

static void __exit bug_on_exit(void)
{
}

module_init(bug_on_init);
module_exit(bug_on_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("kpanic_lab");
MODULE_DESCRIPTION("BUG_ON() in module init");
