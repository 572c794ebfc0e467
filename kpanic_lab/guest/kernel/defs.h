/*
 * defs.h - every function one file offers another, grouped by file (as xv6).
 * A student looking for "who calls panic()?" greps here first.
 */
#ifndef KPANIC_DEFS_H
#define KPANIC_DEFS_H
#include "types.h"
#include "list.h"
#include "ptrace.h"

struct task_struct;
struct page;
struct file;
struct boot_params;
struct notifier_block;
struct module;

/* ---- main.c: the boot sequence ------------------------------------ */
extern const char linux_banner[];                   /* "Linux version ..." (version.c) */
extern const char linux_proc_banner[];              /* its format, for /proc/version */
void start_kernel(struct boot_params *bp);
void secondary_start_kernel(int cpu);

/* ---- head64.c: the first C code -------------------------------------- */
extern struct boot_params kernel_boot_params;        /* the kernel's copy of the loader's */
void x86_64_start_kernel(unsigned long boot_params_phys) __noreturn;

/* ---- setup.c: boot parameters, e820, command line, resources ------ */
extern char boot_command_line[];
extern char saved_command_line[];
extern unsigned long nr_cpu_ids;
void setup_arch(struct boot_params *bp);
const char *cmdline_get(const char *name);       /* value of name=, "" for a bare flag, NULL if absent */
void print_iomem(void (*emit)(void *ctx, const char *s), void *ctx);
void setup_command_line(void);      /* "Kernel command line:", unknown parameters (else mem_init does it) */

/* ---- memblock.c / page_alloc.c / slab.c: memory ------------------- */
void *memblock_alloc(unsigned long size, unsigned long align);
void mem_init(void);
struct page *alloc_pages(unsigned int order);
void __free_pages(struct page *page, unsigned int order);
void *get_zeroed_page(void);
void free_page(void *addr);
void *kmalloc(size_t size);
void *kzalloc(size_t size);
void kfree(void *p);
unsigned long nr_free_pages(void);
void memmap_init(void);                     /* mem_map, every page reserved (setup_arch) */
extern unsigned long totalram_pages;

/* ---- string.c ------------------------------------------------------ */
void *memset(void *s, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t n);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strcpy(char *d, const char *s);
size_t strscpy(char *d, const char *s, size_t n);
char *strchr(const char *s, int c);
char *strstr(const char *h, const char *n);
long simple_strtol(const char *s, char **end, unsigned int base);
unsigned long simple_strtoul(const char *s, char **end, unsigned int base);
unsigned long long memparse(const char *s, char **end);   /* "192M", "1G", as lib/cmdline.c */
char *strrchr(const char *s, int c);
size_t strcspn(const char *s, const char *reject);
char *skip_spaces(const char *s);

/* ---- vsprintf.c / printk.c / serial.c: the console ---------------- */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __printf(3, 4);
int scnprintf(char *buf, size_t size, const char *fmt, ...) __printf(3, 4);
int vscnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int sprintf(char *buf, const char *fmt, ...) __printf(2, 3);
int _printk(const char *fmt, ...) __printf(1, 2);
int vprintk(const char *fmt, va_list ap);
#define printk _printk
#define KERN_SOH     "\001"
#define KERN_EMERG   KERN_SOH "0"
#define KERN_ALERT   KERN_SOH "1"
#define KERN_CRIT    KERN_SOH "2"
#define KERN_ERR     KERN_SOH "3"
#define KERN_WARNING KERN_SOH "4"
#define KERN_NOTICE  KERN_SOH "5"
#define KERN_INFO    KERN_SOH "6"
#define KERN_DEBUG   KERN_SOH "7"
#define KERN_DEFAULT ""
#define KERN_CONT    KERN_SOH "c"
#define pr_emerg(...)  printk(KERN_EMERG __VA_ARGS__)
#define pr_alert(...)  printk(KERN_ALERT __VA_ARGS__)
#define pr_crit(...)   printk(KERN_CRIT __VA_ARGS__)
#define pr_err(...)    printk(KERN_ERR __VA_ARGS__)
#define pr_warn(...)   printk(KERN_WARNING __VA_ARGS__)
#define pr_notice(...) printk(KERN_NOTICE __VA_ARGS__)
#define pr_info(...)   printk(KERN_INFO __VA_ARGS__)
#define pr_cont(...)   printk(KERN_CONT __VA_ARGS__)
void console_init(void);
enum con_flush_mode { CONSOLE_FLUSH_PENDING, CONSOLE_REPLAY_ALL };
void console_flush_on_panic(enum con_flush_mode mode);
extern int suppress_printk;
void serial_putc(char c);
int serial_getc(void);                 /* -1 when no byte is waiting */
void console_input_irq(void);          /* serial interrupt: move bytes into the tty buffer */
long tty_read(char *buf, long n);      /* blocks (sleeps) until a line is available */
long tty_write(const char *buf, long n);
/* console_input_irq() is the SERIAL_VECTOR handler: common_interrupt (irqentry.c) calls it */
extern int console_loglevel;
extern int oops_in_progress;
void console_verbose(void);                 /* print everything from now on (oops, panic) */
void bust_spinlocks(int yes);
void console_write_user(const char *s, size_t n);   /* bytes to the console, under the printk lock */
size_t log_buf_copy(char *buf, size_t size);        /* the log as text, oldest first */

