/*
 * entry.S - every way into the kernel and back out, in assembly.
 *
 *   startup_64                 the boot CPU's first instruction (the loader jumps here)
 *   secondary_startup_64       where a STARTUP IPI starts the other CPUs
 *   asm_exc_* / asm_sysvec_*   the IDT's targets: exceptions and system interrupts
 *   irq_entries_start          256 small stubs, one per vector, for everything else
 *   asm_exc_nmi                NMIs, on their own stack, with their own way out
 *   entry_SYSCALL_64           the `syscall` instruction's target (MSR_LSTAR)
 *   ret_from_fork              where a new task runs first
 *   __switch_to_asm            the stack switch at the heart of schedule()
 *
 * Every entry builds a struct pt_regs (ptrace.h) exactly as Linux does: the
 * CPU pushes SS, RSP, RFLAGS, CS, RIP (and an error code for some
 * exceptions); we push the error code or -1 in orig_ax, then the general
 * registers.  C code receives a pointer to it.
 *
 * GS: in the kernel, GS_BASE points at this CPU's struct pcpu (sched.h).  In
 * user mode GS_BASE is the user's, and the kernel's value waits in
 * MSR_KERNEL_GS_BASE; `swapgs` exchanges the two.  So every entry from ring 3
 * does swapgs first, and every exit to ring 3 does swapgs last.
 *
 * Unwinding: just below pt_regs every entry pushes a frame record (the
 * interrupted RBP, the interrupted RIP) and points RBP at it.  A plain walk of
 * the RBP chain therefore goes from the handler, through the entry stub, into
 * the interrupted function and on to its callers.  Entries from user mode push
 * a record of zeros, which ends the walk.  So for any frame whose return address
 * lies in [__entry_text_start, __entry_text_end), pt_regs starts 16 bytes above
 * the frame record.
 */
#include "hw.h"
#include "param.h"
#include "memlayout.h"

/* struct pt_regs (ptrace.h), offsets in bytes */
#define R15          0
#define R14          8
#define R13         16
#define R12         24
#define RBP         32
#define RBX         40
#define R11         48
#define R10         56
#define R9          64
#define R8          72
#define RAX         80
#define RCX         88
#define RDX         96
#define RSI        104
#define RDI        112
#define ORIG_RAX   120
#define RIP        128
#define CS         136
#define EFLAGS     144
#define RSP        152
#define SS         160
#define PTREGS_SIZE 168

/* offsetof(struct task_struct, thread.sp) and struct pcpu offsets (sched.h):
 * sched.c checks these numbers at compile time */
#define TASK_threadsp          352
#define PCPU_TOP_OF_STACK      8
#define PCPU_USER_RSP_SCRATCH  16

#define ENOSYS 38

#define SYM_FUNC_START(name) .globl name; .type name, @function; .p2align 4; name:
#define SYM_FUNC_END(name)   .size name, . - name

/* push the general registers below orig_ax: the lower part of struct pt_regs */
.macro PUSH_REGS
	pushq	%rdi
	pushq	%rsi
	pushq	%rdx
	pushq	%rcx
	pushq	%rax
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%rbx
	pushq	%rbp
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
.endm

.macro POP_REGS
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbp
	popq	%rbx
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rax
	popq	%rcx
	popq	%rdx
	popq	%rsi
	popq	%rdi
.endm

/*
 * With %rsp at pt_regs: push the frame record (interrupted RBP and RIP, or
 * zeros when we came from user mode), point RBP at it, and leave the pt_regs
 * pointer in %rdi for the C handler.  Clobbers %rax, %rdx (already saved).
 */
.macro FRAME_RECORD
	xorl	%eax, %eax
	xorl	%edx, %edx
	testb	$3, CS(%rsp)
	jnz	.Lfr_user_\@
	movq	RIP(%rsp), %rax
	movq	RBP(%rsp), %rdx
.Lfr_user_\@:
	pushq	%rax
	pushq	%rdx
	movq	%rsp, %rbp
	leaq	16(%rsp), %rdi
