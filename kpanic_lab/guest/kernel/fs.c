/*
 * fs.c - the virtual file system: names, open files, descriptors, and the
 * system calls on them (fs/namei.c, fs/open.c, fs/read_write.c, fs/readdir.c).
 *
 * The tree built at boot (vfs_init):
 *   /              rootfs
 *   /dev/console   the serial console (the tty)
 *   /proc          procfs: generated files, sysctls, sysrq-trigger (proc.c)
 *   /tmp           ramfs: files live only in the page cache (ramfs.c)
 *   /var/log       a disk file system, modelled: page cache with buffer heads
 * A task's descriptors are task->files[fd], each pointing at a struct file.
 */
#include "types.h"
#include "param.h"
#include "defs.h"
#include "errno.h"
#include "sched.h"
#include "fs.h"
#include "memlayout.h"

struct inode *root_inode;
static unsigned long next_ino = 1;
static struct super_block rootfs_sb = { .s_type = "rootfs" };
static struct super_block tmpfs_sb = { .s_type = "ramfs", .s_dev = 0x1 };
static struct super_block varlog_sb = { .s_type = "ext2", .s_bdev = true, .s_dev = 0x800001 };
static struct super_block devfs_sb = { .s_type = "devtmpfs", .s_dev = 0x5 };

struct inode *new_inode(struct super_block *sb, unsigned int mode, const char *name, struct inode *dir)
{
	struct inode *inode = kzalloc(sizeof(*inode));
	if (!inode)
		return NULL;
	inode->i_ino = next_ino++;
	inode->i_mode = mode;
	inode->i_sb = sb;
	inode->i_mapping = &inode->i_data;
	inode->i_data.host = inode;
	inode->i_count = 1;
	strscpy(inode->name, name, sizeof(inode->name));
	INIT_LIST_HEAD(&inode->children);
	INIT_LIST_HEAD(&inode->sibling);
	inode->parent = dir ? dir : inode;
	if (dir)
		list_add_tail(&inode->sibling, &dir->children);
	return inode;
}

/* ---- names --------------------------------------------------------------- */

static struct inode *lookup_child(struct inode *dir, const char *name)
{
	struct inode *c;

	if (!S_ISDIR(dir->i_mode))
		return NULL;
	if (!strcmp(name, "."))
		return dir;
	if (!strcmp(name, ".."))
		return dir->parent;
	list_for_each_entry(c, &dir->children, sibling)
		if (!strcmp(c->name, name))
			return c;
	if (dir->i_dop && dir->i_dop->lookup)
		return dir->i_dop->lookup(dir, name);
	return NULL;
}

/*
 * Walk an absolute path (the shell has no current directory but /).
 * Returns the inode, or NULL; *parent and *last tell where a missing last
 * component would be created (parent NULL if the directory is missing too).
 */
struct inode *lookup_path(const char *path, struct inode **parent, const char **last)
{
	static char comp[64];
	struct inode *dir = root_inode, *inode = root_inode;

	if (parent)
		*parent = NULL;
	while (*path == '/')
		path++;
	while (*path) {
		size_t n = strcspn(path, "/");
		if (n >= sizeof(comp))
			return NULL;
		memcpy(comp, path, n);
		comp[n] = 0;
		path += n;
		while (*path == '/')
			path++;
		inode = lookup_child(dir, comp);
		if (!inode) {
			if (!*path && parent) {
				*parent = dir;
				*last = comp;
			}
			return NULL;
		}
		dir = inode;
	}
	return inode;
}

struct inode *mkdir_p(const char *path, struct super_block *sb)
{
	char buf[128];
	struct inode *dir = root_inode;

	strscpy(buf, path, sizeof(buf));
	for (char *p = buf, *c; *p; p = c) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		c = p + strcspn(p, "/");
		if (*c)
			*c++ = 0;
		struct inode *next = lookup_child(dir, p);
		dir = next ? next : new_inode(sb, S_IFDIR | 0755, p, dir);
	}
	return dir;
}

/* ---- open files ------------------------------------------------------------ */

struct file *get_file(struct file *f)
{
	if (f)
		__sync_fetch_and_add(&f->f_count, 1);
	return f;
}

void fput(struct file *f)
{
	if (!f || __sync_sub_and_fetch(&f->f_count, 1) > 0)
		return;
	if (f->f_op && f->f_op->release)
		f->f_op->release(f->f_inode, f);
	kfree(f);
}

struct file *fget(int fd)
{
	if (fd < 0 || fd >= NR_OPEN)
		return NULL;
	return current->files[fd];
}

static int alloc_fd(struct task_struct *t, struct file *f)
{
	for (int fd = 0; fd < NR_OPEN; fd++) {
		if (!t->files[fd]) {
			t->files[fd] = f;
			return fd;
		}
	}
	return -EMFILE;
}

