// SPDX-License-Identifier: GPL-2.0
/*
 * cgblk_test_offload - test-only: bios through cgblk_offload.
 *
 * Submits nr 4 KiB reads to dev (null_blk with irqmode=2 completes them
 * from a timer, i.e. in hard IRQ context), at most depth in flight, each
 * asking for task context in one of three ways (mode=dynamic: the bio's
 * bi_end_io calls cgblk_bio_complete_in_task(); mode=ctx: submitter-side
 * with a context embedded here; mode=pool: submitter-side with a pooled
 * context; mode=none: no offload, for comparison).  mode=nested: a stacked
 * driver's two levels — each bio submitted is a child with a context
 * embedded here (as mode=ctx), whose bi_end_io, in task context, ends its
 * parent (a bio never submitted, as a driver's upper bio) with a spinlock
 * held and interrupts off (nested_lock=irq, the default) or bottom halves
 * off (nested_lock=bh); the parent's bi_end_io asks for task context
 * as mode=dynamic does, and must be deferred again: the checks below are
 * the parent's.  Each completion checks
 * that it runs in task context (not with mode=none) and that it is the
 * first completion of its bio, and records its submit-to-end_io latency:
 * the RESULT line ends with the median and 99th percentile and the rate.
 *
 * wait=1 (default): module init waits for every completion (60 s at most)
 * and fails with -EIO unless all nr completed exactly once, in task
 * context, without error.  wait=0: init returns with the bios in flight;
 * module exit waits for them and reports through a WARN (which fails the
 * test in the harness).  The result line is "cgblk_test_offload: RESULT ...".
 *
 * Every completion in task context also checks that it does not run inside
 * somebody's I/O charge (PF_MEMALLOC_NOIO set, a memcg made active): the
 * count is in_charge=; charge_check=1 makes any of them a failure.
 */
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/delay.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/wait.h>

#include <cgblk/core.h>
#include <cgblk/offload.h>

static char *dev = "/dev/nullb0";
module_param(dev, charp, 0444);
static unsigned int nr = 1000;
module_param(nr, uint, 0444);
static unsigned int depth = 64;
module_param(depth, uint, 0444);
static char *mode = "dynamic";
module_param(mode, charp, 0444);
static bool wait = true;
module_param(wait, bool, 0444);
static bool charge_check;
module_param(charge_check, bool, 0444);
static char *nested_lock = "irq";
module_param(nested_lock, charp, 0444);

enum { MODE_DYNAMIC, MODE_CTX, MODE_POOL, MODE_NONE, MODE_NESTED };

struct tbio {
	struct cgblk_offload_ctx ctx;
	atomic_t done;
	u64 start_ns;
};

static int test_mode;
static struct tbio *tbios;
static struct file *bdev_file;
static struct page *page;
static struct bio_set bs;
static atomic_t inflight, completed, deferred, bad_context, twice, errors;
static atomic_t in_charge;
static DECLARE_WAIT_QUEUE_HEAD(test_wq);
static bool submitted;
static u64 *lat_ns;
static u64 run_start_ns, run_ns;

static bool in_task_context(void)
{
	/* Bottom halves off count even without preempt counting. */
	if (!in_task() || irqs_disabled() || softirq_count())
		return false;
	/* Without preempt counting nothing more can be told. */
	return !IS_ENABLED(CONFIG_PREEMPT_COUNT) || preemptible();
}

/* In task context: whether this runs as part of another's charged I/O. */
static bool in_charge_scope(void)
{
	if (!in_task())
		return false;
#ifdef CONFIG_MEMCG
	if (current->active_memcg)
		return true;
#endif
	return current->flags & PF_MEMALLOC_NOIO;
}

/*
 * The last completion lets test_exit() go on: drop the count and wake under
 * the wait queue's lock, which test_exit() takes once it has seen zero, so
 * nothing of this completion but its return runs once exit can free us.
 */
static void test_put_inflight(void)
{
	unsigned long flags;

	spin_lock_irqsave(&test_wq.lock, flags);
	atomic_dec(&inflight);
	wake_up_locked(&test_wq);
	spin_unlock_irqrestore(&test_wq.lock, flags);
}