.endm

/* ====================================================================== */
/* Boot                                                                   */
/* ====================================================================== */
	.section .head.text, "ax"
	.code64

/*
 * The loader leaves us in long mode at CPL 0 with interrupts off, paging on
 * (its own tables), RSI = physical address of struct boot_params, and RSP
 * undefined.  Like Linux, the boot CPU runs on init_task's stack from the
 * first instruction: init_task becomes CPU 0's idle task ("swapper/0").
 */
SYM_FUNC_START(startup_64)
	cld
	movq	$(init_stack + THREAD_SIZE - PTREGS_SIZE), %rsp
	xorl	%ebp, %ebp			/* the end of every stack walk */
	movq	%rsi, %rdi			/* x86_64_start_kernel(boot_params_phys) */
	call	x86_64_start_kernel
1:	cli
	hlt
	jmp	1b
SYM_FUNC_END(startup_64)

/*
 * A STARTUP IPI (smp.c) starts another CPU here in long mode at CPL 0 with
 * the sender's CR3 and GDT, RSP = the top of its idle task's stack.  The
 * machine tells each CPU its number through the APIC id port.
 */
SYM_FUNC_START(secondary_startup_64)
	cld
	xorl	%ebp, %ebp
	movl	$APIC_ID_PORT, %edx
	inl	%dx, %eax
	movl	%eax, %edi
	call	secondary_start_kernel		/* main.c: never returns */
1:	cli
	hlt
	jmp	1b
SYM_FUNC_END(secondary_startup_64)

/* ====================================================================== */
/* Interrupts and exceptions                                              */
/* ====================================================================== */
	.section .entry.text, "ax"

/*
 * idtentry: an IDT target that saves pt_regs and calls cfunc(regs) or, when
 * the CPU pushed an error code, cfunc(regs, error_code).  As Linux, orig_ax
 * then holds -1: it is "no system call to restart".
 */
.macro idtentry asmsym cfunc has_error_code
SYM_FUNC_START(\asmsym)
	.if \has_error_code == 0
	pushq	$-1				/* orig_ax: no error code */
	.endif
	testb	$3, 16(%rsp)			/* CS of the hardware frame: from user? */
	jz	1f
	swapgs
1:	cld
	PUSH_REGS
	FRAME_RECORD
	.if \has_error_code
	movq	ORIG_RAX(%rdi), %rsi		/* the error code is the 2nd argument */
	movq	$-1, ORIG_RAX(%rdi)
	.endif
	call	\cfunc
	jmp	error_return
SYM_FUNC_END(\asmsym)
.endm

/* exceptions, by vector (names as Linux's arch/x86/include/asm/idtentry.h) */
idtentry asm_exc_divide_error			exc_divide_error		0	/*  0 */
idtentry asm_exc_debug				exc_debug			0	/*  1 */
idtentry asm_exc_int3				exc_int3			0	/*  3 */
idtentry asm_exc_overflow			exc_overflow			0	/*  4 */
idtentry asm_exc_bounds				exc_bounds			0	/*  5 */
idtentry asm_exc_invalid_op			exc_invalid_op			0	/*  6 */
idtentry asm_exc_device_not_available		exc_device_not_available	0	/*  7 */
idtentry asm_exc_coproc_segment_overrun		exc_coproc_segment_overrun	0	/*  9 */
idtentry asm_exc_invalid_tss			exc_invalid_tss			1	/* 10 */
idtentry asm_exc_segment_not_present		exc_segment_not_present		1	/* 11 */
idtentry asm_exc_stack_segment			exc_stack_segment		1	/* 12 */
idtentry asm_exc_general_protection		exc_general_protection		1	/* 13 */
idtentry asm_exc_page_fault			exc_page_fault			1	/* 14 */
idtentry asm_exc_spurious_interrupt_bug		exc_spurious_interrupt_bug	0	/* 15 */
idtentry asm_exc_coprocessor_error		exc_coprocessor_error		0	/* 16 */
idtentry asm_exc_alignment_check		exc_alignment_check		1	/* 17 */
idtentry asm_exc_machine_check			exc_machine_check		0	/* 18 */
idtentry asm_exc_simd_coprocessor_error		exc_simd_coprocessor_error	0	/* 19 */
idtentry asm_exc_control_protection		exc_control_protection		1	/* 21 */