static struct file *do_dentry_open(struct inode *inode, unsigned int flags)
{
	struct file *f = kzalloc(sizeof(*f));
	if (!f)
		return NULL;
	f->f_inode = inode;
	f->f_op = inode->i_fop;
	f->f_flags = flags;
	f->f_count = 1;
	if (f->f_op && f->f_op->open && f->f_op->open(inode, f) < 0) {
		kfree(f);
		return NULL;
	}
	return f;
}

/* ---- the system calls ------------------------------------------------------- */

/* path: kernel memory (sys_open copied it in), or a user pointer */
long ksys_open(const char *upath, int flags, int mode)
{
	char path[128];
	struct inode *parent;
	const char *last;

	if ((unsigned long)upath >= TASK_SIZE_MAX) {
		if (strscpy(path, upath, sizeof(path)) == (size_t)-7)
			return -ENAMETOOLONG;
	} else {
		long len = strncpy_from_user(path, upath, sizeof(path));
		if (len < 0)
			return len;
	}
	struct inode *inode = lookup_path(path, &parent, &last);
	if (!inode) {
		if (!(flags & O_CREAT) || !parent)
			return -ENOENT;
		if (parent->i_dop || !(parent->i_sb->s_type[0] == 'r' || parent->i_sb->s_bdev))
			return -EACCES;     /* only ramfs and the disk take new files */
		inode = new_inode(parent->i_sb, S_IFREG | (mode & 0777), last, parent);
		if (!inode)
			return -ENOMEM;
		inode->i_fop = &ramfs_file_operations;
	}
	if ((flags & O_DIRECTORY) && !S_ISDIR(inode->i_mode))
		return -ENOTDIR;
	if (S_ISDIR(inode->i_mode) && (flags & O_ACCMODE) != O_RDONLY)
		return -EISDIR;
	if ((flags & O_TRUNC) && inode->i_fop == &ramfs_file_operations) {
		truncate_inode_pages(inode->i_mapping);
		inode->i_size = 0;
	}
	struct file *f = do_dentry_open(inode, flags);
	if (!f)
		return -ENOMEM;
	if (flags & O_APPEND)
		f->f_pos = inode->i_size;
	int fd = alloc_fd(current, f);
	if (fd < 0)
		fput(f);
	return fd;
}

long ksys_close(int fd)
{
	struct file *f = fget(fd);
	if (!f)
		return -EBADF;
	current->files[fd] = NULL;
	fput(f);
	return 0;
}

noinline long vfs_read(struct file *file, char *buf, long n, loff_t *pos)
{
	if ((file->f_flags & O_ACCMODE) == O_WRONLY)
		return -EBADF;
	if (S_ISDIR(file->f_inode->i_mode))
		return -EISDIR;
	if (!file->f_op || !file->f_op->read)
		return -EINVAL;
	if (n < 0 || (unsigned long)buf >= TASK_SIZE_MAX)
		return -EFAULT;
	return file->f_op->read(file, buf, n, pos);
}

