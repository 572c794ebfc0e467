/*
 * reboot.c - the ways out: restart and power off, orderly (the reboot
 * system call) or at once (emergency_restart, from panic with panic=N).
 *
 * The machine's reset line is at the PC's reset control register (0xcf9)
 * and power off at QEMU's ACPI PM port (hw.h).
 */
#include "types.h"
#include "hw.h"
#include "x86.h"
#include "errno.h"
#include "defs.h"

#define LINUX_REBOOT_MAGIC1         0xfee1dead
#define LINUX_REBOOT_MAGIC2         672274793
#define LINUX_REBOOT_MAGIC2A        85072278
#define LINUX_REBOOT_MAGIC2B        369367448
#define LINUX_REBOOT_MAGIC2C        537993216
#define LINUX_REBOOT_CMD_RESTART    0x01234567
#define LINUX_REBOOT_CMD_HALT       0xCDEF0123
#define LINUX_REBOOT_CMD_POWER_OFF  0x4321FEDC

static void __noreturn halt_forever(void)
{
	for (;;)
		asm volatile("cli; hlt" ::: "memory");
}

/* reset now, nothing else: what panic() does after "Rebooting in N seconds.." */
void emergency_restart(void)
{
	outb(RESET_PORT, RESET_VALUE);
	halt_forever();                 /* the machine resets before we get here */
}

void machine_power_off(void)
{
	outw(POWEROFF_PORT, POWEROFF_VALUE);
	halt_forever();
}

/* native_machine_shutdown(): the other CPUs stop first (smp.c) */
static void machine_shutdown(void)
{
	smp_send_stop();
}

/* native_machine_restart (arch/x86/kernel/reboot.c) */
static void __noreturn machine_restart(void)
{
	pr_notice("reboot: machine restart\n");
	machine_shutdown();
	emergency_restart();
	halt_forever();
}

/* kernel_restart (kernel/reboot.c): say so, then the arch restart */
static void __noreturn kernel_restart(void)
{
	pr_emerg("reboot: Restarting system\n");
	machine_restart();
}

static void __noreturn kernel_power_off(void)
{
	pr_emerg("reboot: Power down\n");
	smp_send_stop();
	machine_power_off();
}

static void __noreturn kernel_halt(void)
{
	pr_emerg("reboot: System halted\n");
	smp_send_stop();
	halt_forever();
}

long sys_reboot(unsigned long magic1, unsigned long magic2, unsigned long cmd)
{
	if ((u32)magic1 != LINUX_REBOOT_MAGIC1 ||
	    ((u32)magic2 != LINUX_REBOOT_MAGIC2 && (u32)magic2 != LINUX_REBOOT_MAGIC2A &&
	     (u32)magic2 != LINUX_REBOOT_MAGIC2B && (u32)magic2 != LINUX_REBOOT_MAGIC2C))
		return -EINVAL;
	switch ((u32)cmd) {
	case LINUX_REBOOT_CMD_RESTART:
		kernel_restart();
	case LINUX_REBOOT_CMD_HALT:
		kernel_halt();
	case LINUX_REBOOT_CMD_POWER_OFF:
		kernel_power_off();
	default:
		return -EINVAL;
	}
}