/* the local APIC's own interrupts: timer and IPIs (hw.h vectors) */
idtentry asm_sysvec_apic_timer_interrupt	sysvec_apic_timer_interrupt	0
idtentry asm_sysvec_reschedule_ipi		sysvec_reschedule_ipi		0
idtentry asm_sysvec_call_function		sysvec_call_function		0
idtentry asm_sysvec_reboot			sysvec_reboot			0
idtentry asm_sysvec_spurious_apic_interrupt	sysvec_spurious_apic_interrupt	0

/*
 * One 16-byte stub per vector.  The IDT points every vector without a named
 * entry above (device interrupts like the serial port, unused vectors) at its
 * stub, which pushes the vector number where the error code goes.
 */
	.p2align 4
	.globl irq_entries_start
irq_entries_start:
	vector = 0
	.rept 256
	.p2align 4
	pushq	$vector
	jmp	asm_common_interrupt
	vector = vector + 1
	.endr
	.globl irq_entries_end
irq_entries_end:

SYM_FUNC_START(asm_common_interrupt)
	testb	$3, 16(%rsp)
	jz	1f
	swapgs
1:	cld
	PUSH_REGS
	FRAME_RECORD
	movq	ORIG_RAX(%rdi), %rsi		/* common_interrupt(regs, vector) */
	movq	$-1, ORIG_RAX(%rdi)
	call	common_interrupt
	jmp	error_return
SYM_FUNC_END(asm_common_interrupt)

/*
 * The way back from an exception or interrupt.  The C side (irqentry.c) has
 * already done the work due before user mode (reschedule, a fatal signal) and
 * left interrupts off.
 */
SYM_FUNC_START(error_return)
	addq	$16, %rsp			/* drop the frame record: %rsp = pt_regs */
	testb	$3, CS(%rsp)
	jnz	swapgs_restore_regs_and_return_to_usermode
	.globl restore_regs_and_return_to_kernel
restore_regs_and_return_to_kernel:
	POP_REGS
	addq	$8, %rsp			/* orig_ax */
	iretq
SYM_FUNC_END(error_return)

SYM_FUNC_START(swapgs_restore_regs_and_return_to_usermode)
	POP_REGS
	addq	$8, %rsp			/* orig_ax */
	swapgs
	iretq
SYM_FUNC_END(swapgs_restore_regs_and_return_to_usermode)

/*
 * NMI and double fault run on their own IST stacks (cpu.c), because they
 * can arrive anywhere: even between `syscall` and its swapgs, where CS is
 * already the kernel's but GS is still the user's.  So they cannot trust CS
 * to decide about swapgs; as Linux's paranoid_entry they read MSR_GS_BASE:
 * a kernel address (negative) means GS is already ours.  %ebx remembers
 * whether to swap back.
 */
.macro paranoid_entry
	cld
	PUSH_REGS
	movl	$MSR_GS_BASE, %ecx
	rdmsr
	xorl	%ebx, %ebx
	testl	%edx, %edx
	js	1f
	swapgs
	movl	$1, %ebx
1:
	FRAME_RECORD
.endm

.macro paranoid_exit
	addq	$16, %rsp
	testl	%ebx, %ebx
	jz	1f
	swapgs
1:	POP_REGS
	addq	$8, %rsp
.endm

/*
 * The CPU blocks further NMIs from the moment it delivers one until the next
 * iretq.  This path has exactly one iretq, at its end, so NMIs stay blocked
 * for the whole handler and are open again once we are back.
 */