noinline long vfs_write(struct file *file, const char *buf, long n, loff_t *pos)
{
	if ((file->f_flags & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	if (!file->f_op || !file->f_op->write)
		return -EINVAL;
	if (n < 0 || (unsigned long)buf >= TASK_SIZE_MAX)
		return -EFAULT;
	return file->f_op->write(file, buf, n, pos);
}

noinline long ksys_read(int fd, char *buf, long n)
{
	struct file *f = fget(fd);
	if (!f)
		return -EBADF;
	loff_t pos = f->f_pos;
	long ret = vfs_read(f, buf, n, &pos);
	if (ret >= 0)
		f->f_pos = pos;
	return ret;
}

noinline long ksys_write(int fd, const char *buf, long n)
{
	struct file *f = fget(fd);
	if (!f)
		return -EBADF;
	loff_t pos = f->f_pos;
	long ret = vfs_write(f, buf, n, &pos);
	if (ret >= 0)
		f->f_pos = pos;
	return ret;
}

/* getdents64: as many linux_dirent64 records as fit, from where the last call stopped. */
long ksys_getdents(int fd, char *ubuf, long n)
{
	struct file *f = fget(fd);
	char kbuf[512];
	long used = 0;

	if (!f)
		return -EBADF;
	struct inode *dir = f->f_inode;
	if (!S_ISDIR(dir->i_mode))
		return -ENOTDIR;
	if (n > (long)sizeof(kbuf))
		n = sizeof(kbuf);
	for (;;) {
		char name[64];
		unsigned char type;
		long idx = f->f_dir_idx;
		unsigned long ino = 0;

		if (idx == 0) {
			strcpy(name, ".");
			type = DT_DIR;
			ino = dir->i_ino;
		} else if (idx == 1) {
			strcpy(name, "..");
			type = DT_DIR;
			ino = dir->parent->i_ino;
		} else {
			long i = idx - 2;
			struct inode *c, *found = NULL;
			list_for_each_entry(c, &dir->children, sibling)
				if (i-- == 0)
					found = c;
			if (found) {
				strscpy(name, found->name, sizeof(name));
				type = S_ISDIR(found->i_mode) ? DT_DIR : (found->i_mode & S_IFMT) == S_IFCHR ? DT_CHR : DT_REG;
				ino = found->i_ino;
			} else if (!dir->i_dop || !dir->i_dop->readdir ||
				   !dir->i_dop->readdir(dir, i, name, sizeof(name), &type)) {
				break;      /* the end of the directory */
			} else {
				ino = 0x10000 + idx;
			}
		}
		size_t reclen = ALIGN(offsetof(struct linux_dirent64, d_name) + strlen(name) + 1, 8);
		if (used + (long)reclen > n)
			break;
		struct linux_dirent64 *d = (struct linux_dirent64 *)(kbuf + used);
		d->d_ino = ino;
		d->d_off = idx + 1;
		d->d_reclen = reclen;
		d->d_type = type;
		strcpy(d->d_name, name);
		used += reclen;
		f->f_dir_idx++;
	}
	if (used && copy_to_user(ubuf, kbuf, used))
		return -EFAULT;
	return used;
}

/* ---- the console as a file ---------------------------------------------------- */

static long console_read(struct file *file, char *buf, long n, loff_t *pos)
{
	char kbuf[256];
	long got = tty_read(kbuf, min(n, (long)sizeof(kbuf)));
	if (got > 0 && copy_to_user(buf, kbuf, got))
		return -EFAULT;
	return got;
}

static long console_write(struct file *file, const char *buf, long n, loff_t *pos)
{
	char kbuf[256];
	long done = 0;
	while (done < n) {
		long chunk = min(n - done, (long)sizeof(kbuf));
		if (copy_from_user(kbuf, buf + done, chunk))
			return done ? done : -EFAULT;
		tty_write(kbuf, chunk);
		done += chunk;
	}
	return done;
}

static const struct file_operations tty_fops = {
	.read = console_read,
	.write = console_write,
};

static struct inode *console_inode;
static struct file console_file = { .f_op = &tty_fops, .f_flags = O_RDWR, .f_count = 1 << 30 };

/* fds 0, 1, 2 of init: the console, shared (it is never closed for good) */
void fd_install_console(struct task_struct *t)
{
	console_file.f_inode = console_inode;
	for (int fd = 0; fd < 3; fd++)
		if (!t->files[fd])
			t->files[fd] = get_file(&console_file);
}

/* ---- the initramfs programs as files: /init, /sbin/init, /bin/sh ------------- */

static long initramfs_file_read(struct file *file, char *buf, long n, loff_t *pos)
{
	const struct initramfs_entry *e = file->f_inode->i_private;
	return simple_read_from_buffer(buf, n, pos, e->data, e->size);
}

static const struct file_operations initramfs_fops = {
	.read = initramfs_file_read,
};

/*
 * exec.c runs programs straight from the initramfs table; these inodes only
 * make them visible (ls /bin, cat /init), read-only.
 */
static void populate_initramfs(void)
{
	extern const struct initramfs_entry initramfs_table[];

	for (const struct initramfs_entry *e = initramfs_table; e->name; e++) {
		const char *slash = strrchr(e->name, '/');
		char dir[64];
		size_t n = slash - e->name;
		if (!slash || n >= sizeof(dir))
			continue;
		memcpy(dir, e->name, n);
		dir[n] = 0;
		struct inode *d = n ? mkdir_p(dir, &rootfs_sb) : root_inode;
		struct inode *f = new_inode(&rootfs_sb, S_IFREG | 0755, slash + 1, d);
		f->i_size = e->size;
		f->i_fop = &initramfs_fops;
		f->i_private = (void *)e;
	}
}

static bool vfs_ready;

void vfs_init(void)
{
	if (vfs_ready)
		return;
	vfs_ready = true;
	root_inode = new_inode(&rootfs_sb, S_IFDIR | 0755, "/", NULL);
	struct inode *dev = mkdir_p("/dev", &devfs_sb);
	console_inode = new_inode(&devfs_sb, S_IFCHR | 0600, "console", dev);
	console_inode->i_fop = &tty_fops;
	mkdir_p("/bin", &rootfs_sb);
	mkdir_p("/tmp", &tmpfs_sb);
	mkdir_p("/var", &rootfs_sb);
	mkdir_p("/var/log", &varlog_sb);
	populate_initramfs();
	proc_init();
}
