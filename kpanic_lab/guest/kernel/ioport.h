/*
 * ioport.h - the resource tree (include/linux/ioport.h): who owns which
 * range of physical addresses.  /proc/iomem prints iomem_resource's tree.
 */
#ifndef KPANIC_IOPORT_H
#define KPANIC_IOPORT_H
#include "types.h"

struct resource {
	u64 start;
	u64 end;                    /* inclusive, as Linux */
	const char *name;
	unsigned long flags;
	struct resource *parent, *sibling, *child;
};

#define IORESOURCE_MEM          0x00000200
#define IORESOURCE_BUSY         0x80000000
#define IORESOURCE_SYSTEM_RAM   0x01000000

extern struct resource iomem_resource;

int request_resource(struct resource *root, struct resource *new);
struct resource *insert_resource_conflict(struct resource *parent, struct resource *new);
int insert_resource(struct resource *parent, struct resource *new);
struct resource *alloc_resource(const char *name, u64 start, u64 end, unsigned long flags);

#endif
