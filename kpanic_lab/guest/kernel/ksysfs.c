/*
 * ksysfs.c - the few /sys files kdump's user space reads (kernel/ksysfs.c,
 * drivers/base/cpu.c in Linux).
 *
 *   /sys/kernel/kexec_crash_loaded     1 once `kexec -p` loaded a capture kernel
 *   /sys/kernel/kexec_crash_size       bytes reserved by crashkernel=
 *   /sys/kernel/vmcoreinfo             "<physical address> <size>" of the VMCOREINFO note
 *   /sys/devices/system/cpu/cpuN/crash_notes       physical address of CPU N's note buffer
 *   /sys/devices/system/cpu/cpuN/crash_notes_size  its size
 * kexec-tools reads the last three to build the ELF core header.
 */
#include "types.h"
#include "param.h"
#include "defs.h"
#include "fs.h"
#include "proc_fs.h"
#include "crash_core.h"

static struct super_block sysfs_sb = { .s_type = "sysfs", .s_dev = 0x15 };

static int kexec_crash_loaded_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%d\n", kexec_crash_loaded());
	return 0;
}

static int kexec_crash_size_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%lu\n", crash_get_memory_size());
	return 0;
}

static int vmcoreinfo_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%lx %x\n", paddr_vmcoreinfo_note(), (unsigned int)VMCOREINFO_NOTE_SIZE);
	return 0;
}

static int crash_notes_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%lx\n", paddr_crash_notes((int)(unsigned long)v));
	return 0;
}

static int crash_notes_size_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%lu\n", (unsigned long)sizeof(struct crash_note_buf));
	return 0;
}

void ksysfs_init(void)
{
	static char names[NR_CPUS][8];
	struct inode *kernel = mkdir_p("/sys/kernel", &sysfs_sb);

	proc_create_single("kexec_crash_loaded", 0444, kernel, kexec_crash_loaded_show);
	proc_create_single("kexec_crash_size", 0444, kernel, kexec_crash_size_show);
	proc_create_single("vmcoreinfo", 0444, kernel, vmcoreinfo_show);
	for (unsigned long cpu = 0; cpu < nr_cpu_ids; cpu++) {
		struct proc_dir_entry *pde;
		snprintf(names[cpu], sizeof(names[cpu]), "cpu%lu", cpu);
		struct inode *dir = mkdir_p("/sys/devices/system/cpu", &sysfs_sb);
		struct inode *c = proc_mkdir(names[cpu], dir);
		pde = proc_create_single("crash_notes", 0444, c, crash_notes_show);
		pde->data = (void *)cpu;
		proc_create_single("crash_notes_size", 0444, c, crash_notes_size_show);
	}
}
