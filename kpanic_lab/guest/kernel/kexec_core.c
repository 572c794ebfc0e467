/*
 * kexec_core.c - loading a capture kernel and jumping to it (kernel/kexec.c,
 * kernel/kexec_core.c in Linux 6.1).
 *
 * kdump in two halves:
 *   load, while healthy: `kexec -p` (user space: kexec-tools) builds the
 *     segments - the capture kernel, its boot parameters and page tables, a
 *     purgatory, the ELF core header - and calls kexec_load(2) with
 *     KEXEC_ON_CRASH.  The kernel checks every segment lies inside the
 *     crashkernel= reservation, copies them there, and remembers the entry
 *     point: /sys/kernel/kexec_crash_loaded reads 1.
 *   crash: panic() (or an oops that will panic) calls __crash_kexec():
 *     save VMCOREINFO's CRASHTIME, stop the other CPUs with an NMI that makes
 *     each save its registers (machine_crash_shutdown), save our own, and
 *     jump to purgatory (machine_kexec), which checks the segments' SHA-256
 *     and starts the capture kernel.  Nothing after that returns.
 */
#include "types.h"
#include "defs.h"
#include "sched.h"
#include "errno.h"
#include "x86.h"
#include "crash_core.h"
#include "panic_stages.h"
#include "memlayout.h"

#define KEXEC_ON_CRASH         0x00000001
#define KEXEC_ARCH_MASK        0xffff0000
#define KEXEC_ARCH_X86_64      (62 << 16)
#define KEXEC_SEGMENT_MAX      16

struct kexec_segment {          /* as user space passes it (include/uapi/linux/kexec.h) */
	const void *buf;
	size_t bufsz;
	unsigned long mem;      /* physical destination */
	size_t memsz;
};

struct kimage {
	unsigned long start;            /* physical entry point (purgatory) */
	unsigned long nr_segments;
	struct kexec_segment segment[KEXEC_SEGMENT_MAX];
};

static struct kimage crash_image;
struct kimage *kexec_crash_image;   /* the loaded capture kernel, or NULL */
static int kexec_lock;

int kexec_crash_loaded(void)
{
	return kexec_crash_image != NULL;
}

/* Linux's sanity_check_segment_list() for a crash image */
static int sanity_check_segments(struct kimage *image)
{
	unsigned long mstart, mend;

	for (unsigned long i = 0; i < image->nr_segments; i++) {
		mstart = image->segment[i].mem;
		mend = mstart + image->segment[i].memsz - 1;
		if ((mstart & ~PAGE_MASK) || (image->segment[i].memsz & ~PAGE_MASK))
			return -EADDRNOTAVAIL;
		if (mend < mstart)
			return -EADDRNOTAVAIL;
		if (image->segment[i].bufsz > image->segment[i].memsz)
			return -EINVAL;
		/* a crash kernel lives in the reservation, and only there */
		if (mstart < crashk_res.start || mend > crashk_res.end)
			return -EADDRNOTAVAIL;
		for (unsigned long j = 0; j < i; j++) {
			unsigned long pstart = image->segment[j].mem;
			unsigned long pend = pstart + image->segment[j].memsz;
			if (mend >= pstart && mstart < pend)
				return -EINVAL;
		}
	}
	return 0;
}

/* kexec_load(2): only KEXEC_ON_CRASH (kdump) is supported here */
long sys_kexec_load(unsigned long entry, unsigned long nr_segments,
		    const struct kexec_segment *usegments, unsigned long flags)
{
	struct kimage *image = &crash_image;
	long ret;

	if ((flags & KEXEC_ARCH_MASK) != KEXEC_ARCH_X86_64 && (flags & KEXEC_ARCH_MASK) != 0)
		return -EINVAL;
	if (!(flags & KEXEC_ON_CRASH))
		return -EINVAL;         /* a plain kexec reboot is not part of the lab */
	if (nr_segments > KEXEC_SEGMENT_MAX)
		return -EINVAL;
	if (!crashk_res.end)
		return -ENOMEM;         /* booted without crashkernel= */
	if (__sync_lock_test_and_set(&kexec_lock, 1))
		return -EBUSY;

	kexec_crash_image = NULL;      /* unload the previous one first */
	if (nr_segments == 0) {         /* kexec -p -u: unload */
		ret = 0;
		goto out;
	}
	memset(image, 0, sizeof(*image));
	image->start = entry;
	image->nr_segments = nr_segments;
	ret = copy_from_user(image->segment, usegments, nr_segments * sizeof(struct kexec_segment));
	if (ret)
		goto out;
	ret = sanity_check_segments(image);
	if (ret)
		goto out;
	if (entry < crashk_res.start || entry > crashk_res.end) {
		ret = -EADDRNOTAVAIL;
		goto out;
	}
	/* kimage_load_crash_segment(): zero the destination, copy the buffer */
	for (unsigned long i = 0; i < nr_segments; i++) {
		struct kexec_segment *s = &image->segment[i];
		memset(__va(s->mem), 0, s->memsz);
		ret = copy_from_user(__va(s->mem), s->buf, s->bufsz);
		if (ret)
			goto out;
	}
	kexec_crash_image = image;
	ret = 0;
out:
	__sync_lock_release(&kexec_lock);
	return ret;
}

/*
 * Jump to the capture kernel if one is loaded.  panic() calls this directly
 * (it already owns panic_cpu); an oops goes through crash_kexec().
 */
void __crash_kexec(struct pt_regs *regs)
{
	struct pt_regs fixed_regs;

	if (__sync_lock_test_and_set(&kexec_lock, 1))
		return;
	if (kexec_crash_image) {
		crash_setup_regs(&fixed_regs, regs);
		crash_save_vmcoreinfo();
		machine_crash_shutdown(&fixed_regs);
		machine_kexec(kexec_crash_image);       /* does not return */
	}
	__sync_lock_release(&kexec_lock);
}

/*
 * crash_kexec() from oops_end(): only one CPU may try, the same rule as
 * panic(), so a panic() and a crash_kexec() on two CPUs cannot stop each
 * other half way.
 */
void crash_kexec(struct pt_regs *regs)
{
	int this_cpu = smp_processor_id();
	int old_cpu = __sync_val_compare_and_swap(&panic_cpu, -1, this_cpu);

	if (old_cpu == -1) {
		panic_stage(PANIC_STAGE_CRASH_KEXEC, kexec_crash_loaded(), 2);
		__crash_kexec(regs);
		/* no crash kernel took over: allow another panic()/crash_kexec() */
		panic_cpu = -1;
	}
}

/*
 * Should an oops go straight to the crash kernel?  Yes when it will panic
 * anyway (in interrupt, in init or the idle task, panic_on_oops), unless the
 * dump is wanted after the notifiers.
 */
int kexec_should_crash(struct task_struct *p)
{
	if (crash_kexec_post_notifiers)
		return 0;
	if (in_interrupt() || !p->pid || p->pid == 1 || panic_on_oops)
		return 1;
	return 0;
}

unsigned long kexec_crash_start(void)
{
	return kexec_crash_image ? kexec_crash_image->start : 0;
}
