/*
 * entry.S - purgatory's entry (kexec-tools' purgatory/arch/x86_64/entry64.S):
 * own stack, check the digests, switch to the capture kernel's page tables
 * and GDT, jump to its startup_64 with RSI = its boot parameters.
 * Everything is RIP-relative: it runs wherever kexec-tools put it.
 */
/* offsets in struct purgatory_args (purgatory.h; purgatory.c checks them) */
#define PA_ENTRY        400
#define PA_CR3          408
#define PA_BOOT_PARAMS  416
#define PA_GDT_LIMIT    432

	.text
	.globl purgatory_start
purgatory_start:
	cli
	cld
	leaq	purgatory_stack_end(%rip), %rsp
	call	verify_sha256_digest
	testl	%eax, %eax
	jnz	1f
	leaq	purgatory_args(%rip), %rbx
	lgdt	PA_GDT_LIMIT(%rbx)
	movq	PA_CR3(%rbx), %rax
	movq	%rax, %cr3
	movq	PA_BOOT_PARAMS(%rbx), %rsi
	movq	PA_ENTRY(%rbx), %rax
	xorl	%ebp, %ebp
	jmpq	*%rax
1:	hlt                             /* the digests do not match: stop here, interrupts off */
	jmp	1b

	.bss
	.balign 16
purgatory_stack:
	.skip	16384
purgatory_stack_end:
	.section .note.GNU-stack, "", @progbits
