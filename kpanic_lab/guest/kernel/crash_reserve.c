/*
 * crash_reserve.c - crashkernel=: memory set aside at boot for a capture kernel
 * (kernel/crash_core.c's parser, arch/x86/kernel/setup.c's reserve_crashkernel
 * in Linux 6.1).
 *
 * The forms, as Documentation/admin-guide/kdump/kdump.rst lists them:
 *   crashkernel=size[@offset]                      e.g. 192M, 64M@256M
 *   crashkernel=start-[end]:size[,start-[end]:size...][@offset]
 *                                                  size chosen by System RAM size,
 *                                                  e.g. 512M-2G:64M,2G-:128M
 *   crashkernel=size,high   crashkernel=size,low   above / below 4 GiB
 * ("auto" was a RHEL patch; upstream never had it: it is a syntax error here.)
 *
 * Without @offset the range is found top-down, 16 MiB aligned, below 4 GiB
 * (then anywhere, for ,high).  The result is the "Crash kernel" child of
 * "System RAM" in /proc/iomem, and /sys/kernel/kexec_crash_size.
 */
#include "types.h"
#include "defs.h"
#include "memblock.h"
#include "ioport.h"
#include "memlayout.h"

#define CRASH_ALIGN          (16UL << 20)
#define CRASH_ADDR_LOW_MAX   (1ULL << 32)
#define CRASH_ADDR_HIGH_MAX  (1ULL << 46)     /* MAXMEM */

struct resource crashk_res = {
	.name = "Crash kernel", .start = 0, .end = 0,
	.flags = IORESOURCE_BUSY | IORESOURCE_SYSTEM_RAM | IORESOURCE_MEM,
};

/* "start-[end]:size,..." - which size applies to this much System RAM */
static int parse_crashkernel_mem(char *cmdline, unsigned long long system_ram,
				 unsigned long long *crash_size, unsigned long long *crash_base)
{
	char *cur = cmdline, *tmp;
	unsigned long long total_mem = system_ram;

	/*
	 * Firmware sometimes reserves some memory regions for its own use,
	 * so the system memory size is less than the actual physical memory
	 * size. Work around this by rounding up the total size to 128M,
	 * which is enough for most test cases.  (Linux does exactly this.)
	 */
	total_mem = ALIGN(total_mem, 0x8000000);

	do {
		unsigned long long start, end = ~0ULL, size;

		start = memparse(cur, &tmp);
		if (cur == tmp) {
			pr_warn("crashkernel: Memory value expected\n");
			return -22;
		}
		cur = tmp;
		if (*cur != '-') {
			pr_warn("crashkernel: '-' expected\n");
			return -22;
		}
		cur++;
		if (*cur != ':') {
			end = memparse(cur, &tmp);
			if (cur == tmp) {
				pr_warn("crashkernel: Memory value expected\n");
				return -22;
			}
			cur = tmp;
			if (end <= start) {
				pr_warn("crashkernel: end <= start\n");
				return -22;
			}
		}
		if (*cur != ':') {
			pr_warn("crashkernel: ':' expected\n");
			return -22;
		}
		cur++;
		size = memparse(cur, &tmp);
		if (cur == tmp) {
			pr_warn("Memory value expected\n");
			return -22;
		}
		cur = tmp;
		if (size >= total_mem) {
			pr_warn("crashkernel: invalid size\n");
			return -22;
		}
		if (total_mem >= start && total_mem < end) {
			*crash_size = size;
			break;
		}
	} while (*cur++ == ',');

	if (*crash_size > 0) {
		while (*cur && *cur != ' ' && *cur != '@')
			cur++;
		if (*cur == '@') {
			cur++;
			*crash_base = memparse(cur, &tmp);
			if (cur == tmp) {
				pr_warn("crahskernel: Memory value expected after '@'\n");
				return -22;
			}
		}
	} else {
		pr_info("crashkernel size resulted in zero bytes\n");
	}
	return 0;
}

/* "size[@offset]" */
static int parse_crashkernel_simple(char *cmdline, unsigned long long *crash_size,
				    unsigned long long *crash_base)
{
	char *cur = cmdline;

	*crash_size = memparse(cmdline, &cur);
	if (cmdline == cur) {
		pr_warn("crashkernel: memory value expected\n");
		return -22;
	}
	if (*cur == '@')
		*crash_base = memparse(cur + 1, &cur);
	else if (*cur != ' ' && *cur != '\0') {
		pr_warn("crashkernel: unrecognized char: %c\n", *cur);
		return -22;
	}
	return 0;
}

