/*
 * proc_fs.h - /proc entries and the seq_file helpers that fill them
 * (include/linux/proc_fs.h, seq_file.h).
 *
 * A /proc file is a struct proc_dir_entry with a struct proc_ops.  Every
 * open /proc file has the same file_operations (proc.c: proc_reg_read,
 * proc_reg_write), which hand the call on to the entry's proc_ops - which
 * is why proc_reg_write sits between vfs_write and write_sysrq_trigger in a
 * Call Trace.  Files whose text is generated (iomem, modules, meminfo) use
 * single_open(): the whole text is made at open() by a show function
 * writing into a struct seq_file, and read() copies from it.
 */
#ifndef KPANIC_PROC_FS_H
#define KPANIC_PROC_FS_H
#include "types.h"
#include "fs.h"

struct seq_file {
	char *buf;
	size_t size;
	size_t count;
	void *private;
};

int seq_printf(struct seq_file *m, const char *fmt, ...) __printf(2, 3);
void seq_puts(struct seq_file *m, const char *s);

struct proc_ops {
	int (*proc_open)(struct inode *inode, struct file *file);
	long (*proc_read)(struct file *file, char *buf, long count, loff_t *ppos);
	long (*proc_write)(struct file *file, const char *buf, long count, loff_t *ppos);
	int (*proc_release)(struct inode *inode, struct file *file);
};

struct proc_dir_entry {
	const char *name;
	unsigned int mode;
	const struct proc_ops *proc_ops;
	int (*show)(struct seq_file *m, void *v);   /* for proc_create_single */
	void *data;
	struct inode *inode;
};

struct proc_dir_entry *proc_create(const char *name, unsigned int mode, struct inode *parent,
				   const struct proc_ops *proc_ops);
struct proc_dir_entry *proc_create_single(const char *name, unsigned int mode, struct inode *parent,
					  int (*show)(struct seq_file *, void *));
struct inode *proc_mkdir(const char *name, struct inode *parent);
void proc_remove(struct proc_dir_entry *pde);
struct proc_dir_entry *PDE(const struct inode *inode);

/* the proc_ops of a file whose text a show() function makes at open() */
int single_open(struct file *file, int (*show)(struct seq_file *, void *), void *data);
long seq_read(struct file *file, char *buf, long count, loff_t *ppos);
int single_release(struct inode *inode, struct file *file);

/* module.c: /proc/modules; sysrq.c: /proc/sysrq-trigger */
int modules_show(struct seq_file *m, void *v);
void sysrq_init(void);

#endif