/* ---- kallsyms.c: symbols of the running kernel --------------------- */
const char *kallsyms_lookup(unsigned long addr, unsigned long *size, unsigned long *offset, const char **modname);
unsigned long kallsyms_lookup_name(const char *name);
int sprint_symbol(char *buf, unsigned long addr);   /* "panic+0x118/0x2f4 [mod]" */
int sprint_symbol_no_offset(char *buf, unsigned long addr);   /* "panic [mod]" */
int sprint_backtrace(char *buf, unsigned long addr);          /* a return address (%pB) */
bool kernel_text_address(unsigned long addr);
const char *kallsyms_module_name(unsigned long addr, unsigned long *base);
int kallsyms_module_range(const char *name, unsigned long *start, unsigned long *text_end, unsigned long *end);

/* ---- maccess.c: reading memory that may not be mapped -------------- */
int walk_page_table(unsigned long addr, unsigned long vals[4], bool *present, bool *user);
bool range_mapped(unsigned long addr, size_t n, bool want_user);
long copy_from_kernel_nofault(void *dst, const void *src, size_t n);
bool read_word_nofault(unsigned long addr, unsigned long *val);
long copy_from_user(void *dst, const void *usrc, size_t n);          /* 0 or -EFAULT */
long copy_to_user(void *udst, const void *src, size_t n);
long strncpy_from_user(char *dst, const char *usrc, size_t n);       /* length or -EFAULT */

/* ---- head64.c / traps.c / idt: CPU setup and exceptions ----------- */
void cpu_init(int cpu);                /* GDT with TSS, IDT load, MSRs (syscall, GS), per CPU */
void update_task_stack(struct task_struct *t);      /* cpu.c: TSS.sp0 = t's stack top (context switch) */
#define IST_INDEX_DF   0                   /* cpu.c: TSS.ist[] slots (the IDT gate says index + 1) */
#define IST_INDEX_NMI  1
void idt_setup(void);                  /* idt.c: fill the IDT (once) */
void load_idt(void);                   /* idt.c: lidt (each CPU) */
/* irqentry.c: the C half of entries (exc_*, sysvec_*, common_interrupt are called from entry.S) */
void exit_to_user_mode_prepare(struct pt_regs *regs);   /* reschedule / fatal signal before iretq */
void syscall_exit_to_user_mode(struct pt_regs *regs);
void trap_init(void);
void do_page_fault(struct pt_regs *regs, unsigned long error_code);
bool handle_bug(struct pt_regs *regs);              /* traps.c: ud2 of WARN() (report_bug) */
void irqentry_exit(struct pt_regs *regs);          /* irqentry.c: what is due before returning */
/* softirq.c */
#define TIMER_SOFTIRQ 1
#define NR_SOFTIRQS   10
struct softirq_action;
void open_softirq(int nr, void (*action)(struct softirq_action *));
void raise_softirq_irqoff(unsigned int nr);
void __irq_exit_rcu(void);
void init_timers(void);                             /* timer.c: TIMER_SOFTIRQ */
void do_general_protection(struct pt_regs *regs, unsigned long error_code);
void do_divide_error(struct pt_regs *regs);
void do_int3(struct pt_regs *regs);
void do_nmi(struct pt_regs *regs);
/* the arch code's demand paging of user memory (0: mapped, retry); weak default: none */
int handle_mm_fault(unsigned long address, unsigned long error_code);
int register_nmi_handler(int (*handler)(unsigned int type, struct pt_regs *regs), const char *name);
void unregister_nmi_handler(const char *name);

