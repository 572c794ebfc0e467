/*
 * kexec - load a capture kernel: `kexec -p [--append="..."]`, `kexec -p -u`.
 *
 * The real kexec-tools reads the kernel image and builds every segment in
 * user space.  Here the building is done by the lab's Python kexec-tools
 * (kpanic_lab/kdump/kexec.py), which this program asks through the lab's
 * tool port, sending what kexec-tools reads: /proc/iomem (where RAM and the
 * crashkernel= range are), /proc/cmdline, /sys/kernel/vmcoreinfo and each
 * CPU's crash_notes address.  It gets back the segments, and then does what
 * kexec-tools does: one kexec_load(2) system call.  The kernel checks and
 * copies them; /sys/kernel/kexec_crash_loaded turns to 1.
 */
#include "user.h"

#define KEXEC_ON_CRASH     0x00000001
#define KEXEC_ARCH_X86_64  (62 << 16)
#define REPLY_SIZE         (8UL << 20)

struct kexec_segment {
	const void *buf;
	size_t bufsz;
	unsigned long mem;
	size_t memsz;
};

int main(int argc, char **argv)
{
	static char request[262144];
	size_t used = 0;
	char argv_blob[1024];
	size_t alen = 0;
	int unload = 0;

	for (int i = 1; i < argc; i++) {
		size_t n = strlen(argv[i]) + 1;
		if (alen + n > sizeof(argv_blob))
			break;
		memcpy(argv_blob + alen, argv[i], n);
		alen += n;
		if (!strcmp(argv[i], "-u"))
			unload = 1;
	}
	used = snprintf(request, sizeof(request), "kexec\n");
	lab_attach(request, sizeof(request), &used, "argv", argv_blob, alen);
	lab_attach_file(request, sizeof(request), &used, "/proc/iomem");
	lab_attach_file(request, sizeof(request), &used, "/proc/cmdline");
	lab_attach_file(request, sizeof(request), &used, "/sys/kernel/vmcoreinfo");
	for (int cpu = 0; cpu < 8; cpu++) {
		char path[64];
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/crash_notes", cpu);
		if (lab_attach_file(request, sizeof(request), &used, path) < 0)
			break;
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/crash_notes_size", cpu);
		lab_attach_file(request, sizeof(request), &used, path);
	}

	char *reply = mmap(NULL, REPLY_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if ((long)reply < 0) {
		dprintf(2, "kexec: cannot allocate a buffer: %s\n", strerror(-(long)reply));
		return 1;
	}
	long n = lab_tool(request, used, reply, REPLY_SIZE);
	if (n < 0) {
		write(2, reply, strlen(reply) < 4096 ? strlen(reply) : 4096);     /* the tool's message */
		return 1;
	}
	/* the reply: entry, number of segments, the segments (buf already points into reply) */
	unsigned long entry = ((unsigned long *)reply)[0];
	unsigned long nr = ((unsigned long *)reply)[1];
	struct kexec_segment *segs = (struct kexec_segment *)(reply + 16);
	long r = syscall6(SYS_kexec_load, entry, unload ? 0 : nr, (long)segs, KEXEC_ON_CRASH | KEXEC_ARCH_X86_64, 0, 0);
	if (r < 0) {
		dprintf(2, "kexec_load failed: %s\n", strerror(-r));
		return 1;
	}
	return 0;
}
