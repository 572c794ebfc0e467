/*
 * kmsg_dump.c - kernel message dumpers (kernel/printk/printk.c: kmsg_dump()).
 *
 * A dumper (pstore, mtdoops, ...) asks to be handed the log when the kernel
 * oopses or panics, to save it somewhere that survives the reboot.  The lab
 * kernel registers none by default; the list exists so panic() can walk it
 * as Linux does, and a module may add one.
 */
#include "types.h"
#include "defs.h"
#include "list.h"
#include "kmsg_dump.h"
#include "panic_stages.h"

static LIST_HEAD(dump_list);
static int nr_dumpers;

int kmsg_dump_register(struct kmsg_dumper *dumper)
{
	list_add_tail(&dumper->list, &dump_list);
	nr_dumpers++;
	return 0;
}

int kmsg_dump_unregister(struct kmsg_dumper *dumper)
{
	list_del(&dumper->list);
	nr_dumpers--;
	return 0;
}

const char *kmsg_dump_reason_str(enum kmsg_dump_reason reason)
{
	switch (reason) {
	case KMSG_DUMP_PANIC: return "Panic";
	case KMSG_DUMP_OOPS: return "Oops";
	case KMSG_DUMP_EMERG: return "Emergency";
	case KMSG_DUMP_SHUTDOWN: return "Shutdown";
	default: return "Unknown";
	}
}

void kmsg_dump(enum kmsg_dump_reason reason)
{
	struct kmsg_dumper *d;

	if (reason == KMSG_DUMP_PANIC)
		panic_stage(PANIC_STAGE_KMSG_DUMP, nr_dumpers, reason);
	list_for_each_entry(d, &dump_list, list) {
		if (d->max_reason && reason > d->max_reason)
			continue;
		d->dump(d, reason);
	}
}
