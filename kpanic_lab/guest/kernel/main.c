/*
 * main.c - the boot sequence, in the order Linux 6.1 runs (and prints) it.
 *
 *   startup_64 (entry.S) -> x86_64_start_kernel (head64.c) -> start_kernel
 *     banner, setup_arch (command line, e820, memblock), command line,
 *     memory, scheduler, timer, console, interrupts on
 *     (the GDT, IDT and TSS are already set up: head64.c, before any of it)
 *     rest_init: pid 1 (kernel_init) is born; CPU 0 becomes its idle task
 *   kernel_init (pid 1): other CPUs, file systems, modules,
 *     then execs /init and becomes the first user process
 *
 *   secondary_startup_64 (entry.S) -> secondary_start_kernel: the other CPUs
 */
#include "types.h"
#include "param.h"
#include "hw.h"
#include "x86.h"
#include "bootparam.h"
#include "sched.h"
#include "errno.h"
#include "defs.h"
#include "crash_core.h"

static int kernel_init(void *unused);

/* the rest of boot runs as pid 1; CPU 0 becomes its idle task */
static noinline void rest_init(void)
{
	if (!kernel_thread(kernel_init, NULL, "swapper/0"))
		panic("rest_init: cannot create the init task");
	cpu_idle_loop();
}

void start_kernel(struct boot_params *bp)
{
	notify_cpu_starting(0);
	pr_notice("%s", linux_banner);
	setup_arch(bp);         /* "Command line:", the e820 map, memblock, crashkernel=, resources */
	setup_command_line();   /* "Kernel command line: ..." */
	/* (Linux's trap_init() would come here: our IDT is loaded since head64.c) */
	mem_init();             /* the page allocator takes over from memblock */
	sched_init();
	init_timers();          /* TIMER_SOFTIRQ */
	apic_init(0);           /* the timer: HZ ticks per second from now on */
	console_init();         /* "printk: console [ttyS0] enabled" */
	local_irq_enable();
	rest_init();
}

/* ---- pid 1 ------------------------------------------------------------- */

static int run_init_process(const char *init_filename)
{
	char *argv[] = { (char *)init_filename, NULL };

	pr_info("Run %s as init process\n", init_filename);
	return do_execve(init_filename, argv);
}

static int try_to_run_init_process(const char *init_filename)
{
	int ret = run_init_process(init_filename);

	if (ret && ret != -ENOENT)
		pr_err("Starting init: %s exists but couldn't execute it (error %d)\n", init_filename, ret);
	return ret;
}

/* Linux's do_basic_setup(): what the initcalls bring up */
static void kernel_init_freeable(void)
{
	smp_init();
	vfs_init();
	proc_init();
	ksysfs_init();                  /* /sys/kernel/kexec_crash_*, vmcoreinfo, cpuN/crash_notes */
	vmcore_init();                  /* /proc/vmcore, in a capture kernel only */
	crash_save_vmcoreinfo_init();   /* VMCOREINFO for a future dump */
	modules_init();
	fd_install_console(current);    /* fds 0, 1, 2 on the console, inherited by everyone */
}

/*
 * Which program becomes init, as Linux: rdinit= (default /init, if the
 * initramfs has it), then init=, then the usual places.  On success we
 * return 0 and ret_from_fork takes us to user mode, into the new program.
 */
static int kernel_init(void *unused)
{
	const char *rdinit = cmdline_get("rdinit");
	const char *init = cmdline_get("init");
	const char *ramdisk_execute_command = rdinit && *rdinit ? rdinit : "/init";
	int ret;

	kernel_init_freeable();
	lab_event(LAB_EV_BOOTED, 0, 0, 0);

	if (initramfs_lookup(ramdisk_execute_command)) {
		ret = run_init_process(ramdisk_execute_command);
		if (!ret)
			return 0;
		pr_err("Failed to execute %s (error %d)\n", ramdisk_execute_command, ret);
	}
	if (init && *init) {
		ret = run_init_process(init);
		if (!ret)
			return 0;
		panic("Requested init %s failed (error %d).", init, ret);
	}
	if (!try_to_run_init_process("/sbin/init") ||
	    !try_to_run_init_process("/etc/init") ||
	    !try_to_run_init_process("/bin/init") ||
	    !try_to_run_init_process("/bin/sh"))
		return 0;
	panic("No working init found.  Try passing init= option to kernel. "
	      "See Linux Documentation/admin-guide/init.rst for guidance.");
}

/* ---- the other CPUs ------------------------------------------------------ */

/* secondary_startup_64 calls this on the CPU's idle task's stack (smp.c set it up) */
void secondary_start_kernel(int cpu)
{
	cpu_init(cpu);          /* GDT, TSS, IDT, GS, syscall MSRs */
	apic_init(cpu);         /* its own timer */
	notify_cpu_starting(cpu);
	local_irq_enable();
	cpu_idle_loop();
}
