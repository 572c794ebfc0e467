/*
 * xsensor - a temperature sensor driver, with one bug chosen when it loads.
 *
 * The exercises give every student a dump of their own (kpanic_lab/
 * exercises/dumps.py): which of the exercise drivers (xsensor, xringbuf, xnetq) breaks, and how, comes
 * from the student's seed through two module parameters, given to insmod
 * (insmod xsensor bug=dfree slot=3) or as xsensor.bug= on the kernel
 * command line (module_param_get(), module.c):
 *   xsensor.bug=null   sensor_store_sample() writes through last, a
 *                         sample pointer nobody allocated: an oops
 *   xsensor.bug=bug    sensor_check_fifo(): BUG_ON(fill > size)
 *   xsensor.bug=warn   sensor_calibrate(): WARN_ON() (a panic with
 *                         panic_on_warn=1)
 *   xsensor.bug=timer  the poll timer's function writes through NULL,
 *                         in interrupt context
 *   xsensor.bug=dfree  sensor_free_buffers() is called twice on an
 *                         error path and frees the FIFO twice; the slab's
 *                         naive double-free check (slab.c) says BUG
 *   xsensor.bug=uaf    sensor_notify_reader() writes to the buffer of a
 *                         reader that was freed: with slub_debug=P the
 *                         pointer read from it is POISON_FREE, a general
 *                         protection fault at a non-canonical address
 *   xsensor.slot=N     the channel the bad write goes to (0-7), so the
 *                         faulting address differs
 * Without xsensor.bug the driver loads and does nothing wrong.
 */
#include "module.h"
#include "sched.h"
#include "bug.h"
#include "timer.h"

#define SENSOR_CHANNELS 8

struct sensor_sample {
	unsigned long stamp;
	long millicelsius[SENSOR_CHANNELS];
};

struct sensor_dev {
	const char *name;
	int nr_channels;
	int fifo_fill;
	int fifo_size;
	long *fifo;
	struct sensor_sample *last;        /* set by the first poll: the bug reads it before */
};

struct sensor_reader {
	unsigned long flags;
	struct sensor_sample *sample;      /* where the reader wants each sample */
	char comm[48];
};

static struct sensor_dev xsensor_dev = { .name = "lab-sensor0", .nr_channels = 4, .fifo_size = 16 };
static struct timer_list sensor_poll_timer;
static long sensor_slot;

static noinline void sensor_store_sample(struct sensor_dev *dev, long mc)
{
	dev->last->millicelsius[sensor_slot] = mc;
}

static noinline void sensor_check_fifo(struct sensor_dev *dev)
{
	BUG_ON(dev->fifo_fill > dev->fifo_size);
}

static noinline void sensor_calibrate(struct sensor_dev *dev)
{
	WARN_ON(dev->nr_channels > 4 + sensor_slot);
}

static void sensor_poll(struct timer_list *t)
{
	xsensor_dev.last->millicelsius[sensor_slot] = 21500;    /* NULL + offset, in interrupt */
}

static noinline void sensor_notify_reader(struct sensor_reader *r, long mc)
{
	r->sample->millicelsius[sensor_slot] = mc;     /* r was freed: r->sample is poison */
}

static noinline void sensor_free_buffers(struct sensor_dev *dev)
{
	kfree(dev->fifo);                  /* and dev->fifo is left pointing at it: the bug */
}

static int __init xsensor_init(void)
{
	const char *bug = module_param_get("xsensor", "bug");
	const char *slot = module_param_get("xsensor", "slot");
	struct sensor_dev *dev = &xsensor_dev;

	sensor_slot = slot ? simple_strtol(slot, NULL, 0) % SENSOR_CHANNELS : 0;
	pr_info("xsensor: %s, %d channels\n", dev->name, dev->nr_channels);
	if (!bug)
		return 0;
	if (!strcmp(bug, "null")) {
		sensor_store_sample(dev, 21500);
	} else if (!strcmp(bug, "bug")) {
		dev->fifo_fill = dev->fifo_size + 1 + (int)sensor_slot;
		sensor_check_fifo(dev);
	} else if (!strcmp(bug, "warn")) {
		dev->nr_channels = 5 + (int)sensor_slot;
		sensor_calibrate(dev);
	} else if (!strcmp(bug, "timer")) {
		timer_setup(&sensor_poll_timer, sensor_poll, 0);
		mod_timer(&sensor_poll_timer, jiffies + HZ / 20);
	} else if (!strcmp(bug, "dfree")) {
		dev->fifo = kmalloc(dev->fifo_size * sizeof(long));
		dev->last = kmalloc(sizeof(*dev->last));   /* keeps the FIFO's slab in use */
		pr_info("xsensor: calibration failed, releasing buffers\n");
		sensor_free_buffers(dev);
		sensor_free_buffers(dev);          /* the error path frees them again */
	} else if (!strcmp(bug, "uaf")) {
		struct sensor_reader *r = kzalloc(sizeof(*r));
		dev->last = kzalloc(sizeof(*dev->last));
		r->sample = dev->last;
		dev->fifo = kmalloc(sizeof(*r));   /* keeps the reader's slab in use */
		kfree(r);                          /* the reader closed the device */
		pr_info("xsensor: reader gone, notifying it anyway\n");
		sensor_notify_reader(r, 21500);
	}
	return 0;
}

static void __exit xsensor_exit(void)
{
	del_timer(&sensor_poll_timer);
}

module_init(xsensor_init);
module_exit(xsensor_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("kpanic_lab");
MODULE_DESCRIPTION("temperature sensor driver with a bug chosen by xsensor.bug=");
