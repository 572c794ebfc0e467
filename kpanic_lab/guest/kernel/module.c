/*
 * module.c - insmod, rmmod and the module list (kernel/module/main.c).
 *
 * load_module() does what Linux does once the .ko is in memory (here the
 * code was linked into the image, see module.h): make a struct module,
 * put it on `modules` in state COMING, taint the kernel ('O' out-of-tree,
 * 'E' unsigned) with Linux's messages, then do_init_module() runs the
 * module's init through do_one_initcall() and marks it LIVE.  If init
 * oopses or panics, the module stays COMING - which is why an oops in an
 * init function shows "Modules linked in: name(OE+)".
 */
#include "types.h"
#include "defs.h"
#include "errno.h"
#include "sched.h"
#include "memlayout.h"
#include "module.h"
#include "proc_fs.h"
#include "taint.h"

LIST_HEAD(modules);
static struct {
	char name[MODULE_NAME_LEN];
	char taints[8];
} last_unloaded_module;

extern const struct modinfo __start_modinfo[], __stop_modinfo[];

struct module *find_module(const char *name)
{
	struct module *mod;
	list_for_each_entry(mod, &modules, list)
		if (!strcmp(mod->name, name))
			return mod;
	return NULL;
}

/* "(OE)", "(OE+)" while loading, "(OE-)" while unloading (module_flags) */
static char *module_flags(struct module *mod, char *buf, bool show_state)
{
	int bx = 0;

	if (mod->taints || (show_state && (mod->state == MODULE_STATE_GOING ||
					   mod->state == MODULE_STATE_COMING))) {
		buf[bx++] = '(';
		bx += taint_letters(mod->taints, buf + bx);
		if (mod->state == MODULE_STATE_GOING && show_state)
			buf[bx++] = '-';
		if (mod->state == MODULE_STATE_COMING && show_state)
			buf[bx++] = '+';
		buf[bx++] = ')';
	}
	buf[bx] = 0;
	return buf;
}

/* "Modules linked in: null_deref(OE) my_panic(OE+)", printed by every oops */
void print_modules(void)
{
	struct module *mod;
	char buf[16];

	printk(KERN_DEFAULT "Modules linked in:");
	list_for_each_entry(mod, &modules, list) {
		if (mod->state == MODULE_STATE_UNFORMED)
			continue;
		pr_cont(" %s%s", mod->name, module_flags(mod, buf, true));
	}
	if (last_unloaded_module.name[0])
		pr_cont(" [last unloaded: %s%s]", last_unloaded_module.name, last_unloaded_module.taints);
	pr_cont("\n");
}

/* /proc/modules: "my_panic 16384 0 - Live 0xffffffff81a3d000 (OE)" */
int modules_show(struct seq_file *m, void *v)
{
	struct module *mod;
	char buf[16];

	list_for_each_entry(mod, &modules, list) {
		if (mod->state == MODULE_STATE_UNFORMED)
			continue;
		seq_printf(m, "%s %u %d ", mod->name, mod->core_layout.size, mod->refcnt);
		seq_puts(m, mod->exit ? "-" : "[permanent],");
		seq_printf(m, " %s 0x%px", mod->state == MODULE_STATE_GOING ? "Unloading" :
			   mod->state == MODULE_STATE_COMING ? "Loading" : "Live", mod->core_layout.base);
		if (mod->taints)
			seq_printf(m, " %s", module_flags(mod, buf, true));
		seq_puts(m, "\n");
	}
	return 0;
}

const char *module_address_lookup(unsigned long addr, unsigned long *base)
{
	return kallsyms_module_name(addr, base);
}

static void add_taint_module(struct module *mod, unsigned flag)
{
	add_taint(flag, LOCKDEP_STILL_OK);
	mod->taints |= 1UL << flag;
}

/* The modinfo records of `name` into mod; false if there is no such module. */
static bool setup_modinfo(struct module *mod, const char *name)
{
	bool found = false;
	for (const struct modinfo *mi = __start_modinfo; mi < __stop_modinfo; mi++) {
		if (strcmp(mi->modname, name))
			continue;
		found = true;
		switch (mi->tag) {
		case MODINFO_INIT: mod->init = (int (*)(void))mi->value; break;
		case MODINFO_EXIT: mod->exit = (void (*)(void))mi->value; break;
		case MODINFO_LICENSE: mod->license = mi->value; break;
		case MODINFO_AUTHOR: mod->author = mi->value; break;
		case MODINFO_DESCRIPTION: mod->description = mi->value; break;
		}
	}
	return found;
}

static bool license_is_gpl_compatible(const char *license)
{
	return license && (!strcmp(license, "GPL") || !strcmp(license, "GPL v2") ||
			   !strcmp(license, "GPL and additional rights") ||
			   !strcmp(license, "Dual BSD/GPL") || !strcmp(license, "Dual MIT/GPL") ||
			   !strcmp(license, "Dual MPL/GPL"));
}

/* The taints a module brings, with Linux's messages (module_augment_kernel_taints) */
static void module_augment_kernel_taints(struct module *mod)
{
	/* none of the lab's modules is in-tree or signed */
	if (!test_taint(TAINT_OOT_MODULE))
		pr_warn("%s: loading out-of-tree module taints kernel.\n", mod->name);
	add_taint_module(mod, TAINT_OOT_MODULE);
	if (!test_taint(TAINT_UNSIGNED_MODULE))
		pr_notice("%s: module verification failed: signature and/or required key missing - tainting kernel\n",
			  mod->name);
	add_taint_module(mod, TAINT_UNSIGNED_MODULE);
	if (!license_is_gpl_compatible(mod->license)) {
		pr_warn("%s: module license '%s' taints kernel.\n", mod->name,
			mod->license ? mod->license : "unspecified");
		add_taint_module(mod, TAINT_PROPRIETARY_MODULE);
	}
}

