/*
 * bug.h - BUG(), BUG_ON(), WARN_ON(), WARN() (include/asm-generic/bug.h,
 * arch/x86/include/asm/bug.h).
 *
 * On x86 both are the two-byte instruction ud2, which raises #UD (invalid
 * opcode).  Next to it, in section __bug_table, the compiler leaves a
 * struct bug_entry: where the ud2 is, the source file and line, and flags.
 * The #UD handler (traps.c: exc_invalid_op -> handle_bug -> report_bug) looks the faulting
 * RIP up in that table:
 *   BUG:  "kernel BUG at file:line!" and die("invalid opcode") - an oops;
 *   WARN: "WARNING: CPU: ... at file:line func+0x../0x..", registers, trace,
 *         then execution resumes after the ud2.
 * Addresses in the entry are relative to the entry itself (32 bits each), as
 * Linux's CONFIG_GENERIC_BUG_RELATIVE_POINTERS.
 */
#ifndef KPANIC_BUG_H
#define KPANIC_BUG_H
#include "taint.h"

struct bug_entry {
	int bug_addr_disp;          /* the ud2, relative to this field */
	int file_disp;              /* the file name, relative to this field */
	unsigned short line;
	unsigned short flags;
};

#define BUGFLAG_WARNING         (1 << 0)
#define BUGFLAG_ONCE            (1 << 1)
#define BUGFLAG_DONE            (1 << 2)
#define BUGFLAG_NO_CUT_HERE     (1 << 3)
#define BUGFLAG_TAINT(taint)    ((taint) << 8)
#define BUG_GET_TAINT(bug)      ((bug)->flags >> 8)

#define LEN_UD2                 2
#define CUT_HERE                "------------[ cut here ]------------\n"

enum bug_trap_type {
	BUG_TRAP_TYPE_NONE = 0,
	BUG_TRAP_TYPE_WARN = 1,
	BUG_TRAP_TYPE_BUG = 2,
};

#define _BUG_FLAGS(flags)                                                     \
	asm volatile("1:\tud2\n"                                              \
		     ".pushsection __bug_table,\"aw\"\n"                      \
		     "2:\t.long 1b - 2b\t# bug_entry::bug_addr\n"             \
		     "\t.long %c0 - 2b - 4\t# bug_entry::file\n"              \
		     "\t.word %c1\t# bug_entry::line\n"                       \
		     "\t.word %c2\t# bug_entry::flags\n"                      \
		     "\t.org 2b + %c3\n"                                      \
		     ".popsection"                                            \
		     :: "i"(__FILE__), "i"(__LINE__), "i"(flags),             \
			"i"(sizeof(struct bug_entry)))

#define BUG() do { _BUG_FLAGS(0); __builtin_unreachable(); } while (0)
#define BUG_ON(cond) do { if (unlikely(cond)) BUG(); } while (0)

#define __WARN_FLAGS(flags) _BUG_FLAGS(BUGFLAG_WARNING | (flags))
#define WARN_ON(cond) ({                                                      \
	int __ret_warn_on = !!(cond);                                         \
	if (unlikely(__ret_warn_on))                                          \
		__WARN_FLAGS(BUGFLAG_TAINT(TAINT_WARN));                      \
	unlikely(__ret_warn_on);                                              \
})
/* WARN(cond, fmt...): the message comes first, with its own "cut here" */
#define WARN(cond, ...) ({                                                    \
	int __ret_warn_on = !!(cond);                                         \
	if (unlikely(__ret_warn_on)) {                                        \
		printk(KERN_WARNING CUT_HERE);                                \
		printk(__VA_ARGS__);                                          \
		__WARN_FLAGS(BUGFLAG_NO_CUT_HERE | BUGFLAG_TAINT(TAINT_WARN)); \
	}                                                                     \
	unlikely(__ret_warn_on);                                              \
})

#endif
