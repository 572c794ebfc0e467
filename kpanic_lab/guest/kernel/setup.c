/*
 * setup.c - what the boot loader told us (arch/x86/kernel/setup.c, e820.c,
 * init/main.c's command line handling).
 *
 * setup_arch() reads struct boot_params (bootparam.h): the command line, the
 * e820 memory map; it turns the map into memblock ranges (memblock.c) and
 * into the resource tree /proc/iomem shows (resource.c), reserves what is
 * already in use, and applies the command-line parameters the panic path
 * depends on:
 *   panic=N                     seconds before rebooting after a panic (0: never, <0: at once)
 *   oops=panic                  turn every oops into a panic (there is no
 *                               panic_on_oops= in 6.1: it is passed to user
 *                               space as unknown; sysctl.kernel.panic_on_oops=1 works)
 *   panic_on_warn=N             turn every WARN() into a panic
 *   panic_print=N               what panic() prints besides (tasks, memory, the whole log)
 *   reboot=panic_warm (cold...)  panic_reboot_mode: the reboot mode panic() restarts with
 *   crash_kexec_post_notifiers  run the panic notifiers before the crash kernel
 *   nr_cpus=N                   use at most N CPUs
 *   sysctl.kernel.<name>=V      set a sysctl at boot (Linux 5.8+)
 * Anything else without a '.' in its name is reported, as Linux does, as
 * "Unknown kernel command line parameters" and left for user space.
 */
#include "types.h"
#include "crash_core.h"
#include "param.h"
#include "defs.h"
#include "bootparam.h"
#include "memlayout.h"
#include "memblock.h"
#include "ioport.h"
#include "mm.h"

char boot_command_line[COMMAND_LINE_SIZE];
char saved_command_line[COMMAND_LINE_SIZE];
unsigned long nr_cpu_ids = 1;

/* The e820 table, as the firmware gave it and as the kernel updated it. */
struct e820_table {
	unsigned long nr_entries;
	struct boot_e820_entry entries[E820_MAX_ENTRIES];
} e820_table;

/* ---- the command line -------------------------------------------------- */

#define MAX_PARAMS 64
static struct kernel_param {
	char name[64];
	char val[192];
	bool has_val;
} params[MAX_PARAMS];
static int nr_params;

/* Split the command line into name[=value] words; "quoted values" may hold spaces. */
static void parse_cmdline(const char *s)
{
	nr_params = 0;
	while (*(s = skip_spaces(s)) && nr_params < MAX_PARAMS) {
		struct kernel_param *p = &params[nr_params++];
		size_t n = 0;
		bool quoted = false;

		while (*s && *s != '=' && *s != ' ' && n < sizeof(p->name) - 1)
			p->name[n++] = *s++;
		p->name[n] = 0;
		n = 0;
		p->has_val = *s == '=';
		if (*s == '=')
			s++;
		while (*s && (quoted || *s != ' ')) {
			if (*s == '"')
				quoted = !quoted;
			else if (n < sizeof(p->val) - 1)
				p->val[n++] = *s;
			s++;
		}
		p->val[n] = 0;
	}
}

/* The value of name= ("" for a bare flag), or NULL when absent.  The last one wins. */
const char *cmdline_get(const char *name)
{
	for (int i = nr_params - 1; i >= 0; i--)
		if (!strcmp(params[i].name, name))
			return params[i].val;
	return NULL;
}

static bool is_known_param(const char *name)
{
	static const char *const known[] = {
		"console", "panic", "panic_on_warn", "panic_print", "oops", "reboot", "nr_cpus", "maxcpus",
		"crash_kexec_post_notifiers", "lab_notifiers", "crashkernel", "elfcorehdr", "quiet", "loglevel",
		"debug", "ignore_loglevel", "init", "rdinit", "root", "ro", "rw", "nokaslr",
		"reset_devices", "irqpoll", "nosmp", "earlyprintk", "BOOT_IMAGE", "slub_debug",
	};
	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (!strcmp(name, known[i]))
			return true;
	return strchr(name, '.') != NULL;   /* module.param= and sysctl.x.y= are never "unknown" */
}

static int param_int(const char *v)
{
	return (int)simple_strtol(v, NULL, 0);
}

