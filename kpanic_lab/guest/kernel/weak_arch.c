/*
 * weak_arch.c - placeholders so the image links while the "services" side
 * (files, /proc, modules) is still being written.  Every definition here is
 * weak: as soon as the real one is linked in, it wins and this one is
 * ignored.  Nothing here is meant to stay; delete an entry when its real
 * definition lands.
 */
#include "types.h"
#include "param.h"
#include "sched.h"
#include "errno.h"
#include "defs.h"

#define __weak __attribute__((weak))

/* fs.c */
__weak struct file *get_file(struct file *f) { return f; }
__weak void vfs_init(void) { }
__weak void fd_install_console(struct task_struct *t) { }
__weak long ksys_open(const char *path, int flags, int mode) { return -ENOENT; }
__weak long ksys_close(int fd) { current->files[fd] = NULL; return 0; }
__weak long ksys_read(int fd, char *buf, long n) { return fd == 0 ? tty_read(buf, n) : -EBADF; }
__weak long ksys_write(int fd, const char *buf, long n) { return fd == 1 || fd == 2 ? tty_write(buf, n) : -EBADF; }
__weak long ksys_getdents(int fd, char *buf, long n) { return -EBADF; }

/* proc.c */
__weak void proc_init(void) { }
__weak int sysctl_set_from_cmdline(const char *path, const char *val) { return -ENOENT; }

/* module.c */
__weak void modules_init(void) { }
__weak long load_module(const char *name) { return -ENOENT; }
__weak long delete_module(const char *name) { return -ENOENT; }
__weak void print_modules(void) { printk(KERN_DEFAULT "Modules linked in:\n"); }

/* traps.c (the IDT itself is loaded by head64.c/cpu.c before start_kernel) */
__weak void trap_init(void) { }

/* workload.c */
__weak void workload_init(void) { }
