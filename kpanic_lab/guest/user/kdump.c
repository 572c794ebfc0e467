/*
 * kdump - the capture kernel's dump service (RHEL's kdump.sh in the kdump
 * initramfs, Debian's kdump-tools).  init runs it instead of a shell when
 * /proc/vmcore exists: this kernel was started by a crash.
 *
 * The real service mounts the dump target, runs the core_collector
 * (makedumpfile) on /proc/vmcore, saves vmcore-dmesg.txt, and then does the
 * final_action (reboot, by default).  Here the collector is the lab's
 * Python makedumpfile, which this program hands the job through the tool
 * port with what it needs from this kernel: /proc/cmdline and the ELF
 * headers and notes at the start of /proc/vmcore.  Like makedumpfile's mmap
 * mode, the collector then reads the old memory the PT_LOADs describe
 * directly.  It answers with what to print and what to do next.
 */
#include "user.h"

#define LINUX_REBOOT_MAGIC1      0xfee1dead
#define LINUX_REBOOT_MAGIC2      672274793
#define LINUX_REBOOT_CMD_RESTART 0x01234567
#define LINUX_REBOOT_CMD_HALT    0xcdef0123
#define LINUX_REBOOT_CMD_POWER_OFF 0x4321fedc
#define VMCORE_HEAD              65536

int main(int argc, char **argv)
{
	static char request[VMCORE_HEAD + 16384];
	static char head[VMCORE_HEAD];
	size_t used = snprintf(request, sizeof(request), "kdump\n");
	long n;

	lab_attach_file(request, sizeof(request), &used, "/proc/cmdline");
	lab_attach_file(request, sizeof(request), &used, "/proc/meminfo");
	n = read_file("/proc/vmcore", head, sizeof(head));
	if (n < 0) {
		printf("kdump: cannot read /proc/vmcore: %s\n", strerror(-n));
		n = 0;
	}
	lab_attach(request, sizeof(request), &used, "/proc/vmcore", head, n);

	char *reply = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if ((long)reply < 0)
		return 1;
	n = lab_tool(request, used, reply, 1 << 20);
	if (n < 0) {
		printf("%s", reply);
		printf("kdump: the collector failed: %s\n", strerror(-n));
		n = strlen(reply);
	}
	reply[n < (1 << 20) ? n : (1 << 20) - 1] = 0;

	/* the reply: lines to print, the last one "final_action=WHAT" */
	char *action = strstr(reply, "final_action=");
	if (action)
		*action = 0, action += strlen("final_action=");
	write(1, reply, strlen(reply));
	if (action && !strncmp(action, "shell", 5)) {
		char *sh[] = { "/bin/sh", NULL };
		execve("/bin/sh", sh, NULL);
	}
	unsigned int cmd = LINUX_REBOOT_CMD_RESTART;
	if (action && !strncmp(action, "halt", 4))
		cmd = LINUX_REBOOT_CMD_HALT;
	else if (action && !strncmp(action, "poweroff", 8))
		cmd = LINUX_REBOOT_CMD_POWER_OFF;
	reboot(cmd);
	for (;;)
		;
}
