/* kmsg_dump.h - kernel message dumpers (include/linux/kmsg_dump.h). */
#ifndef KPANIC_KMSG_DUMP_H
#define KPANIC_KMSG_DUMP_H
#include "list.h"

enum kmsg_dump_reason {
	KMSG_DUMP_UNDEF,
	KMSG_DUMP_PANIC,
	KMSG_DUMP_OOPS,
	KMSG_DUMP_EMERG,
	KMSG_DUMP_SHUTDOWN,
	KMSG_DUMP_MAX
};

struct kmsg_dumper {
	struct list_head list;
	void (*dump)(struct kmsg_dumper *dumper, enum kmsg_dump_reason reason);
	enum kmsg_dump_reason max_reason;   /* 0: all reasons */
};

int kmsg_dump_register(struct kmsg_dumper *dumper);
int kmsg_dump_unregister(struct kmsg_dumper *dumper);
void kmsg_dump(enum kmsg_dump_reason reason);

#endif