/*
 * A module's data and bss as they were linked, so every insmod starts from
 * them, as a freshly loaded .ko does (kept from the first load on).
 */
#define MAX_PRISTINE 8
static struct {
	const char *name;
	void *copy;
} pristine[MAX_PRISTINE];

static void module_reset_data(const char *name, unsigned long start, unsigned long end)
{
	int i;
	for (i = 0; i < MAX_PRISTINE && pristine[i].name; i++)
		if (!strcmp(pristine[i].name, name))
			break;
	if (i == MAX_PRISTINE || end <= start)
		return;
	if (pristine[i].name) {
		memcpy((void *)start, pristine[i].copy, end - start);
		return;
	}
	pristine[i].copy = kmalloc(end - start);
	if (pristine[i].copy) {
		memcpy(pristine[i].copy, (void *)start, end - start);
		pristine[i].name = kallsyms_module_name(start - 1, NULL);
	}
}

noinline int do_one_initcall(int (*fn)(void))
{
	return fn();
}

static noinline int do_init_module(struct module *mod)
{
	int ret = 0;

	if (mod->init)
		ret = do_one_initcall(mod->init);
	if (ret < 0) {
		mod->state = MODULE_STATE_GOING;
		list_del(&mod->list);
		kfree(mod);
		return ret;
	}
	if (ret > 0)
		pr_warn("%s: '%ps'->init suspiciously returned %d, it should follow 0/-E convention\n",
			mod->name, mod->init, ret);
	mod->state = MODULE_STATE_LIVE;
	return 0;
}

/* The name may come from user space (init_module) or from the kernel. */
static long get_module_name(char *buf, const char *name)
{
	if ((unsigned long)name < TASK_SIZE_MAX)
		return strncpy_from_user(buf, name, MODULE_NAME_LEN);
	return strscpy(buf, name, MODULE_NAME_LEN) == (size_t)-7 ? -ENAMETOOLONG : 0;
}

/*
 * A module parameter: param=value from insmod's words (mod->args), else
 * modname.param=value from the kernel command line (which modprobe passes
 * on from /proc/cmdline); NULL when neither gives it.  The args were split
 * in place at load (as kernel/params.c parse_args): name\0value\0...
 */
const char *module_param_get(const char *modname, const char *param)
{
	char full[MODULE_NAME_LEN + 32];
	struct module *mod = find_module(modname);

	if (mod) {
		const char *p = mod->args, *end = mod->args + sizeof(mod->args);
		while (p < end && *p) {
			const char *v = p + strlen(p) + 1;
			if (v >= end)
				break;
			if (!strcmp(p, param))
				return v;
			p = v + strlen(v) + 1;
		}
	}
	snprintf(full, sizeof(full), "%s.%s", modname, param);
	return cmdline_get(full);
}

/* "bug=uaf slot=3" -> "bug\0uaf\0slot\03\0": each word a name and its value ("" if bare) */
static void split_args(char *dst, size_t size, const char *args)
{
	size_t n = 0;
	while (*args && n + 3 < size) {
		while (*args == ' ')
			args++;
		if (!*args)
			break;
		bool value = false;
		while (*args && *args != ' ' && n + 3 < size) {
			if (*args == '=' && !value) {
				dst[n++] = 0;
				value = true;
			} else {
				dst[n++] = *args;
			}
			args++;
		}
		dst[n++] = 0;
		if (!value)
			dst[n++] = 0;
	}
	dst[n] = 0;
}

noinline long load_module(const char *uname, const char *args)
{
	char name[MODULE_NAME_LEN];
	unsigned long start, text_end, end;

	if (get_module_name(name, uname) < 0)
		return -EFAULT;
	struct module *mod = kzalloc(sizeof(*mod));
	if (!mod)
		return -ENOMEM;
	if (!setup_modinfo(mod, name)) {
		kfree(mod);
		return -ENOENT;
	}
	if (find_module(name)) {
		kfree(mod);
		return -EEXIST;
	}
	strscpy(mod->name, name, sizeof(mod->name));
	split_args(mod->args, sizeof(mod->args), args ? args : "");
	if (kallsyms_module_range(name, &start, &text_end, &end)) {
		mod->core_layout.base = (void *)start;
		mod->core_layout.text_size = text_end - start;
		mod->core_layout.ro_size = text_end - start;
		mod->core_layout.size = ALIGN(end - start, PAGE_SIZE);
		module_reset_data(name, text_end, end);
	}
	mod->state = MODULE_STATE_COMING;
	list_add(&mod->list, &modules);     /* newest first, as Linux */
	module_augment_kernel_taints(mod);
	return do_init_module(mod);
}

long delete_module(const char *uname)
{
	char name[MODULE_NAME_LEN];

	if (get_module_name(name, uname) < 0)
		return -EFAULT;
	struct module *mod = find_module(name);
	if (!mod)
		return -ENOENT;
	if (mod->state != MODULE_STATE_LIVE)
		return -EBUSY;          /* still loading (its init never finished), or going */
	if (mod->refcnt)
		return -EAGAIN;
	if (!mod->exit)
		return -EBUSY;          /* no exit function: it can never be unloaded */
	mod->state = MODULE_STATE_GOING;
	mod->exit();
	list_del(&mod->list);
	strscpy(last_unloaded_module.name, mod->name, sizeof(last_unloaded_module.name));
	module_flags(mod, last_unloaded_module.taints, false);
	kfree(mod);
	return 0;
}

void modules_init(void)
{
	INIT_LIST_HEAD(&modules);
}
