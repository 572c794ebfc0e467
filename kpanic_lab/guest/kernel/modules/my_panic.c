/*
 * my_panic - the lecture's module: its init function finds a "critical
 * data structure" NULL and calls panic() itself.
 *
 *   # insmod my_panic
 *   my_panic: loading out-of-tree module taints kernel.
 *   Loading my_panic module...
 *   Critical data structure is NULL! This is an unrecoverable error.
 *   Kernel panic - not syncing: My module detected a critical internal error: ...
 *
 * (The lecture's source writes "...n" where it means "\n"; this one does not.)
 */
#include "module.h"
#include "panic_stages.h"

static int __init my_panic_init(void)
{
	printk(KERN_INFO "Loading my_panic module...\n");

	// 示例3: 模拟一个更复杂的错误,最终调用panic
	// 假设我们有一个关键数据结构,但它被意外地设置为NULL
	void *critical_data_structure = NULL;

	if (critical_data_structure == NULL) {
		printk(KERN_EMERG "Critical data structure is NULL! This is an unrecoverable error.\n");
		// 这里为了演示,我们直接调用panic
		panic_stage(PANIC_STAGE_TRIGGER, TRIGGER_MODULE_PANIC, 0);
		panic("My module detected a critical internal error: critical_data_structure is NULL");
	}

	return 0;
}

static void __exit my_panic_exit(void)
{
	printk(KERN_INFO "Unloading my_panic module.\n");
}

module_init(my_panic_init);
module_exit(my_panic_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("Your Name");
MODULE_DESCRIPTION("A module to demonstrate kernel panic.");
