/*
 * kallsyms.c - the running kernel's symbol table (kernel/kallsyms.c).
 *
 * The tables live in section .kallsyms, generated from the linked image by
 * scripts/kallsyms.py (see the Makefile: link, nm, generate, link again).
 * They hold text symbols only, sorted by address, each with Linux's idea of
 * its size (the distance to the next symbol), so an address prints the way
 * Linux prints it: "panic+0x118/0x2f4".  Module text lies in ranges of its
 * own (__mod_<name>_text_start/_end); an address in one gets " [name]".
 */
#include "types.h"
#include "defs.h"

extern const unsigned long kallsyms_num_syms;
extern const unsigned long kallsyms_addresses[];
extern const u32 kallsyms_sizes[];
extern const u32 kallsyms_name_offsets[];
extern const char kallsyms_names[];
extern const unsigned long kallsyms_num_mods;
extern const struct { unsigned long start, end, data_end, name; } kallsyms_mods[];
extern char _stext[], _etext[];

/* Is addr in the kernel's (or a built-in module's) text? (__kernel_text_address) */
bool kernel_text_address(unsigned long addr)
{
	if (addr < (unsigned long)_stext || addr >= (unsigned long)_etext)
		return false;
	for (unsigned long i = 0; i < kallsyms_num_mods; i++)     /* a module's data is not text */
		if (addr >= kallsyms_mods[i].end && addr < kallsyms_mods[i].data_end)
			return false;
	return true;
}

/* The module whose text holds addr, or NULL. */
const char *kallsyms_module_name(unsigned long addr, unsigned long *base)
{
	for (unsigned long i = 0; i < kallsyms_num_mods; i++) {
		if (addr >= kallsyms_mods[i].start && addr < kallsyms_mods[i].end) {
			if (base)
				*base = kallsyms_mods[i].start;
			return kallsyms_names + kallsyms_mods[i].name;
		}
	}
	return NULL;
}

/* The range a built-in module was linked at (its "core layout"): 0 if unknown. */
int kallsyms_module_range(const char *name, unsigned long *start, unsigned long *text_end,
			  unsigned long *end)
{
	for (unsigned long i = 0; i < kallsyms_num_mods; i++) {
		if (strcmp(kallsyms_names + kallsyms_mods[i].name, name))
			continue;
		*start = kallsyms_mods[i].start;
		*text_end = kallsyms_mods[i].end;
		*end = kallsyms_mods[i].data_end;
		return 1;
	}
	return 0;
}

/* Index of the symbol containing addr (the first alias), or -1. */
static long get_symbol_pos(unsigned long addr)
{
	unsigned long lo = 0, hi = kallsyms_num_syms;

	if (!kernel_text_address(addr) || !kallsyms_num_syms || addr < kallsyms_addresses[0])
		return -1;
	while (hi - lo > 1) {                   /* last entry with address <= addr */
		unsigned long mid = lo + (hi - lo) / 2;
		if (kallsyms_addresses[mid] <= addr)
			lo = mid;
		else
			hi = mid;
	}
	while (lo > 0 && kallsyms_addresses[lo - 1] == kallsyms_addresses[lo])
		lo--;                               /* the preferred alias is the first */
	if (addr - kallsyms_addresses[lo] >= kallsyms_sizes[lo])
		return -1;                          /* past the end of the text it knows */
	return (long)lo;
}

const char *kallsyms_lookup(unsigned long addr, unsigned long *size, unsigned long *offset,
			    const char **modname)
{
	long i = get_symbol_pos(addr);
	if (modname)
		*modname = NULL;
	if (i < 0)
		return NULL;
	if (size)
		*size = kallsyms_sizes[i];
	if (offset)
		*offset = addr - kallsyms_addresses[i];
	if (modname)
		*modname = kallsyms_module_name(addr, NULL);
	return kallsyms_names + kallsyms_name_offsets[i];
}

unsigned long kallsyms_lookup_name(const char *name)
{
	for (unsigned long i = 0; i < kallsyms_num_syms; i++)
		if (!strcmp(kallsyms_names + kallsyms_name_offsets[i], name))
			return kallsyms_addresses[i];
	return 0;
}

static int __sprint_symbol(char *buf, unsigned long addr, bool add_offset)
{
	unsigned long size, offset;
	const char *modname;
	const char *name = kallsyms_lookup(addr, &size, &offset, &modname);
	int len;

	if (!name)
		return sprintf(buf, "0x%lx", addr);
	if (add_offset)
		len = sprintf(buf, "%s+%#lx/%#lx", name, offset, size);
	else
		len = sprintf(buf, "%s", name);
	if (modname)
		len += sprintf(buf + len, " [%s]", modname);
	return len;
}

/*
 * A return address, for a backtrace (Linux's sprint_backtrace, %pB): a call
 * to a noreturn function (panic) can be the last instruction of a function,
 * so its return address is already the NEXT function.  Look up addr - 1,
 * then print the offset of addr itself: "my_panic_init+0x4b/0x4b [my_panic]".
 */
int sprint_backtrace(char *buf, unsigned long addr)
{
	unsigned long size, offset;
	const char *modname;
	const char *name = kallsyms_lookup(addr - 1, &size, &offset, &modname);
	int len;

	if (!name)
		return sprintf(buf, "0x%lx", addr);
	len = sprintf(buf, "%s+%#lx/%#lx", name, offset + 1, size);
	if (modname)
		len += sprintf(buf + len, " [%s]", modname);
	return len;
}

/* "panic+0x118/0x2f4", "lab_oops_write+0x2b/0x3c [lab_oops]", or "0x47b7a0" */
int sprint_symbol(char *buf, unsigned long addr)
{
	return __sprint_symbol(buf, addr, true);
}

/* "panic", "lab_oops_write [lab_oops]" */
int sprint_symbol_no_offset(char *buf, unsigned long addr)
{
	return __sprint_symbol(buf, addr, false);
}
