/*
 * purgatory.c - the code between the crashed kernel and the capture kernel
 * (kexec-tools' purgatory/purgatory.c).
 *
 * Before the crash, kexec-tools computed the SHA-256 of every segment it
 * loaded (the capture kernel, its parameters, the ELF core header).  The
 * crashed kernel may have scribbled over the reserved memory since; if so,
 * booting it would only make a second crash.  So purgatory checks every
 * digest first, and stops (printing why) if one does not match.
 *
 * It runs from the direct map, position-independent, with interrupts off,
 * on its own stack; then entry.S switches to the capture kernel's page
 * tables and jumps.
 */
#include "purgatory.h"

struct purgatory_args purgatory_args __attribute__((section(".data"), used));

#define OFF(f) __builtin_offsetof(struct purgatory_args, f)
_Static_assert(OFF(entry) == 400 && OFF(cr3) == 408 && OFF(boot_params) == 416 && OFF(gdt_limit) == 432 &&
	       OFF(gdt_base) == 434, "update the PA_* offsets in entry.S");

void sha256(const u8 *data, u64 len, u8 out[32]);

static void putc_serial(char c)
{
	asm volatile("outb %0, %1" :: "a"(c), "Nd"((u16)0x3f8));
}

static void puts_serial(const char *s)
{
	while (*s)
		putc_serial(*s++);
}

static void puthex(const u8 *p, int n)
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < n; i++) {
		putc_serial(hex[p[i] >> 4]);
		putc_serial(hex[p[i] & 15]);
	}
}

/* 0 when every segment's digest matches */
int verify_sha256_digest(void)
{
	struct purgatory_args *a = &purgatory_args;
	u8 digest[32];

	if (a->magic != PURGATORY_MAGIC || a->nr_segments > PURGATORY_MAX_SEGMENTS) {
		puts_serial("purgatory: no arguments from kexec-tools\n");
		return -1;
	}
	for (u64 i = 0; i < a->nr_segments; i++) {
		const u8 *p = (const u8 *)(a->page_offset + a->segment[i].mem);
		sha256(p, a->segment[i].len, digest);
		for (int j = 0; j < 32; j++) {
			if (digest[j] != a->segment[i].sha256[j]) {
				puts_serial("sha256 digests do not match :(\n");
				puts_serial("       digest: ");
				puthex(digest, 32);
				puts_serial("\n  sha256_digest: ");
				puthex(a->segment[i].sha256, 32);
				puts_serial("\n");
				return -1;
			}
		}
	}
	return 0;
}
