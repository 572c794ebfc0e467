/*
 * xnetq - the transmit queue of a small network driver, with one bug
 * chosen when it loads (see xsensor.c for how the exercises choose it):
 *   xnetq.bug=null   netq_xmit() fills in the descriptor of a TX ring
 *                       that was never set up: an oops
 *   xnetq.bug=bug    netq_reclaim(): BUG_ON(more packets done than sent)
 *   xnetq.bug=warn   netq_set_mtu(): WARN_ON(an MTU above the maximum)
 *                       (a panic with panic_on_warn=1)
 *   xnetq.bug=timer  the watchdog timer's function writes to the NULL
 *                       ring, in interrupt context
 *   xnetq.bug=dfree  netq_free_skb() frees a packet buffer that the
 *                       completion path freed already: a double kfree
 *   xnetq.bug=uaf    netq_tx_complete() marks the descriptor of a packet
 *                       buffer already freed: with slub_debug=P its
 *                       descriptor pointer is POISON_FREE, a general
 *                       protection fault
 *   xnetq.slot=N     the descriptor the bad write goes to (0-7)
 */
#include "module.h"
#include "sched.h"
#include "bug.h"
#include "timer.h"

#define NETQ_DESCS 8
#define NETQ_MAX_MTU 9000

struct netq_desc {
	unsigned long addr;
	unsigned int len;
	unsigned int status;
};

struct netq {
	const char *ifname;
	unsigned int mtu;
	unsigned int sent;
	unsigned int done;
	struct netq_desc *ring;             /* set up by netq_open(): the bug uses it before */
	void *skb;
};

struct netq_skb {
	unsigned long len;
	struct netq_desc *desc;             /* the TX descriptor the packet went out on */
	char cb[48];
};

static struct netq xnetq_dev = { .ifname = "lab0", .mtu = 1500 };
static struct timer_list netq_watchdog_timer;
static long netq_slot;

static noinline void netq_xmit(struct netq *q, unsigned int len)
{
	q->ring[netq_slot].len = len;
	q->sent++;
}

static noinline void netq_reclaim(struct netq *q, unsigned int n)
{
	q->done += n;
	BUG_ON(q->done > q->sent);
}

static noinline void netq_set_mtu(struct netq *q, unsigned int mtu)
{
	if (WARN_ON(mtu > NETQ_MAX_MTU))
		return;
	q->mtu = mtu;
}

static void netq_watchdog(struct timer_list *t)
{
	xnetq_dev.ring[netq_slot].status = 1;     /* NULL + offset, in interrupt */
}

static noinline void netq_tx_complete(struct netq_skb *skb)
{
	skb->desc[netq_slot].status = 0;    /* skb was freed: skb->desc is poison */
}

static noinline void netq_free_skb(struct netq *q)
{
	kfree(q->skb);                      /* the completion path freed it already */
}

static int __init xnetq_init(void)
{
	const char *bug = module_param_get("xnetq", "bug");
	const char *slot = module_param_get("xnetq", "slot");
	struct netq *q = &xnetq_dev;

	netq_slot = slot ? simple_strtol(slot, NULL, 0) % NETQ_DESCS : 0;
	pr_info("xnetq: %s up, mtu %u\n", q->ifname, q->mtu);
	if (!bug)
		return 0;
	if (!strcmp(bug, "null")) {
		netq_xmit(q, 60 + (unsigned int)netq_slot);
	} else if (!strcmp(bug, "bug")) {
		q->sent = 2;
		netq_reclaim(q, 3 + (unsigned int)netq_slot);
	} else if (!strcmp(bug, "warn")) {
		netq_set_mtu(q, 9216 + 8 * (unsigned int)netq_slot);
	} else if (!strcmp(bug, "timer")) {
		timer_setup(&netq_watchdog_timer, netq_watchdog, 0);
		mod_timer(&netq_watchdog_timer, jiffies + HZ / 10);
	} else if (!strcmp(bug, "dfree")) {
		q->skb = kmalloc(256);
		q->ring = kmalloc(256);             /* keeps the slab in use */
		kfree(q->skb);                      /* TX completion */
		pr_info("xnetq: tx timeout, dropping the pending packet\n");
		netq_free_skb(q);
	} else if (!strcmp(bug, "uaf")) {
		struct netq_skb *skb = kzalloc(sizeof(*skb));
		q->ring = kzalloc(NETQ_DESCS * sizeof(struct netq_desc));
		skb->desc = q->ring;
		q->skb = kmalloc(sizeof(*skb));     /* keeps the packet's slab in use */
		kfree(skb);                         /* the xmit error path freed it */
		pr_info("xnetq: tx completion for a dropped packet\n");
		netq_tx_complete(skb);
	}
	return 0;
}

static void __exit xnetq_exit(void)
{
	del_timer(&netq_watchdog_timer);
}

module_init(xnetq_init);
module_exit(xnetq_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("kpanic_lab");
MODULE_DESCRIPTION("network transmit queue with a bug chosen by xnetq.bug=");