/* ---- dumpstack.c: the oops ----------------------------------------- */
extern int panic_on_oops;
extern int oops_count;
extern int oops_limit;                      /* kernel.oops_limit */
extern int warn_limit;                      /* kernel.warn_limit */
extern int warn_count;
extern unsigned long panic_print;           /* kernel.panic_print */
extern int panic_reboot_mode;
void show_state(void);                      /* sysrq.c: every task (sysrq t, panic_print 0x1) */
void show_mem(void);                        /* sysrq.c: Mem-Info (sysrq m, panic_print 0x2) */
unsigned long oops_begin(void);
void oops_end(unsigned long flags, struct pt_regs *regs, int signr);
int __die(const char *str, struct pt_regs *regs, long err);
void die(const char *str, struct pt_regs *regs, long err);
void show_regs(struct pt_regs *regs);
void show_stack(struct task_struct *task, unsigned long *sp, const char *loglvl);
void dump_stack(void);
void dump_stack_lvl(const char *loglvl);
void make_task_dead(int signr) __noreturn;
enum show_regs_mode { SHOW_REGS_SHORT, SHOW_REGS_USER, SHOW_REGS_ALL };
void __show_regs(struct pt_regs *regs, enum show_regs_mode mode, const char *log_lvl);
void show_iret_regs(struct pt_regs *regs, const char *log_lvl);
void show_opcodes(struct pt_regs *regs, const char *loglvl);
void dump_stack_print_info(const char *log_lvl);
/* unwind_frame.c: the Call Trace */
void show_trace_log_lvl(struct task_struct *task, struct pt_regs *regs, unsigned long *stack, const char *log_lvl);

/* ---- panic.c: the end ---------------------------------------------- */
extern int panic_timeout;
extern int panic_on_warn;
extern int crash_kexec_post_notifiers;
extern int panic_cpu;
extern unsigned long tainted_mask;
extern struct atomic_notifier_head panic_notifier_list;
void panic(const char *fmt, ...) __noreturn __cold __printf(1, 2);
void nmi_panic(struct pt_regs *regs, const char *msg);
void add_taint(unsigned flag, int lockdep_ok);
const char *print_tainted(void);
void __warn(const char *file, int line, void *caller, unsigned taint, struct pt_regs *regs);
void emergency_restart(void) __noreturn;
void machine_power_off(void) __noreturn;
void __crash_kexec(struct pt_regs *regs);
void crash_kexec(struct pt_regs *regs);
int kexec_crash_loaded(void);
int kexec_should_crash(struct task_struct *p);
void crash_smp_send_stop(void);                      /* machine_kexec.c: NMI the others, save their registers */
struct kimage;
struct kexec_segment;
long sys_kexec_load(unsigned long entry, unsigned long nr_segments, const struct kexec_segment *segments,
		    unsigned long flags);                /* kexec_core.c: kexec_load(2) */
unsigned long kexec_crash_start(void);
void crash_setup_regs(struct pt_regs *newregs, struct pt_regs *oldregs);
void machine_crash_shutdown(struct pt_regs *regs);
void machine_kexec(struct kimage *image) __noreturn;
void ksysfs_init(void);                              /* ksysfs.c: /sys/kernel, /sys/devices/system/cpu */
void vmcore_init(void);                              /* vmcore.c: /proc/vmcore in a capture kernel */
void reserve_elfcorehdr(void);                       /* vmcore.c: keep elfcorehdr= out of the allocator */
int is_kdump_kernel(void);
int test_taint(unsigned flag);
int taint_letters(unsigned long mask, char *buf);   /* "OE" */
void check_panic_on_warn(const char *origin);
void print_oops_end_marker(void);
/* kmsg_dump.c (kmsg_dump.h): the dumper list panic() walks */