/* sysctl.kernel.<name>=<value> from the command line (proc.c knows the table) */
static void apply_sysctl_param(const char *name, const char *val)
{
	if (strncmp(name, "sysctl.", 7))
		return;
	char path[80];
	scnprintf(path, sizeof(path), "%s", name + 7);
	for (char *c = path; *c; c++)
		if (*c == '.')
			*c = '/';
	if (sysctl_set_from_cmdline(path, val) < 0)
		pr_warn("Failed to set sysctl parameter '%s=%s': parameter not found\n", name + 7, val);
}

static void parse_early_param(void)
{
	const char *v;

	if ((v = cmdline_get("panic")))
		panic_timeout = param_int(v);
	/* oops=panic is an early_param (kernel/panic.c oops_setup) */
	if ((v = cmdline_get("oops")) && !strcmp(v, "panic"))
		panic_on_oops = 1;
	if ((v = cmdline_get("panic_print")))
		panic_print = simple_strtoul(v, NULL, 0);
	/* reboot=panic_<mode> (kernel/reboot.c reboot_setup): how panic() restarts; one reset here */
	if ((v = cmdline_get("reboot")) && !strncmp(v, "panic_", 6)) {
		static const char *const modes[] = { "cold", "warm", "hard", "soft", "gpio" };
		for (int i = 0; i < (int)ARRAY_SIZE(modes); i++)
			if (!strncmp(v + 6, modes[i], 1))
				panic_reboot_mode = i;
	}
	if ((v = cmdline_get("panic_on_warn")))
		panic_on_warn = *v ? param_int(v) : 1;
	if (cmdline_get("crash_kexec_post_notifiers"))
		crash_kexec_post_notifiers = 1;
	if ((v = cmdline_get("loglevel")))
		console_loglevel = param_int(v);
	if (cmdline_get("quiet"))
		console_loglevel = 4;
	if (cmdline_get("debug"))
		console_loglevel = 10;
	for (int i = 0; i < nr_params; i++)
		apply_sysctl_param(params[i].name, params[i].val);
}

static bool cmdline_reported;

/*
 * "Kernel command line:" and the unknown parameters, printed where Linux's
 * start_kernel() prints them (after the memory map, before "Memory:").
 * mem_init() calls it if main.c has not.
 */
void setup_command_line(void)
{
	char unknown[COMMAND_LINE_SIZE];
	size_t n = 0;

	if (cmdline_reported)
		return;
	cmdline_reported = true;
	pr_notice("Kernel command line: %s\n", saved_command_line);
	unknown[0] = 0;
	for (int i = 0; i < nr_params; i++) {
		if (is_known_param(params[i].name))
			continue;
		n += scnprintf(unknown + n, sizeof(unknown) - n, "%s%s%s%s", n ? " " : "",
			       params[i].name, params[i].has_val ? "=" : "", params[i].val);
	}
	if (n)
		pr_notice("Unknown kernel command line parameters \"%s\", will be passed to user space.\n",
			  unknown);
}

/* ---- the e820 memory map ----------------------------------------------- */

static const char *e820_type_name(unsigned long long type)
{
	return type == E820_TYPE_RAM ? "usable" : "reserved";
}

static void e820_print_table(const char *who)
{
	for (unsigned long i = 0; i < e820_table.nr_entries; i++) {
		struct boot_e820_entry *e = &e820_table.entries[i];
		pr_info("%s: [mem %#018Lx-%#018Lx] %s\n", who, e->addr, e->addr + e->size - 1,
			e820_type_name(e->type));
	}
}

/*
 * Page 0 holds the BIOS data area on a PC; Linux never uses it
 * (trim_bios_range): turn it into a reserved e820 entry of its own.
 */
static void e820_reserve_page0(void)
{
	struct boot_e820_entry *e = &e820_table.entries[0];
	if (!e820_table.nr_entries || e->addr != 0 || e->type != E820_TYPE_RAM || e->size <= PAGE_SIZE ||
	    e820_table.nr_entries == E820_MAX_ENTRIES)
		return;
	pr_info("e820: update [mem 0x00000000-0x00000fff] usable ==> reserved\n");
	memmove(&e820_table.entries[1], &e820_table.entries[0],
		e820_table.nr_entries * sizeof(*e));
	e820_table.nr_entries++;
	e820_table.entries[0].size = PAGE_SIZE;
	e820_table.entries[0].type = E820_TYPE_RESERVED;
	e820_table.entries[1].addr = PAGE_SIZE;
	e820_table.entries[1].size -= PAGE_SIZE;
}

