/*
 * buffer.c - buffer heads (fs/buffer.c): the link between a page of a file
 * on a disk file system and the disk blocks it caches.
 *
 * A block file system (ext2/ext4, here /var/log) with 1 KiB blocks keeps
 * four struct buffer_head per 4 KiB page, in a ring through b_this_page;
 * the page is PG_private and page->private points at the first.  That is
 * what makedumpfile's -d 2 looks at: "cache without private data" (ramfs,
 * /tmp) may be dropped by -d 2, "cache with private data" (these pages)
 * only by -d 4.  Nothing here ever reaches a disk: the lab machine has
 * none, and after a panic nothing would write it anyway.
 */
#include "types.h"
#include "defs.h"
#include "mm.h"
#include "fs.h"
#include "buffer_head.h"

unsigned long nr_buffer_heads;
static u64 next_blocknr = 0x8000;       /* where the "disk" hands out blocks */

/* Attach a ring of buffer heads (one per block) to a page-cache page. */
int create_empty_buffers(struct page *page)
{
	struct buffer_head *head = NULL, *tail = NULL;
	char *data = page_address(page);

	for (unsigned long off = 0; off < PAGE_SIZE; off += BH_BLOCKSIZE) {
		struct buffer_head *bh = kzalloc(sizeof(*bh));
		if (!bh)
			return -12;
		bh->b_page = page;
		bh->b_size = BH_BLOCKSIZE;
		bh->b_data = data + off;
		bh->b_blocknr = next_blocknr++;
		bh->b_state = (1UL << BH_Mapped) | (1UL << BH_Uptodate);
		if (!head)
			head = bh;
		else
			tail->b_this_page = bh;
		tail = bh;
		nr_buffer_heads++;
	}
	tail->b_this_page = head;               /* a ring */
	SetPageFlag(page, PG_private);          /* attach_page_private() */
	page->private = (unsigned long)head;
	page->_refcount++;                      /* the buffers hold a reference, as Linux */
	return 0;
}

/* A write dirtied the page: its buffers are dirty too (mark_buffer_dirty). */
void mark_page_buffers_dirty(struct page *page)
{
	struct buffer_head *head = (struct buffer_head *)page->private, *bh = head;
	if (!head)
		return;
	do {
		bh->b_state |= 1UL << BH_Dirty;
		bh = bh->b_this_page;
	} while (bh != head);
}

void free_buffers(struct page *page)
{
	struct buffer_head *head = (struct buffer_head *)page->private, *bh = head;
	if (!TestPageFlag(page, PG_private) || !head)
		return;
	do {
		struct buffer_head *next = bh->b_this_page;
		kfree(bh);
		nr_buffer_heads--;
		bh = next;
	} while (bh != head);
	ClearPageFlag(page, PG_private);
	page->private = 0;
	page->_refcount--;
}