/* ---- notifier.c ---------------------------------------------------- */
int atomic_notifier_chain_register(struct atomic_notifier_head *nh, struct notifier_block *nb);
int atomic_notifier_chain_unregister(struct atomic_notifier_head *nh, struct notifier_block *nb);
int atomic_notifier_call_chain(struct atomic_notifier_head *nh, unsigned long val, void *v);
void register_lab_notifiers(void);                   /* lab_notifier.c: lab_notifiers=PRIO,... (Python) */
void register_panic_notifiers(void);                /* the built-in ones (setup_arch) */

/* ---- apic.c / time.c: interrupts, timer, clock --------------------- */
extern volatile unsigned long jiffies;
#define INITIAL_JIFFIES ((unsigned long)(unsigned int)(-300 * HZ))   /* as Linux: wraps 5 min after boot */
void apic_init(int cpu);
void apic_eoi(void);
void apic_send_ipi(int cpu, int vector);            /* cpu = ICR_ALL_BUT_SELF for all others */
void apic_send_nmi(int cpu);
void apic_send_init(int cpu);                        /* park a CPU (before a STARTUP) */
void apic_send_startup(int cpu, void (*entry)(void), unsigned long sp);
void disable_local_APIC(void);                       /* stop this CPU's timer */
void timer_interrupt(struct pt_regs *regs);
void sched_clock_init(void);                         /* local_clock() counts from this call */
u64 local_clock(void);                               /* ns since boot */
void udelay(unsigned long us);
void mdelay(unsigned long ms);

/* ---- smp.c: other CPUs --------------------------------------------- */
/* the online CPUs' bitmap: Linux's __cpu_online_mask (a struct cpumask, one word here), which
 * crash reads by that name; the guest's code uses it by value through the usual name */
extern unsigned long __cpu_online_mask;
#define cpu_online_mask __cpu_online_mask
int num_online_cpus(void);
void smp_init(void);
void smp_send_stop(void);
void smp_send_reschedule(int cpu);
void smp_call_function(void (*fn)(void *), void *info, int wait);
void panic_smp_self_stop(void) __noreturn;
void stop_this_cpu(void *unused) __noreturn;
void notify_cpu_starting(int cpu);                   /* this CPU is online (LAB_EV_CPU_ONLINE) */
int smp_stop_nmi_callback(struct pt_regs *regs);     /* exc_nmi: 0 if the NMI is not a stop request */
void generic_smp_call_function_interrupt(void);

/* ---- sched.c / fork.c / exit.c / exec.c: tasks --------------------- */
void sched_init(void);
void schedule(void);
void scheduler_tick(void);
void cpu_idle_loop(void) __noreturn;
void wake_up_process(struct task_struct *t);
void sleep_on(void *chan);                           /* caller holds no locks */
void wake_up(void *chan);
struct task_struct *kthread_run(int (*fn)(void *), void *arg, const char *name);
struct task_struct *kthread_run_on_cpu(int (*fn)(void *), void *arg, int cpu, const char *name);
struct task_struct *find_task_by_pid(pid_t pid);
pid_t kernel_clone_user(struct pt_regs *parent_regs);   /* fork() */
long do_execve(const char *path, char *const argv[]);
void do_exit(long code) __noreturn;
long do_wait(pid_t pid, int *status);
long do_kill(pid_t pid, int sig);
void arch_setup_new_exec_regs(struct pt_regs *regs, unsigned long ip, unsigned long sp);
void schedule_tail(struct task_struct *prev);        /* a new task's first C code (ret_from_fork) */
void preempt_schedule_irq(void);                     /* preemption on return from an interrupt */
void default_idle(void);                             /* sti; hlt: where idle CPUs sit */
void prepare_to_wait(void *chan);                    /* see wait_event() */
void finish_wait(void *chan);
int signal_pending(struct task_struct *t);           /* kill() is waiting for t */
/* sleep on chan until cond is true, with no lost wakeup between the test and the sleep */
#define wait_event(chan, cond) do {                                          \
		for (;;) {                                                   \
			prepare_to_wait(chan);                               \
			if (cond)                                            \
				break;                                       \
			schedule();                                          \
		}                                                            \
		finish_wait(chan);                                           \
	} while (0)