static void test_wait_idle(void)
{
	wait_event(test_wq, !atomic_read(&inflight));
	spin_lock_irq(&test_wq.lock);	/* the last completer has unlocked */
	spin_unlock_irq(&test_wq.lock);
}

static void test_end_io(struct bio *bio)
{
	struct tbio *t = bio->bi_private;

	if ((test_mode == MODE_DYNAMIC || test_mode == MODE_NESTED) &&
	    cgblk_bio_complete_in_task(bio)) {
		atomic_inc(&deferred);
		return;
	}
	if (test_mode == MODE_NONE)
		;
	else if (!in_task_context())
		atomic_inc(&bad_context);
	else
		might_sleep();	/* DEBUG_ATOMIC_SLEEP kernels check it */
	if (in_charge_scope())
		atomic_inc(&in_charge);
	if (atomic_inc_return(&t->done) != 1)
		atomic_inc(&twice);
	else
		lat_ns[t - tbios] = ktime_get_ns() - t->start_ns;
	if (bio->bi_status)
		atomic_inc(&errors);
	bio_put(bio);
	atomic_inc(&completed);
	test_put_inflight();
}

static DEFINE_SPINLOCK(nested_spin);
static bool nested_bh;
static struct bio_set child_bs;

/*
 * mode=nested: the child's completion, in task context, ends the parent
 * with a spinlock held and interrupts off (nested_lock=irq) or bottom
 * halves off (nested_lock=bh).
 */
