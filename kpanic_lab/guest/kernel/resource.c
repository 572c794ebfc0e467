/*
 * resource.c - the tree of physical address ranges (kernel/resource.c).
 *
 * Every range of the physical address space that somebody owns is a struct
 * resource; ranges nest (the kernel's code lies inside a "System RAM"
 * range; later a "Crash kernel" range will too) and siblings are sorted by
 * address.  /proc/iomem prints the tree, two spaces of indent per level:
 *
 *   00100000-3ffdffff : System RAM
 *     01000000-01a3ffff : Kernel code
 */
#include "types.h"
#include "defs.h"
#include "ioport.h"

struct resource iomem_resource = {
	.name = "PCI mem",
	.start = 0,
	.end = ~0ULL,
	.flags = IORESOURCE_MEM,
};

/* Resources are needed before kmalloc works: a small static pool. */
#define RES_POOL 64
static struct resource res_pool[RES_POOL];
static int res_used;

struct resource *alloc_resource(const char *name, u64 start, u64 end, unsigned long flags)
{
	if (res_used == RES_POOL)
		return NULL;
	struct resource *r = &res_pool[res_used++];
	r->name = name;
	r->start = start;
	r->end = end;
	r->flags = flags;
	return r;
}

/* Link new under root, among root's children in address order; the conflicting one, or NULL. */
static struct resource *__request_resource(struct resource *root, struct resource *new)
{
	struct resource **p = &root->child;

	if (new->end < new->start || new->start < root->start || new->end > root->end)
		return root;
	for (;;) {
		struct resource *tmp = *p;
		if (!tmp || tmp->start > new->end) {
			new->sibling = tmp;
			*p = new;
			new->parent = root;
			return NULL;
		}
		p = &tmp->sibling;
		if (tmp->end < new->start)
			continue;
		return tmp;
	}
}

int request_resource(struct resource *root, struct resource *new)
{
	return __request_resource(root, new) ? -16 : 0;    /* -EBUSY */
}

/*
 * Insert new at the deepest level where it fits, adopting the existing
 * resources it covers as its children (as Linux's __insert_resource).
 */
struct resource *insert_resource_conflict(struct resource *parent, struct resource *new)
{
	struct resource *first, *next;

	for (;; parent = first) {
		first = __request_resource(parent, new);
		if (!first)
			return NULL;
		if (first == parent)
			return first;
		if (first->start <= new->start && new->end <= first->end) {
			if (first->start == new->start && first->end == new->end)
				return first;       /* a duplicate */
			continue;               /* go down into it */
		}
		/* new covers first (and maybe more siblings): adopt them */
		for (next = first; next->sibling && next->sibling->start <= new->end; next = next->sibling)
			;
		if (first->start < new->start || next->end > new->end)
			return first;           /* partial overlap: refuse */
		break;
	}

	new->parent = parent;
	new->sibling = next->sibling;
	new->child = first;
	next->sibling = NULL;
	for (next = first; next; next = next->sibling)
		next->parent = new;

	if (parent->child == first) {
		parent->child = new;
	} else {
		next = parent->child;
		while (next->sibling != first)
			next = next->sibling;
		next->sibling = new;
	}
	return NULL;
}

int insert_resource(struct resource *parent, struct resource *new)
{
	return insert_resource_conflict(parent, new) ? -16 : 0;
}

static void print_tree(struct resource *r, int depth, void (*emit)(void *, const char *), void *ctx)
{
	char line[128];
	for (; r; r = r->sibling) {
		scnprintf(line, sizeof(line), "%*s%0*llx-%0*llx : %s\n", depth * 2, "",
			  8, (unsigned long long)r->start, 8, (unsigned long long)r->end,
			  r->name ? r->name : "<BAD>");
		emit(ctx, line);
		print_tree(r->child, depth + 1, emit, ctx);
	}
}

/* /proc/iomem, one line at a time through emit() */
void print_iomem(void (*emit)(void *ctx, const char *s), void *ctx)
{
	print_tree(iomem_resource.child, 0, emit, ctx);
}
