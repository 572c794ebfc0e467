/*
 * lab_notifier.c - panic notifiers written in Python, by students.
 *
 * `lab_notifiers=100,-5` on the command line registers one notifier_block on
 * panic_notifier_list per number, with that priority, at the same time as the
 * kernel's own panic notifiers.  Each block's notifier_call is a trampoline:
 * it asks the lab machine to run the Python function bound to its slot
 * (LAB_OP_PYCALL, hw.h) and returns the int the function returned.  The
 * guest cannot tell it from a C notifier: same chain, same priority order,
 * same NOTIFY_STOP semantics.
 */
#include "types.h"
#include "defs.h"
#include "x86.h"
#include "notifier.h"

#define LAB_PY_SLOTS 8

static noinline int lab_python_call(int slot, unsigned long action, void *data)
{
	lab_op(LAB_OP_PYCALL, slot, action, (unsigned long)data, 0);
	return (int)inl(LAB_PORT);
}

/* one trampoline per slot, so a Call Trace or the stage trace names the slot */
#define LAB_TRAMPOLINE(n)                                                              \
	static int lab_python_notifier_##n(struct notifier_block *nb, unsigned long action, \
					   void *data)                                   \
	{                                                                              \
		return lab_python_call(n, action, data);                              \
	}
LAB_TRAMPOLINE(0) LAB_TRAMPOLINE(1) LAB_TRAMPOLINE(2) LAB_TRAMPOLINE(3)
LAB_TRAMPOLINE(4) LAB_TRAMPOLINE(5) LAB_TRAMPOLINE(6) LAB_TRAMPOLINE(7)

static struct notifier_block lab_nb[LAB_PY_SLOTS] = {
	{ .notifier_call = lab_python_notifier_0, .name = "python notifier 0" },
	{ .notifier_call = lab_python_notifier_1, .name = "python notifier 1" },
	{ .notifier_call = lab_python_notifier_2, .name = "python notifier 2" },
	{ .notifier_call = lab_python_notifier_3, .name = "python notifier 3" },
	{ .notifier_call = lab_python_notifier_4, .name = "python notifier 4" },
	{ .notifier_call = lab_python_notifier_5, .name = "python notifier 5" },
	{ .notifier_call = lab_python_notifier_6, .name = "python notifier 6" },
	{ .notifier_call = lab_python_notifier_7, .name = "python notifier 7" },
};

/* Parse "100,-5" (up to the end of the parameter) and register a slot per number. */
void register_lab_notifiers(void)
{
	const char *s = cmdline_get("lab_notifiers");
	int slot = 0;

	if (!s)
		return;
	while (*s && *s != ' ' && slot < LAB_PY_SLOTS) {
		int neg = 0;
		long prio = 0;

		if (*s == '-' || *s == '+')
			neg = *s++ == '-';
		if (*s < '0' || *s > '9') {
			pr_warn("lab_notifiers: bad priority list at \"%s\"\n", s);
			return;
		}
		while (*s >= '0' && *s <= '9')
			prio = prio * 10 + (*s++ - '0');
		lab_nb[slot].priority = neg ? -prio : prio;
		atomic_notifier_chain_register(&panic_notifier_list, &lab_nb[slot]);
		pr_info("lab: Python panic notifier %d registered (priority %d)\n", slot, lab_nb[slot].priority);
		slot++;
		if (*s == ',')
			s++;
	}
}
