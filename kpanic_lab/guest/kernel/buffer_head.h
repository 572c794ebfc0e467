/* buffer_head.h - one disk block cached in a page (include/linux/buffer_head.h). */
#ifndef KPANIC_BUFFER_HEAD_H
#define KPANIC_BUFFER_HEAD_H
#include "types.h"

enum bh_state_bits {
	BH_Uptodate = 0,    /* contains valid data */
	BH_Dirty = 1,       /* newer than the disk */
	BH_Lock = 2,
	BH_Req = 3,
	BH_Mapped = 5,      /* has a disk block */
};

#define BH_BLOCKSIZE 1024

struct buffer_head {
	unsigned long b_state;
	struct buffer_head *b_this_page;    /* the next buffer of this page (a ring) */
	struct page *b_page;
	u64 b_blocknr;                      /* the block on the disk */
	size_t b_size;
	char *b_data;                       /* the block's bytes in the page */
};

void mark_page_buffers_dirty(struct page *page);

#endif
