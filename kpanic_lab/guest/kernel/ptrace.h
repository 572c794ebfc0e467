/*
 * ptrace.h - struct pt_regs: the registers saved on kernel entry, in Linux's
 * x86-64 layout (arch/x86/include/asm/ptrace.h), so that crash, gdb and the
 * lab's own tools read the same frame the real kernel would leave.
 */
#ifndef KPANIC_PTRACE_H
#define KPANIC_PTRACE_H
#include "types.h"

struct pt_regs {
	unsigned long r15, r14, r13, r12, bp, bx;   /* callee-saved: pushed last */
	unsigned long r11, r10, r9, r8, ax, cx, dx, si, di;
	unsigned long orig_ax;   /* syscall number, error code, or ~vector */
	unsigned long ip, cs, flags, sp, ss;        /* the hardware frame */
};

#define X86_EFLAGS_IF   0x200
#define user_mode(regs) (((regs)->cs & 3) == 3)

#endif