extern char _text[], _etext[], __start_rodata[], __end_rodata[], _sdata[], _edata[];
extern char __bss_start[], __bss_stop[];

/* The e820 ranges and the kernel's own sections, into iomem_resource. */
static void e820_reserve_resources(void)
{
	for (unsigned long i = 0; i < e820_table.nr_entries; i++) {
		struct boot_e820_entry *e = &e820_table.entries[i];
		bool ram = e->type == E820_TYPE_RAM;
		struct resource *r = alloc_resource(ram ? "System RAM" : "Reserved", e->addr,
						    e->addr + e->size - 1,
						    IORESOURCE_MEM | (ram ? IORESOURCE_SYSTEM_RAM : 0));
		if (r)
			insert_resource(&iomem_resource, r);
	}
	static const struct { const char *name; char *start, *end; } kernel_res[] = {
		{ "Kernel code", _text, _etext },
		{ "Kernel rodata", __start_rodata, __end_rodata },
		{ "Kernel data", _sdata, _edata },
		{ "Kernel bss", __bss_start, __bss_stop },
	};
	for (size_t i = 0; i < ARRAY_SIZE(kernel_res); i++) {
		struct resource *r = alloc_resource(kernel_res[i].name, __pa(kernel_res[i].start),
						    __pa(kernel_res[i].end) - 1,
						    IORESOURCE_MEM | IORESOURCE_SYSTEM_RAM);
		if (r)
			insert_resource(&iomem_resource, r);
	}
}

static void e820_memblock_setup(struct boot_params *bp)
{
	u64 last = 0;

	for (unsigned long i = 0; i < e820_table.nr_entries; i++) {
		struct boot_e820_entry *e = &e820_table.entries[i];
		if (e->type != E820_TYPE_RAM)
			continue;
		memblock_add(e->addr, e->size);
		if (e->addr + e->size > last)
			last = e->addr + e->size;
	}
	max_pfn = last >> PAGE_SHIFT;
	pr_info("last_pfn = 0x%lx max_arch_pfn = 0x400000000\n", max_pfn);

	/* what is in use already */
	memblock_reserve(0, 0x100000);      /* page 0, BIOS areas, the boot params: the low 1 MiB */
	memblock_reserve(bp->kernel_start, bp->kernel_end - bp->kernel_start);
	if (bp->boot_pgt_end > bp->boot_pgt_start)
		memblock_reserve(bp->boot_pgt_start, bp->boot_pgt_end - bp->boot_pgt_start);
}

void setup_arch(struct boot_params *bp)
{
	if (bp->magic != BOOT_PARAMS_MAGIC)
		pr_warn("boot_params: bad magic %llx\n", bp->magic);

	strscpy(boot_command_line, bp->cmdline, COMMAND_LINE_SIZE);
	strscpy(saved_command_line, boot_command_line, COMMAND_LINE_SIZE);
	pr_info("Command line: %s\n", boot_command_line);
	parse_cmdline(boot_command_line);

	e820_table.nr_entries = min(bp->e820_entries, (unsigned long long)E820_MAX_ENTRIES);
	memcpy(e820_table.entries, bp->e820, e820_table.nr_entries * sizeof(bp->e820[0]));
	pr_info("BIOS-provided physical RAM map:\n");
	e820_print_table("BIOS-e820");
	e820_reserve_page0();

	parse_early_param();

	e820_memblock_setup(bp);
	reserve_elfcorehdr();   /* a capture kernel: keep the old kernel's ELF core header (vmcore.c) */
	e820_reserve_resources();
	reserve_crashkernel();  /* crashkernel=: "Reserving 192MB of memory at ..." (crash_reserve.c) */

	nr_cpu_ids = bp->nr_cpus ? bp->nr_cpus : 1;
	const char *v = cmdline_get("nr_cpus");
	if (v && *v && simple_strtoul(v, NULL, 0) >= 1 && simple_strtoul(v, NULL, 0) < nr_cpu_ids)
		nr_cpu_ids = simple_strtoul(v, NULL, 0);
	if (cmdline_get("nosmp"))
		nr_cpu_ids = 1;
	if (nr_cpu_ids > NR_CPUS)
		nr_cpu_ids = NR_CPUS;

	/* "Kernel Offset:" on panic, and the lab's other built-in panic notifiers */
	register_panic_notifiers();

	/* struct page for every page frame, all reserved until mem_init frees them */
	memmap_init();
}
