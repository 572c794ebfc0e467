/*
 * ramfs.c - regular files whose data lives in the page cache (fs/ramfs,
 * mm/filemap.c).
 *
 * Each page of a file is a struct page with
 *     mapping = the inode's address_space, index = page number in the file,
 *     PG_lru (on the file LRU list), PG_uptodate, and PG_dirty once written.
 * On /tmp (ramfs) that is all there is: the page cache IS the file.  On
 * /var/log, a disk file system, each page also gets buffer heads
 * (buffer.c: PG_private, page->private).  Dirty pages are never written
 * back - there is no disk, and the point of the lab is that panic() does
 * not sync: a crash dump still holds the data the disk never got.
 */
#include "types.h"
#include "defs.h"
#include "errno.h"
#include "mm.h"
#include "fs.h"
#include "buffer_head.h"
#include "spinlock.h"

unsigned long nr_file_pages;                /* pages in the page cache (Cached:) */
unsigned long nr_dirty_pages;               /* of which dirty (Dirty:) */
LIST_HEAD(file_lru);                        /* every page-cache page, oldest first */
static DEFINE_SPINLOCK(pagecache_lock);

/* Make room in the mapping's page array for index. */
static int mapping_grow(struct address_space *mapping, unsigned long index)
{
	if (index < mapping->capacity)
		return 0;
	unsigned long cap = mapping->capacity ? mapping->capacity : 16;
	while (cap <= index)
		cap *= 2;
	struct page **pages = kzalloc(cap * sizeof(*pages));
	if (!pages)
		return -ENOMEM;
	if (mapping->pages) {
		memcpy(pages, mapping->pages, mapping->capacity * sizeof(*pages));
		kfree(mapping->pages);
	}
	mapping->pages = pages;
	mapping->capacity = cap;
	return 0;
}

static struct page *find_get_page(struct address_space *mapping, unsigned long index)
{
	return index < mapping->capacity ? mapping->pages[index] : NULL;
}

/* The page at index, added to the cache (zeroed, on the LRU) if it was not there. */
struct page *find_or_create_page(struct address_space *mapping, unsigned long index)
{
	struct page *page = find_get_page(mapping, index);
	unsigned long flags;

	if (page)
		return page;
	if (mapping_grow(mapping, index))
		return NULL;
	page = alloc_pages(0);
	if (!page)
		return NULL;
	memset(page_address(page), 0, PAGE_SIZE);
	page->mapping = mapping;
	page->index = index;
	SetPageFlag(page, PG_uptodate);
	spin_lock_irqsave(&pagecache_lock, flags);
	SetPageFlag(page, PG_lru);
	list_add_tail(&page->lru, &file_lru);
	nr_file_pages++;
	spin_unlock_irqrestore(&pagecache_lock, flags);
	mapping->pages[index] = page;
	mapping->nrpages++;
	if (mapping->host->i_sb->s_bdev && create_empty_buffers(page))
		return NULL;
	return page;
}

static void set_page_dirty(struct page *page)
{
	if (TestPageFlag(page, PG_dirty))
		return;
	SetPageFlag(page, PG_dirty);
	nr_dirty_pages++;
	if (TestPageFlag(page, PG_private))
		mark_page_buffers_dirty(page);
}

/* Drop every page of a file (O_TRUNC): off the LRU, buffers freed, page freed. */
void truncate_inode_pages(struct address_space *mapping)
{
	unsigned long flags;

	for (unsigned long i = 0; i < mapping->capacity; i++) {
		struct page *page = mapping->pages[i];
		if (!page)
			continue;
		mapping->pages[i] = NULL;
		free_buffers(page);
		spin_lock_irqsave(&pagecache_lock, flags);
		list_del(&page->lru);
		INIT_LIST_HEAD(&page->lru);
		nr_file_pages--;
		if (TestPageFlag(page, PG_dirty))
			nr_dirty_pages--;
		spin_unlock_irqrestore(&pagecache_lock, flags);
		page->flags = 0;
		page->mapping = NULL;
		__free_pages(page, 0);
	}
	mapping->nrpages = 0;
}

/* generic_perform_write: user bytes into cache pages, page by page */
static long ramfs_write(struct file *file, const char *buf, long count, loff_t *ppos)
{
	struct inode *inode = file->f_inode;
	loff_t pos = *ppos;
	long done = 0;

	while (done < count) {
		unsigned long index = pos >> PAGE_SHIFT, offset = pos & (PAGE_SIZE - 1);
		long chunk = min((long)(PAGE_SIZE - offset), count - done);
		struct page *page = find_or_create_page(inode->i_mapping, index);
		if (!page)
			return done ? done : -ENOSPC;
		if (copy_from_user((char *)page_address(page) + offset, buf + done, chunk))
			return done ? done : -EFAULT;
		set_page_dirty(page);
		done += chunk;
		pos += chunk;
		if (pos > inode->i_size)
			inode->i_size = pos;
	}
	*ppos = pos;
	return done;
}

/* filemap_read: cache pages out to the user; a hole reads as zeros */
static long ramfs_read(struct file *file, char *buf, long count, loff_t *ppos)
{
	struct inode *inode = file->f_inode;
	loff_t pos = *ppos;
	long done = 0;
	static const char zeros[256];

	if (pos >= inode->i_size)
		return 0;
	if (count > inode->i_size - pos)
		count = inode->i_size - pos;
	while (done < count) {
		unsigned long index = pos >> PAGE_SHIFT, offset = pos & (PAGE_SIZE - 1);
		long chunk = min((long)(PAGE_SIZE - offset), count - done);
		struct page *page = find_get_page(inode->i_mapping, index);
		if (page) {
			SetPageFlag(page, PG_referenced);
			if (copy_to_user(buf + done, (char *)page_address(page) + offset, chunk))
				return done ? done : -EFAULT;
		} else {
			chunk = min(chunk, (long)sizeof(zeros));
			if (copy_to_user(buf + done, zeros, chunk))
				return done ? done : -EFAULT;
		}
		done += chunk;
		pos += chunk;
	}
	*ppos = pos;
	return done;
}

const struct file_operations ramfs_file_operations = {
	.read = ramfs_read,
	.write = ramfs_write,
};