/* "size,high" / "size,low" */
static int parse_crashkernel_suffix(char *cmdline, unsigned long long *crash_size, const char *suffix)
{
	char *cur = cmdline;

	*crash_size = memparse(cmdline, &cur);
	if (cmdline == cur) {
		pr_warn("crashkernel: memory value expected\n");
		return -22;
	}
	if (strncmp(cur, suffix, strlen(suffix))) {
		pr_warn("crashkernel: unrecognized char: %c\n", *cur);
		return -22;
	}
	cur += strlen(suffix);
	if (*cur != ' ' && *cur != '\0') {
		pr_warn("crashkernel: unrecognized char: %c\n", *cur);
		return -22;
	}
	return 0;
}

/*
 * The value of the crashkernel= that matches `suffix` (NULL: the plain one;
 * ",high" / ",low"), as a private copy ending at the next space.
 */
static char *get_crashkernel_arg(const char *suffix, char *buf, size_t len)
{
	const char *v = cmdline_get("crashkernel");
	size_t n = 0;

	if (!v)
		return NULL;
	while (v[n] && v[n] != ' ' && n + 1 < len)
		n++;
	memcpy(buf, v, n);
	buf[n] = 0;
	bool has_suffix = strstr(buf, ",high") || strstr(buf, ",low");
	if (!suffix)
		return has_suffix ? NULL : buf;
	char *s = strstr(buf, suffix);
	return s && s[strlen(suffix)] == 0 ? buf : NULL;
}

/* 0 and a size when crashkernel= asks for memory; -EINVAL on a bad value. */
int parse_crashkernel(unsigned long long system_ram, unsigned long long *crash_size,
		      unsigned long long *crash_base, bool *high)
{
	static char arg[256];
	char *ck;

	*crash_size = 0;
	*crash_base = 0;
	*high = false;
	if ((ck = get_crashkernel_arg(NULL, arg, sizeof(arg)))) {
		if (strchr(ck, ':'))
			return parse_crashkernel_mem(ck, system_ram, crash_size, crash_base);
		return parse_crashkernel_simple(ck, crash_size, crash_base);
	}
	if ((ck = get_crashkernel_arg(",high", arg, sizeof(arg)))) {
		*high = true;
		return parse_crashkernel_suffix(ck, crash_size, ",high");
	}
	/* ",low" only sizes the low part of a ",high" reservation (not needed below 4 GiB) */
	return -22;
}

/* setup_arch(): find and reserve the range, as 6.1's reserve_crashkernel(). */
void reserve_crashkernel(void)
{
	unsigned long long crash_size, crash_base, total_mem;
	bool high;

	if (!cmdline_get("crashkernel"))
		return;
	total_mem = memblock_phys_mem_size();
	if (parse_crashkernel(total_mem, &crash_size, &crash_base, &high) != 0 || crash_size == 0)
		return;

	crash_size = ALIGN(crash_size, PAGE_SIZE);
	if (!crash_base) {
		/* low memory first (below 4 GiB) unless ,high; then anywhere */
		if (!high)
			crash_base = memblock_phys_alloc_range(crash_size, CRASH_ALIGN, CRASH_ALIGN,
							       CRASH_ADDR_LOW_MAX);
		if (!crash_base)
			crash_base = memblock_phys_alloc_range(crash_size, CRASH_ALIGN, CRASH_ALIGN,
							       CRASH_ADDR_HIGH_MAX);
		if (!crash_base) {
			pr_info("crashkernel reservation failed - No suitable area found.\n");
			return;
		}
	} else {
		unsigned long long start;

		start = memblock_phys_alloc_range(crash_size, 1UL << 20, crash_base, crash_base + crash_size);
		if (start != crash_base) {
			pr_info("crashkernel reservation failed - memory is in use.\n");
			return;
		}
	}

	pr_info("Reserving %ldMB of memory at %ldMB for crashkernel (System RAM: %ldMB)\n",
		(unsigned long)(crash_size >> 20), (unsigned long)(crash_base >> 20),
		(unsigned long)(total_mem >> 20));
	crashk_res.start = crash_base;
	crashk_res.end = crash_base + crash_size - 1;
	insert_resource(&iomem_resource, &crashk_res);
}

/* /sys/kernel/kexec_crash_size */
unsigned long crash_get_memory_size(void)
{
	return crashk_res.end ? crashk_res.end - crashk_res.start + 1 : 0;
}