static void nested_child_end_io(struct bio *child)
{
	struct bio *parent = child->bi_private;

	parent->bi_status = child->bi_status;
	bio_put(child);
	if (nested_bh) {
		spin_lock_bh(&nested_spin);
		bio_endio(parent);
		spin_unlock_bh(&nested_spin);
	} else {
		spin_lock_irq(&nested_spin);
		bio_endio(parent);
		spin_unlock_irq(&nested_spin);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

static int test_submit(void)
{
	struct block_device *bdev = I_BDEV(bdev_file->f_mapping->host);
	unsigned int i;
	struct bio *bio;
	int ret;

	for (i = 0; i < nr; i++) {
		wait_event(test_wq, atomic_read(&inflight) < depth);
		bio = compat_bio_alloc(bdev, 1, REQ_OP_READ, GFP_NOIO, &bs);
		bio->bi_iter.bi_sector = (i % 1024) * 8;
		__bio_add_page(bio, page, PAGE_SIZE, 0);
		bio->bi_private = &tbios[i];
		bio->bi_end_io = test_end_io;
		if (test_mode == MODE_NESTED) {
			struct bio *child = compat_bio_alloc(bdev, 1, REQ_OP_READ,
							     GFP_NOIO, &child_bs);

			child->bi_iter.bi_sector = bio->bi_iter.bi_sector;
			__bio_add_page(child, page, PAGE_SIZE, 0);
			child->bi_private = bio;
			child->bi_end_io = nested_child_end_io;
			cgblk_bio_set_complete_in_task(child, &tbios[i].ctx);
			atomic_inc(&inflight);
			tbios[i].start_ns = ktime_get_ns();
			submit_bio(child);
			continue;
		} else if (test_mode == MODE_CTX) {
			cgblk_bio_set_complete_in_task(bio, &tbios[i].ctx);
		} else if (test_mode == MODE_POOL) {
			ret = cgblk_bio_offload(bio, GFP_NOIO);
			if (WARN_ON(ret)) {
				bio_put(bio);
				return ret;
			}
		}
		atomic_inc(&inflight);
		tbios[i].start_ns = ktime_get_ns();
		submit_bio(bio);
	}
	return 0;
}

/* Return: 0 when every bio completed once, in task context, without error. */
static int test_check(const char *when)
{
	long left = wait_event_timeout(test_wq, !atomic_read(&inflight), 60 * HZ);
	int ok;

	ok = left && atomic_read(&completed) == nr && !atomic_read(&bad_context) &&
		!atomic_read(&twice) && !atomic_read(&errors) &&
		!(charge_check && atomic_read(&in_charge));
	if (!run_ns)
		run_ns = ktime_get_ns() - run_start_ns;
	if (left)
		sort(lat_ns, nr, sizeof(*lat_ns), cmp_u64, NULL);
	pr_info("RESULT %s mode=%s native=%d submitted=%u completed=%d deferred_by_end_io=%d not_task_context=%d in_charge=%d twice=%d errors=%d timed_out=%d depth=%u p50_ns=%llu p99_ns=%llu iops=%llu\n",
		ok ? "ok" : "FAIL", mode, cgblk_offload_native(), nr,
		atomic_read(&completed), atomic_read(&deferred),
		atomic_read(&bad_context), atomic_read(&in_charge),
		atomic_read(&twice),
		atomic_read(&errors), !left, depth, lat_ns[nr / 2],
		lat_ns[nr - 1 - nr / 100],
		div64_u64((u64)nr * NSEC_PER_SEC, run_ns ?: 1));
	if (!left)
		pr_err("%s: %d bios still in flight after 60 s\n", when,
		       atomic_read(&inflight));
	return ok ? 0 : -EIO;
}

static void test_free(void)
{
	bioset_exit(&bs);
	bioset_exit(&child_bs);
	if (page)
		__free_page(page);
	if (bdev_file)
		fput(bdev_file);
	kvfree(tbios);
	kvfree(lat_ns);
}

static int __init test_init(void)
{
	int ret;

	if (!strcmp(mode, "dynamic")) {
		test_mode = MODE_DYNAMIC;
	} else if (!strcmp(mode, "ctx")) {
		test_mode = MODE_CTX;
	} else if (!strcmp(mode, "pool")) {
		test_mode = MODE_POOL;
	} else if (!strcmp(mode, "none")) {
		test_mode = MODE_NONE;
	} else if (!strcmp(mode, "nested")) {
		test_mode = MODE_NESTED;
	} else {
		pr_err("mode=%s: expected dynamic, ctx, pool, none or nested\n", mode);
		return -EINVAL;
	}
	if (!strcmp(nested_lock, "bh")) {
		nested_bh = true;
	} else if (strcmp(nested_lock, "irq")) {
		pr_err("nested_lock=%s: expected irq or bh\n", nested_lock);
		return -EINVAL;
	}
	if (!nr || !depth) {
		pr_err("nr and depth must be at least 1\n");
		return -EINVAL;
	}
	tbios = kvcalloc(nr, sizeof(*tbios), GFP_KERNEL);
	lat_ns = kvcalloc(nr, sizeof(*lat_ns), GFP_KERNEL);
	page = alloc_page(GFP_KERNEL);
	ret = bioset_init(&bs, 64, 0, BIOSET_NEED_BVECS) ?:
	      bioset_init(&child_bs, 64, 0, BIOSET_NEED_BVECS);
	if (!tbios || !lat_ns || !page || ret) {
		ret = -ENOMEM;
		goto fail;
	}
	bdev_file = filp_open(dev, O_RDWR | O_LARGEFILE, 0);
	if (IS_ERR(bdev_file)) {
		ret = PTR_ERR(bdev_file);
		bdev_file = NULL;
		pr_err("cannot open %s: %d\n", dev, ret);
		goto fail;
	}
	if (!S_ISBLK(file_inode(bdev_file)->i_mode)) {
		pr_err("%s: not a block device\n", dev);
		ret = -EINVAL;
		goto fail;
	}
	run_start_ns = ktime_get_ns();
	ret = test_submit();
	submitted = true;
	if (ret || !wait) {
		if (!ret)
			return 0;
		test_check("init");
		goto fail;
	}
	ret = test_check("init");
	if (ret)
		goto fail;
	return 0;
fail:
	if (submitted)
		test_wait_idle();
	test_free();
	return ret;
}

static void __exit test_exit(void)
{
	if (!wait) {
		/* Completions may still be in flight: wait, then judge. */
		WARN(test_check("exit"), "cgblk_test_offload: completions lost or wrong\n");
		test_wait_idle();
	}
	test_free();
}

module_init(test_init);
module_exit(test_exit);
MODULE_DESCRIPTION("cgblk test-only: bio completions through cgblk_offload");
MODULE_LICENSE("GPL");
CGBLK_IMPORT_NS();
