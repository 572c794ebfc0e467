/* list.h - circular doubly linked lists, as include/linux/list.h. */
#ifndef KPANIC_LIST_H
#define KPANIC_LIST_H
#include "types.h"

struct list_head {
	struct list_head *next, *prev;
};

#define LIST_HEAD_INIT(name) { &(name), &(name) }
#define LIST_HEAD(name) struct list_head name = LIST_HEAD_INIT(name)

static inline void INIT_LIST_HEAD(struct list_head *l) { l->next = l; l->prev = l; }
static inline void __list_add(struct list_head *n, struct list_head *prev, struct list_head *next)
{
	next->prev = n; n->next = next; n->prev = prev; prev->next = n;
}
static inline void list_add(struct list_head *n, struct list_head *head) { __list_add(n, head, head->next); }
static inline void list_add_tail(struct list_head *n, struct list_head *head) { __list_add(n, head->prev, head); }
static inline void list_del(struct list_head *e)
{
	e->next->prev = e->prev; e->prev->next = e->next;
	e->next = (struct list_head *)0x100; e->prev = (struct list_head *)0x122;   /* LIST_POISON1/2 */
}
static inline int list_empty(const struct list_head *h) { return h->next == h; }

#define list_entry(p, T, m)          container_of(p, T, m)
#define list_first_entry(h, T, m)    list_entry((h)->next, T, m)
#define list_for_each(p, h)          for (p = (h)->next; p != (h); p = p->next)
#define list_for_each_entry(pos, h, m) \
	for (pos = list_entry((h)->next, typeof(*pos), m); &pos->m != (h); \
	     pos = list_entry(pos->m.next, typeof(*pos), m))
#define list_for_each_entry_safe(pos, n, h, m) \
	for (pos = list_entry((h)->next, typeof(*pos), m), n = list_entry(pos->m.next, typeof(*pos), m); \
	     &pos->m != (h); pos = n, n = list_entry(n->m.next, typeof(*n), m))

#endif
