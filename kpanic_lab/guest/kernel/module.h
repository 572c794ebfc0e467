/*
 * module.h - the lab's loadable modules (include/linux/module.h).
 *
 * The lab's modules are compiled into the kernel image, each in an address
 * range of its own (the Makefile's modules.ld: __mod_<name>_text_start ..
 * __mod_<name>_end), so their code is already there; `insmod name` makes a
 * struct module for it, puts it on the `modules` list, taints the kernel
 * as an out-of-tree, unsigned module does in Linux, and runs its init
 * function - which is what a real insmod does after loading the .ko.
 *
 * A module's source looks like a Linux module's:
 *     module_init(my_panic_init);
 *     module_exit(my_panic_exit);
 *     MODULE_LICENSE("GPL");
 * Each macro leaves a small record in section .modinfo_table, tagged with
 * the module's name (KBUILD_MODNAME, from the Makefile), the way Linux's
 * .modinfo section holds "license=GPL".
 */
#ifndef KPANIC_MODULE_H
#define KPANIC_MODULE_H
#include "types.h"
#include "list.h"
#include "defs.h"

#define MODULE_NAME_LEN 56

enum module_state {
	MODULE_STATE_LIVE,      /* normal state */
	MODULE_STATE_COMING,    /* fully formed, running module_init */
	MODULE_STATE_GOING,     /* going away */
	MODULE_STATE_UNFORMED,  /* still setting it up */
};

struct module_layout {
	void *base;             /* where the module's code starts */
	unsigned int size;      /* total size, page-aligned */
	unsigned int text_size;
	unsigned int ro_size;
};

struct module {
	enum module_state state;
	struct list_head list;              /* on `modules` */
	char name[MODULE_NAME_LEN];
	int (*init)(void);
	struct module_layout core_layout;
	void (*exit)(void);
	unsigned long taints;               /* the taints it brought (TAINT_OOT_MODULE, ...) */
	int refcnt;
	const char *license, *author, *description;
	char args[128];                     /* insmod's param=value words, as Linux's mod->args */
};

extern struct list_head modules;

/* .modinfo_table records */
enum modinfo_tag { MODINFO_INIT = 1, MODINFO_EXIT, MODINFO_LICENSE, MODINFO_AUTHOR, MODINFO_DESCRIPTION };

struct modinfo {
	const char *modname;
	int tag;
	const void *value;
};

#define __MODINFO(tag, value, id)                                                \
	static const struct modinfo __modinfo_##id __used __section(".modinfo_table") \
		__aligned(8) = { KBUILD_MODNAME, tag, value }

#define module_init(fn)          __MODINFO(MODINFO_INIT, (const void *)(fn), init)
#define module_exit(fn)          __MODINFO(MODINFO_EXIT, (const void *)(fn), exit)
#define MODULE_LICENSE(s)        __MODINFO(MODINFO_LICENSE, s, license)
#define MODULE_AUTHOR(s)         __MODINFO(MODINFO_AUTHOR, s, author)
#define MODULE_DESCRIPTION(s)    __MODINFO(MODINFO_DESCRIPTION, s, description)

#define __init
#define __exit

struct module *find_module(const char *name);

#endif