SYM_FUNC_START(asm_exc_nmi)
	pushq	$-1
	paranoid_entry
	call	exc_nmi
	paranoid_exit
	iretq					/* unblocks NMIs */
SYM_FUNC_END(asm_exc_nmi)

SYM_FUNC_START(asm_exc_double_fault)
	paranoid_entry
	movq	ORIG_RAX(%rdi), %rsi
	movq	$-1, ORIG_RAX(%rdi)
	call	exc_double_fault		/* does not return */
	paranoid_exit
	iretq
SYM_FUNC_END(asm_exc_double_fault)

/* ====================================================================== */
/* System calls                                                           */
/* ====================================================================== */

/*
 * `syscall` from user mode: RCX = user RIP, R11 = user RFLAGS, IF/DF/TF
 * cleared by MSR_SYSCALL_MASK, CS/SS from MSR_STAR.  RSP is still the user's:
 * park it in the per-CPU scratch slot and load this task's kernel stack top.
 * Then build the same pt_regs the hardware would have built for an
 * interrupt, so every way back to user mode is the same iretq.
 */
SYM_FUNC_START(entry_SYSCALL_64)
	swapgs
	movq	%rsp, %gs:PCPU_USER_RSP_SCRATCH
	movq	%gs:PCPU_TOP_OF_STACK, %rsp
	pushq	$USER_DS			/* pt_regs->ss */
	pushq	%gs:PCPU_USER_RSP_SCRATCH	/* pt_regs->sp */
	pushq	%r11				/* pt_regs->flags */
	pushq	$USER_CS			/* pt_regs->cs */
	pushq	%rcx				/* pt_regs->ip */
	.globl entry_SYSCALL_64_after_hwframe
entry_SYSCALL_64_after_hwframe:
	pushq	%rax				/* pt_regs->orig_ax: the system call number */
	PUSH_REGS
	movq	$-ENOSYS, RAX(%rsp)		/* the result, until there is one */
	FRAME_RECORD
	movq	ORIG_RAX(%rdi), %rsi		/* do_syscall_64(regs, nr) */
	call	do_syscall_64
	addq	$16, %rsp
	jmp	swapgs_restore_regs_and_return_to_usermode
SYM_FUNC_END(entry_SYSCALL_64)

/* ====================================================================== */
/* Tasks                                                                  */
/* ====================================================================== */

/*
 * __switch_to_asm(prev, next): save prev's callee-saved registers on its
 * stack and its RSP in prev->thread.sp, load next's, and return on next's
 * stack to wherever next called __switch_to_asm from (or to ret_from_fork
 * for a new task).  Returns prev, as seen from next.  The frame left on a
 * switched-out stack is Linux's struct inactive_task_frame:
 *   r15, r14, r13, r12, bx, bp, return address
 * which is what crash's `bt` reads for a task that is not running.
 */
SYM_FUNC_START(__switch_to_asm)
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, TASK_threadsp(%rdi)
	movq	TASK_threadsp(%rsi), %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	movq	%rdi, %rax
	ret
SYM_FUNC_END(__switch_to_asm)

/*
 * A new task's first return from __switch_to_asm lands here (fork.c builds
 * the frame): %rax = the task we switched from, %rbx = a kernel thread's
 * function (0 for a forked user process), %r12 = its argument.  RBP is 0, so
 * stack walks stop here.  A kernel thread that returns (kernel_init after a
 * successful execve) goes to user mode with the pt_regs at the top of its
 * stack, as a forked child does at once.
 */
SYM_FUNC_START(ret_from_fork)
	movq	%rax, %rdi
	call	schedule_tail
	testq	%rbx, %rbx
	jnz	1f
2:	movq	%rsp, %rdi			/* %rsp = pt_regs at the top of the stack */
	call	syscall_exit_to_user_mode
	jmp	swapgs_restore_regs_and_return_to_usermode
1:	movq	%r12, %rdi
	call	*%rbx
	jmp	2b
SYM_FUNC_END(ret_from_fork)

	.section .note.GNU-stack, "", @progbits
