/*
 * fs.h - files, inodes and the page cache (include/linux/fs.h, much reduced).
 *
 * The name space is one tree of inodes (no dentries, no mounts): a
 * directory keeps its children on a list, or, like /proc's root, answers
 * lookups and readdir itself.  An open file is a struct file pointing at
 * the inode and at the operations that do the work (f_op), so a write to
 * /proc/sysrq-trigger runs, as in Linux:
 *     ksys_write -> vfs_write -> file->f_op->write == proc_reg_write
 *               -> pde->proc_ops->proc_write == write_sysrq_trigger
 *
 * Regular files of /tmp (ramfs) and /var/log (a block-device file system,
 * modelled) keep their data in page-cache pages: struct pages whose
 * mapping is the inode's address_space and whose index is the page's
 * offset in the file - which is how a dump tool recognises file cache.
 */
#ifndef KPANIC_FS_H
#define KPANIC_FS_H
#include "types.h"
#include "list.h"

struct inode;
struct file;
struct page;
struct super_block;
struct task_struct;

/* file types in i_mode, and open() flags, as Linux */
#define S_IFMT   0170000
#define S_IFDIR  0040000
#define S_IFREG  0100000
#define S_IFCHR  0020000
#define S_ISDIR(m) (((m) & S_IFMT) == S_IFDIR)

#define O_RDONLY 00
#define O_WRONLY 01
#define O_RDWR   02
#define O_ACCMODE 03
#define O_CREAT  0100
#define O_TRUNC  01000
#define O_APPEND 02000
#define O_DIRECTORY 0200000

/* getdents64 records (include/linux/dirent.h) */
struct linux_dirent64 {
	u64 d_ino;
	s64 d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};
#define DT_DIR 4
#define DT_REG 8
#define DT_CHR 2

struct file_operations {
	long (*read)(struct file *file, char *buf, long n, loff_t *pos);
	long (*write)(struct file *file, const char *buf, long n, loff_t *pos);
	int (*open)(struct inode *inode, struct file *file);
	int (*release)(struct inode *inode, struct file *file);
};

/* A directory that makes its entries up (procfs): lookup and readdir by index. */
struct dir_operations {
	struct inode *(*lookup)(struct inode *dir, const char *name);
	/* the idx-th entry: its name and type; 0 when there are no more */
	int (*readdir)(struct inode *dir, long idx, char *name, size_t n, unsigned char *type);
};

/* The page cache of one file (include/linux/fs.h: struct address_space). */
struct address_space {
	struct inode *host;
	unsigned long nrpages;
	struct page **pages;                /* pages[index], NULL where there is none */
	unsigned long capacity;             /* length of pages[] */
	int (*set_page_private)(struct page *page);   /* buffer heads, for block file systems */
};

struct super_block {
	const char *s_type;                 /* "ramfs", "proc", "ext2" ... */
	bool s_bdev;                        /* backed by a block device: pages get buffer heads */
	unsigned long s_dev;
};

struct inode {
	unsigned long i_ino;
	unsigned int i_mode;
	loff_t i_size;
	const struct file_operations *i_fop;
	const struct dir_operations *i_dop; /* a directory that answers by itself */
	struct super_block *i_sb;
	struct address_space i_data;        /* its page cache */
	struct address_space *i_mapping;    /* == &i_data */
	void *i_private;                    /* the proc entry, the tty, ... */
	char name[32];
	struct inode *parent;
	struct list_head children;          /* directory entries (tree directories) */
	struct list_head sibling;
	int i_count;
};

struct file {
	const struct file_operations *f_op;
	struct inode *f_inode;
	loff_t f_pos;
	unsigned int f_flags;
	int f_count;
	long f_dir_idx;                     /* readdir position */
	void *private_data;                 /* e.g. a /proc file's generated text */
};

/* fs.c */
extern struct inode *root_inode;
struct inode *new_inode(struct super_block *sb, unsigned int mode, const char *name, struct inode *dir);
struct inode *lookup_path(const char *path, struct inode **parent, const char **last);
struct inode *mkdir_p(const char *path, struct super_block *sb);
struct file *get_file(struct file *f);
void fput(struct file *f);
struct file *fget(int fd);
long vfs_read(struct file *file, char *buf, long n, loff_t *pos);
long vfs_write(struct file *file, const char *buf, long n, loff_t *pos);

/* ramfs.c: regular files in the page cache */
extern const struct file_operations ramfs_file_operations;
struct page *find_or_create_page(struct address_space *mapping, unsigned long index);
void truncate_inode_pages(struct address_space *mapping);
extern unsigned long nr_file_pages, nr_dirty_pages;
extern struct list_head file_lru;

/* buffer.c: buffer heads for block-device-backed pages */
int create_empty_buffers(struct page *page);
void free_buffers(struct page *page);
extern unsigned long nr_buffer_heads;

/* proc.c */
long simple_read_from_buffer(char *to, long count, loff_t *ppos, const void *from, long available);

#endif