struct task_struct *copy_process(const char *name, struct task_struct *parent);
void copy_thread(struct task_struct *t, int (*fn)(void *), void *arg);
struct task_struct *kernel_thread(int (*fn)(void *), void *arg, const char *name);
struct task_struct *fork_idle(int cpu);
void unhash_task(struct task_struct *t);
void free_task(struct task_struct *t);
void do_group_exit(int exit_code) __noreturn;
long __x64_sys_exit(const struct pt_regs *regs) __noreturn;
long __x64_sys_exit_group(const struct pt_regs *regs);
long do_wait4(pid_t pid, int *status, int options);  /* options: WNOHANG = 1 */
/* exec.c: the initramfs table (scripts/initramfs.py), ended by a NULL name */
struct initramfs_entry {
	const char *name;                                /* "/sbin/init", "/init", "/bin/sh", ... */
	const unsigned char *data;                       /* the static ELF file */
	unsigned long size;
};
const struct initramfs_entry *initramfs_lookup(const char *path);
long sys_execve(const char *upath, char *const *uargv);

/* ---- vm.c: user address spaces --------------------------------------- */
struct mm_struct *mm_alloc(void);                    /* empty user half, kernel half shared */
void mm_free(struct mm_struct *mm);                  /* everything, including page tables */
struct mm_struct *dup_mm(struct mm_struct *old);     /* fork: copies every user page */
int map_user_range(struct mm_struct *mm, unsigned long start, unsigned long len);
void unmap_user_range(struct mm_struct *mm, unsigned long start, unsigned long len);
unsigned long user_virt_to_phys(struct mm_struct *mm, unsigned long va);   /* 0 if unmapped */
int copy_to_mm(struct mm_struct *mm, unsigned long dst, const void *src, unsigned long len);
bool access_ok(const void *uaddr, unsigned long size);   /* all of it mapped in current->mm (copy_*_user: maccess.c) */
long sys_brk(unsigned long addr);
long sys_mmap(unsigned long addr, unsigned long len, unsigned long prot,
	      unsigned long flags, long fd, unsigned long off);
long sys_munmap(unsigned long addr, unsigned long len);

/* ---- syscall.c ----------------------------------------------------- */
long do_syscall_64(struct pt_regs *regs, long nr);

/* ---- reboot.c (emergency_restart, machine_power_off: above) -------- */
long sys_reboot(unsigned long magic1, unsigned long magic2, unsigned long cmd);

/* ---- fs.c / proc.c / ramfs.c: files -------------------------------- */
void vfs_init(void);
void proc_init(void);
long ksys_open(const char *path, int flags, int mode);
long ksys_close(int fd);
long ksys_read(int fd, char *buf, long n);
long ksys_write(int fd, const char *buf, long n);
long ksys_getdents(int fd, char *buf, long n);
void fd_install_console(struct task_struct *t);     /* fds 0, 1, 2 on the console */
int sysctl_set_from_cmdline(const char *path, const char *val);   /* proc.c: "kernel/panic", "5" */
void run_local_timers(void);        /* timer.c: kernel timers; the tick must call it on every CPU */
struct file *get_file(struct file *f);             /* one more reference to f (fork); returns f */

/* ---- module.c ------------------------------------------------------ */
void modules_init(void);
long load_module(const char *name, const char *args);   /* insmod NAME [param=value ...] */
const char *module_param_get(const char *modname, const char *param);
long delete_module(const char *name);               /* rmmod */
const char *module_address_lookup(unsigned long addr, unsigned long *base);   /* name of the module holding addr */
void print_modules(void);                           /* "Modules linked in: ..." */

/* ---- sysrq.c ------------------------------------------------------- */
void __handle_sysrq(int key, bool check_mask);

/* ---- workload.c ---------------------------------------------------- */
void workload_init(void);

/* ---- entry.S ------------------------------------------------------- */
void entry_SYSCALL_64(void);
void ret_from_fork(void);
struct task_struct *__switch_to_asm(struct task_struct *prev, struct task_struct *next);

#endif
