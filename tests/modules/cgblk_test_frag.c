// SPDX-License-Identifier: GPL-2.0
/*
 * cgblk_test_frag - test-only: free memory in single pages, none in blocks.
 *
 * At load, takes every free block of 2^order pages (default order 8: 1 MiB)
 * the page allocator hands out without reclaim, splits each and frees every
 * other page of it, in rounds until five in a row, 200 ms apart, find no
 * block left.  Half of that memory is free again, but as single pages
 * whose buddies are held, so they cannot merge: an allocation of 2^order
 * contiguous pages without reclaim (kmalloc() of 1 MiB with GFP_NOWAIT)
 * fails while single pages (vmalloc()) are plentiful.  The test keeps
 * compaction off (vm.extfrag_threshold=1000, vm.compaction_proactiveness=0)
 * and caches dropped.  Unload frees the held pages.  Prints one line:
 * "cgblk_test_frag: N blocks of order O split, M pages held".
 */
#include <linux/delay.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>

static unsigned int order = 8;
module_param(order, uint, 0444);

static struct page **blocks;
static unsigned long nr_blocks;

/* Pages 1, 3, 5... of each block are held; 0, 2, 4... were freed. */
static void frag_free(void)
{
	unsigned long b, i;

	for (b = 0; b < nr_blocks; b++)
		for (i = 1; i < (1UL << order); i += 2)
			__free_page(blocks[b] + i);
	kvfree(blocks);
}

static int __init frag_init(void)
{
	/* No reclaim, no kswapd: only what is free now. */
	const gfp_t gfp = __GFP_NOWARN | __GFP_NORETRY | __GFP_NOMEMALLOC;
	unsigned long max, first, b, i;
	unsigned int quiet;
	struct page *page;

	if (order < 1 || order > 10) {
		pr_err("order=%u: expected 1 to 10\n", order);
		return -EINVAL;
	}
	max = totalram_pages() >> order;
	blocks = kvcalloc(max, sizeof(*blocks), GFP_KERNEL);
	if (!blocks)
		return -ENOMEM;
	/*
	 * In rounds: a round stops at the watermark, and the pages it frees
	 * lift free memory above it for the next; done when a round finds no
	 * block at all.
	 */
	for (quiet = 0; quiet < 5 && nr_blocks < max; ) {
		first = nr_blocks;
		while (nr_blocks < max && (page = alloc_pages(gfp, order))) {
			split_page(page, order);
			blocks[nr_blocks++] = page;
		}
		for (b = first; b < nr_blocks; b++)
			for (i = 0; i < (1UL << order); i += 2)
				__free_page(blocks[b] + i);
		/*
		 * Memory the tests before freed may still be on its way back
		 * (per-CPU lists, RCU, work items): done after five rounds
		 * 200 ms apart found nothing.
		 */
		if (nr_blocks == first) {
			quiet++;
			msleep(200);
		} else {
			quiet = 0;
		}
	}
	pr_info("%lu blocks of order %u split, %lu pages held\n",
		nr_blocks, order, nr_blocks << (order - 1));
	return 0;
}

static void __exit frag_exit(void)
{
	frag_free();
}

module_init(frag_init);
module_exit(frag_exit);
MODULE_DESCRIPTION("cgblk test-only: fragment free memory into single pages");
MODULE_LICENSE("GPL");
