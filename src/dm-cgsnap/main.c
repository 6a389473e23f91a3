// SPDX-License-Identifier: GPL-2.0
/*
 * dm-cgsnap - the device-mapper target "cgsnap": a copy-on-write snapshot
 * of a read-only origin whose copies are charged to the cgroup that caused
 * them.  Table, status and persistent format are dm-snapshot's:
 *
 *   <origin> <cow> <P|PO|N> <chunk_size> [<#features> [discard_zeroes_cow]
 *   [discard_passdown_origin]]
 *
 * The origin is written only through "cgsnap-origin" (origin.c), which
 * copies into every cgsnap snapshot of it first.
 */
#include <linux/ctype.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/init.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "cgsnap.h"

static struct dentry *cgsnap_debugfs;

static unsigned int cgsnap_max_workers;
static unsigned int cgsnap_idle_timeout_ms = 60000;

static int cgsnap_set_max_workers(const char *val, const struct kernel_param *kp)
{
	return cgblk_param_set_range(val, kp, 0, 1 << 20);
}

static int cgsnap_set_idle_timeout(const char *val, const struct kernel_param *kp)
{
	return cgblk_param_set_range(val, kp, 1, 24 * 3600 * 1000);
}

static const struct kernel_param_ops cgsnap_max_workers_ops = {
	.set = cgsnap_set_max_workers,
	.get = param_get_uint,
};

static const struct kernel_param_ops cgsnap_idle_timeout_ops = {
	.set = cgsnap_set_idle_timeout,
	.get = param_get_uint,
};

module_param_cb(max_workers, &cgsnap_max_workers_ops, &cgsnap_max_workers, 0644);
MODULE_PARM_DESC(max_workers,
		 "Per-cgroup COW workers per snapshot at most; past it, copies run on a shared worker, still charged (0-1048576, default 0: the pool's limit, see cgblk_core; new tables)");
module_param_cb(idle_timeout_ms, &cgsnap_idle_timeout_ops,
		&cgsnap_idle_timeout_ms, 0644);
MODULE_PARM_DESC(idle_timeout_ms,
		 "Free a per-cgroup COW worker idle this long, in ms (1-86400000, default 60000; new tables)");

static const struct cgblk_pool_ops cgsnap_pool_ops = {
	.run = cgsnap_pool_run,
	.finish = cgsnap_pool_finish,
};

static int parse_features(struct cgsnap *s, struct dm_arg_set *as,
			  struct dm_target *ti)
{
	static const struct dm_arg args[] = {
		{0, 2, "Invalid number of feature arguments"},
	};
	unsigned int argc;
	const char *name;
	int ret;

	if (!as->argc)
		return 0;
	ret = dm_read_arg_group(args, as, &argc, &ti->error);
	if (ret)
		return -EINVAL;
	while (argc--) {
		name = dm_shift_arg(as);
		if (!strcasecmp(name, "discard_zeroes_cow")) {
			s->discard_zeroes_cow = true;
		} else if (!strcasecmp(name, "discard_passdown_origin")) {
			s->discard_passdown_origin = true;
		} else {
			ti->error = "Unrecognised feature requested";
			return -EINVAL;
		}
	}
	if (as->argc) {
		ti->error = "Too many arguments";
		return -EINVAL;
	}
	if (!s->discard_zeroes_cow && s->discard_passdown_origin) {
		ti->error = "discard_passdown_origin feature depends on discard_zeroes_cow";
		return -EINVAL;
	}
	return 0;
}

static int parse_store_type(struct cgsnap *s, const char *type,
			    struct dm_target *ti)
{
	if (!strcasecmp(type, "P")) {
		s->persistent = true;
	} else if (!strcasecmp(type, "PO")) {
		s->persistent = true;
		s->overflow_ok = true;
	} else if (!strcasecmp(type, "N")) {
		s->persistent = false;
	} else {
		ti->error = "Exception store type is not P, PO or N";
		return -EINVAL;
	}
	return 0;
}

/*
 * The reserve's elements, made at table load.  A mempool_alloc() that may
 * not sleep gets only those (alloc_buf() has tried the allocator already,
 * charged to the writer).
 */
static void *buf_alloc(gfp_t gfp, void *data)
{
	if (!gfpflags_allow_blocking(gfp))
		return NULL;
	return kvmalloc((unsigned long)data, gfp);
}

static void buf_free(void *buf, void *data)
{
	kvfree(buf);
}

/*
 * COW devices in use, and the reload handover.  Each cgsnap whose
 * constructor got its COW device is on cgsnap_cows, under cgsnap_cows_lock,
 * until its destructor (or the constructor's failure) puts it.
 *
 * One store has one writer.  A table loaded on the COW device of a live
 * cgsnap table (a `dmsetup reload` of the same device, as `lvextend` of a
 * snapshot does, or another device naming it) does not read the store,
 * which the live table still allocates from and commits to: it takes the
 * live table's exceptions and store over ("hands over", as dm-snapshot
 * does) at its resume, when the live table must be suspended (a reload
 * suspends it anyway), or when the live table is destroyed first,
 * whichever comes first.  The handover waits for the copies into the old
 * table in flight, then moves the exception table, the store's state, the
 * validity and the registration with the origin.  The new
 * table's COW device may have grown (a reloaded dm-linear): the room is
 * its own from there on.  It may not be smaller than what is allocated.
 * The old table is then an empty shell, Invalid, until destroyed.
 *
 * Refused, with the reason: a second table while one waits to take over
 * (as dm-snapshot: `dmsetup clear` the first), another origin, another
 * store type (P/PO against N), a longer table, a live table still in its
 * constructor or in its destructor, two targets of one table; the resume
 * of a table that another waits to take over.
 *
 * While the copies into the old table drain, only the origin writes that
 * need a new copy in it wait; the others go on.  A taker on another device
 * waits 10 s at most, then its resume fails and nothing changed; a reload
 * of the same device waits as long as the copies take (its old table's
 * destructor would wait as long right after).
 *
 * cgsnap_cows_lock (a mutex) protects the list, the links and the states
 * (ready, live, dying, handover_busy); it is never held while waiting for
 * I/O.  The one doing a handover (the taker's preresume, or the source's
 * destructor) marks both tables handover_busy and drops the lock for the
 * drain; the other party's destructor or preresume waits for the mark to
 * clear (cgsnap_handover_wait), a load finds the table busy.  Order:
 * o->reg_lock, then cgsnap_cows_lock.
 */
static DEFINE_MUTEX(cgsnap_cows_lock);
static LIST_HEAD(cgsnap_cows);
static DECLARE_WAIT_QUEUE_HEAD(cgsnap_handover_wait);

/* A taker on another device waits this long for its source's copies. */
#define CGSNAP_HANDOVER_TIMEOUT	(10 * HZ)

/* Can @s take @h over?  0, or a negative errno with ti->error set. */
static int check_takeover(struct cgsnap *s, struct cgsnap *h,
			  bool chunk_from_table, struct dm_target *ti)
{
	sector_t allocated;

	lockdep_assert_held(&cgsnap_cows_lock);
	if (!h->ready || h->dying || h->handover_busy) {
		ti->error = "COW device busy: another cgsnap table loads, hands over or goes";
		return -EBUSY;
	}
	if (h->ti->table == ti->table) {
		ti->error = "COW device in use by another target of this table";
		return -EBUSY;
	}
	if (h->handover_dest) {
		ti->error = "Another table is already waiting to take over this COW device";
		return -EBUSY;
	}
	if (h->origin->bdev != s->origin->bdev) {
		ti->error = "COW device in use by a live cgsnap of another origin";
		return -EINVAL;
	}
	if (h->persistent != s->persistent) {
		ti->error = "Exception store type differs from the live table's (P/PO against N)";
		return -EINVAL;
	}
	/* origin writes copy only the chunks within the live table */
	if (ti->len > h->ti->len) {
		ti->error = "Table is longer than the live table on its COW device";
		return -EINVAL;
	}
	if (chunk_from_table && s->chunk_size != h->chunk_size)
		DMWARN("chunk size %u of the live table overrides table chunk size of %u.",
		       h->chunk_size, s->chunk_size);
	if (cgsnap_set_chunk_size(s, h->chunk_size, &ti->error))
		return -EINVAL;
	spin_lock(&h->lock);
	allocated = cgsnap_chunk_to_sector(h, h->next_free);
	spin_unlock(&h->lock);
	if (s->cow_sectors < allocated) {
		ti->error = "COW device is smaller than the chunks the live snapshot has allocated";
		return -EINVAL;
	}
	return 0;
}

/*
 * Return: 0 when the COW device is @s's alone (it reads the store), 1 when
 * a live table holds it (@s takes it over), or a negative errno with
 * ti->error set.
 */
static int claim_cow(struct cgsnap *s, bool chunk_from_table,
		     struct dm_target *ti)
{
	dev_t dev = s->cow->bdev->bd_dev;
	struct cgsnap *h;
	int ret = 0;

	mutex_lock(&cgsnap_cows_lock);
	list_for_each_entry(h, &cgsnap_cows, cow_entry) {
		if (h->cow->bdev->bd_dev != dev || h->handed_over)
			continue;
		/* a merge takes no handover, and gives none */
		if (h->merge) {
			ti->error = "COW device is being merged (cgsnap-merge)";
			ret = -EBUSY;
			goto out;
		}
		if (s->merge) {
			ti->error = "COW device in use by a cgsnap table: remove it first";
			ret = -EBUSY;
			goto out;
		}
		if (h->handover_src) {	/* a taker, not yet the holder */
			ti->error = "Another table is already waiting to take over this COW device";
			ret = -EBUSY;
			goto out;
		}
		ret = check_takeover(s, h, chunk_from_table, ti);
		if (ret)
			goto out;
		s->handover_src = h;
		h->handover_dest = s;
		ret = 1;
		break;
	}
	list_add_tail(&s->cow_entry, &cgsnap_cows);
out:
	mutex_unlock(&cgsnap_cows_lock);
	return ret;
}

/*
 * The end of a constructor: from here on the table may hand over, or take
 * over.  A taker whose source was destroyed while it was being built has
 * nothing to take (it did not read the store): refused.
 */
static int set_ready(struct cgsnap *s, bool taker, struct dm_target *ti)
{
	int ret = 0;

	mutex_lock(&cgsnap_cows_lock);
	if (taker && s->handover_cancelled) {
		ti->error = "The live table on this COW device went away during the load";
		ret = -EAGAIN;
	} else {
		s->ready = true;
	}
	mutex_unlock(&cgsnap_cows_lock);
	return ret;
}

/* Also for a table that never claimed one (its entry points to itself). */
static void release_cow(struct cgsnap *s)
{
	mutex_lock(&cgsnap_cows_lock);
	list_del_init(&s->cow_entry);
	mutex_unlock(&cgsnap_cows_lock);
}

static void add_debugfs(struct cgsnap *s)
{
	char name[64];

	snprintf(name, sizeof(name), "%s@%llu",
		 dm_disk(dm_table_get_md(s->ti->table))->disk_name,
		 (unsigned long long)s->ti->begin);
	s->debugfs = cgsnap_stats_create(s, name, cgsnap_debugfs);
}

/* The teardown's wait for the copies into @s; once. */
static void drain_pes(struct cgsnap *s)
{
	if (s->pes_drained)
		return;
	s->pes_drained = true;
	/*
	 * Not wait_event() on the count: the pe that drops it to 0 would wake
	 * a snapshot that may be freed as soon as it sees the 0.
	 */
	if (!atomic_dec_and_test(&s->nr_pes))
		wait_for_completion(&s->pes_done);
}

/*
 * A handover's wait for the copies into @s (and the resubmissions they
 * release) to end, the target's own count left: polled, as dm-snapshot
 * polls the tracked chunks of a merge, so that no completion has to wake
 * a table that may go away; rare, and short but for throttled copies.
 * Return: false at @deadline (jiffies; 0: none) with copies left.
 */
static bool drain_copies(struct cgsnap *s, unsigned long deadline)
{
	while (atomic_read(&s->nr_pes) > 1) {
		if (deadline && time_after(jiffies, deadline))
			return false;
		usleep_range(5000, 10000);
	}
	return true;
}

/*
 * cgsnap_origin_switch()'s move: under o->lock and both s->lock, @src's
 * state to @dst.  Return: 0 or -EBUSY.
 */
static int move_state(struct cgsnap *src, struct cgsnap *dst)
{
	/* a copy the drain did not see, or an unfinished commit */
	if (WARN_ON_ONCE(!cgsnap_no_pending(src) || src->uncommitted))
		return -EBUSY;
	cgsnap_tables_handover(src, dst);
	cgsnap_store_handover(src, dst);
	dst->valid = src->valid;
	dst->overflowed = src->overflowed;
	dst->invalid_reason = src->invalid_reason;
	dst->invalid_error = src->invalid_error;
	dst->invalid_chunk = src->invalid_chunk;
	/* a pending invalid header: written from its resume or teardown */
	dst->drop_pending = src->drop_pending;
	dst->awaiting_handover = false;
	src->drop_pending = false;
	WRITE_ONCE(src->valid, false);
	src->invalid_reason = CGSNAP_INVALID_HANDOVER;
	src->handed_over = true;
	/* allocated past the end since the load checked (origin writes) */
	if (dst->valid &&
	    cgsnap_chunk_to_sector(dst, dst->next_free) > dst->cow_sectors)
		__cgsnap_out_of_space(dst);
	return 0;
}

/*
 * Move @src's exceptions, store and registration to @dst (see above).
 * @src is not live (suspended, never resumed, or being destroyed): no bio
 * of its device is in flight; @dst is built and not live yet.  The origin
 * writes that need a new copy in @src wait; the others go on; the copies
 * into @src drain (until @deadline at most: jiffies, 0 for none); the
 * state moves at once for every origin write (cgsnap_origin_switch()); the
 * writes that waited are mapped again, into @dst.
 *
 * Context: task context; called and returns with cgsnap_cows_lock held,
 * drops it for the drain.  With a @deadline, the wait for o->reg_lock is
 * killable.  Return: 0, or -EBUSY (nothing changed: the copies did not
 * end in time, or the wait for the lock was killed).
 */
static int handover(struct cgsnap *src, struct cgsnap *dst,
		    unsigned long deadline)
{
	unsigned int copies, parked;
	bool drained;
	int ret = -EBUSY;

	lockdep_assert_held(&cgsnap_cows_lock);
	src->handover_busy = true;
	dst->handover_busy = true;
	mutex_unlock(&cgsnap_cows_lock);

	cgsnap_origin_park(src);
	copies = atomic_read(&src->nr_pes) - 1;
	drained = drain_copies(src, deadline);
	if (drained) {
		/*
		 * The tails of the works that freed the last pes (none can
		 * start again: no pe is left to queue them), before the lock
		 * that every origin write's defer work needs.
		 */
		flush_workqueue(src->defer_wq);
		flush_workqueue(src->commit_wq);
		cancel_delayed_work_sync(&src->drop_work);
		drained = cgsnap_origin_lock(src, deadline != 0);
	}
	mutex_lock(&cgsnap_cows_lock);
	parked = cgsnap_origin_switch(src, drained ? dst : NULL, move_state,
				      &ret);
	if (!ret) {
		src->handover_dest = NULL;
		dst->handover_src = NULL;
		debugfs_remove(src->debugfs);	/* same name for a reload */
		src->debugfs = NULL;
		add_debugfs(dst);
		DMINFO("%s: took over %s (COW %llu sectors, %u copies drained, %u writes held)",
		       dm_table_device_name(dst->ti->table),
		       dm_table_device_name(src->ti->table),
		       (unsigned long long)dst->cow_sectors, copies, parked);
	}
	src->handover_busy = false;
	dst->handover_busy = false;
	wake_up_all(&cgsnap_handover_wait);
	return ret;
}

/* Under cgsnap_cows_lock: wait until no handover involves @s. */
static void wait_handover(struct cgsnap *s)
{
	lockdep_assert_held(&cgsnap_cows_lock);
	while (s->handover_busy) {
		mutex_unlock(&cgsnap_cows_lock);
		wait_event(cgsnap_handover_wait, !READ_ONCE(s->handover_busy));
		mutex_lock(&cgsnap_cows_lock);
	}
}

/*
 * A table going away: no taker finds it from here on.  A source hands
 * over to a taker that is ready (the taker's resume did not come first; no
 * time limit: the copies must end before the table goes), or cancels one
 * still being built; a taker leaves its source as it was.
 */
static void leave_handover(struct cgsnap *s)
{
	bool failed = false;
	struct cgsnap *other;

	mutex_lock(&cgsnap_cows_lock);
	s->dying = true;
	wait_handover(s);
	other = s->handover_dest;
	if (other && other->ready && !handover(s, other, 0))
		other = NULL;
	if (other && other->ready) {
		/*
		 * No store, no exceptions: the taker must never serve I/O, nor
		 * be taken over; and once this table is gone the origin is
		 * written without copies: its store is invalid (written so by
		 * the teardown's last header write).
		 */
		DMERR("%s: the handover from %s failed: the new table is invalid",
		      dm_table_device_name(other->ti->table),
		      dm_table_device_name(s->ti->table));
		spin_lock(&other->lock);
		WRITE_ONCE(other->valid, false);
		other->invalid_reason = CGSNAP_INVALID_HANDOVER;
		spin_unlock(&other->lock);
		other->handed_over = true;
		spin_lock(&s->lock);
		__cgsnap_invalidate(s, CGSNAP_INVALID_HANDOVER, -EBUSY, 0);
		spin_unlock(&s->lock);
		failed = true;
	}
	if (other) {
		other->handover_src = NULL;
		other->handover_cancelled = true;
		s->handover_dest = NULL;
	}
	other = s->handover_src;
	if (other) {
		other->handover_dest = NULL;
		s->handover_src = NULL;
	}
	mutex_unlock(&cgsnap_cows_lock);
	if (failed) {
		/* the invalid header on disk before the origin goes uncopied */
		flush_workqueue(s->commit_wq);
		cgsnap_drop_final(s);
	}
}

/*
 * The one teardown: of the destructor, and of every failure of the
 * constructor, so each step copes with what was never made.  No bio of the
 * snapshot device is in flight: dm suspended it, or it was never live.
 * Copies started by origin writes (cgsnap-origin), and the resubmissions
 * of the origin writes they release, may still be: once the snapshot is
 * out of its origin's list none can start, and s->nr_pes counts them
 * until done.  After that nothing is queued on the pool or waits for a
 * buffer or a commit; what may still run is the tail of a work item: the
 * defer work first (it queues copies on the pool), then the pool, then the
 * commit work and the retries of the invalid header, which it queues.  A
 * table that hands over does it first (leave_handover()): what is left is
 * its own, empty.
 */
static void cgsnap_free(struct cgsnap *s)
{
	if (s->merge)
		cgsnap_merge_stop_final(s);
	leave_handover(s);
	debugfs_remove(s->debugfs);
	/*
	 * Origin writes start copies into a snapshot whatever its device's
	 * state: once none can start, wait for those in flight (and for
	 * their origin writes parked on reads).
	 */
	cgsnap_origin_unregister(s);
	drain_pes(s);
	if (s->defer_wq)
		destroy_workqueue(s->defer_wq);
	WARN_ON_ONCE(!list_empty(&s->to_commit) || !list_empty(&s->buf_waiters));
	if (s->pool)
		cgblk_pool_destroy(s->pool);
	if (s->merge)	/* its resubmissions are done: the origin is free */
		cgsnap_merge_free(s);
	if (s->commit_wq) {
		flush_workqueue(s->commit_wq);
		cgsnap_drop_final(s);
		destroy_workqueue(s->commit_wq);
	}
	mempool_destroy(s->buf_pool);
	if (s->spare_pe)
		mempool_free(s->spare_pe, &s->pe_pool);
	if (s->spare_e)
		kmem_cache_free(cgsnap_exception_cache, s->spare_e);
	mempool_exit(&s->pe_pool);
	bioset_exit(&s->bs);
	cgsnap_free_tables(s);
	cgsnap_store_free(s);
	cgsnap_stats_free(s);
	release_cow(s);
	if (s->cow)
		dm_put_device(s->ti, s->cow);
	if (s->origin)
		dm_put_device(s->ti, s->origin);
	kfree(s->merge);	/* last: claim_cow() tells a merge by it */
	kfree(s);
}

/* cgsnap_store_read()'s callback: an exception of the store, at load. */
static int add_exception(void *ctx, cgsnap_chunk_t old, cgsnap_chunk_t new)
{
	struct cgsnap *s = ctx;

	if (s->merge)
		s->merge->nr_loaded++;
	return cgsnap_insert_exception(s, old, new, GFP_KERNEL);
}

/**
 * cgsnap_ctr - constructor of "cgsnap" and of "cgsnap-merge"
 * @ti: the target
 * @argc: argument count
 * @argv: <origin> <cow> <P|PO|N> <chunk_size> [<#features>
 *	[discard_zeroes_cow] [discard_passdown_origin]]; cgsnap-merge takes
 *	the first four, with a persistent store that has exceptions
 *
 * Context: task context (a table load); sleeps.
 * Return: 0 or a negative errno with ti->error set.
 */
int cgsnap_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct cgblk_pool_params params = {
		.max_workers = READ_ONCE(cgsnap_max_workers),
		.idle_ms = READ_ONCE(cgsnap_idle_timeout_ms),
	};
	struct dm_arg_set as = { .argc = argc, .argv = argv };
	unsigned int chunk_size;
	struct cgsnap *s;
	bool merge = ti->type == &cgsnap_merge_target;
	bool taker;
	char name[64];
	int ret;

	if (argc < 4 || (merge && argc != 4)) {
		ti->error = merge ? "requires 4 arguments" : "requires 4 or more arguments";
		return -EINVAL;
	}
	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (s && merge) {
		s->merge = kzalloc(sizeof(*s->merge), GFP_KERNEL);
		if (!s->merge) {
			kfree(s);
			s = NULL;
		}
	}
	if (!s) {
		ti->error = "Cannot allocate private snapshot structure";
		return -ENOMEM;
	}
	s->ti = ti;
	s->valid = true;
	spin_lock_init(&s->lock);
	spin_lock_init(&s->stat_lock);
	spin_lock_init(&s->commit_lock);
	spin_lock_init(&s->buf_lock);
	INIT_LIST_HEAD(&s->buf_waiters);
	INIT_LIST_HEAD(&s->stats);
	INIT_LIST_HEAD(&s->to_commit);
	INIT_LIST_HEAD(&s->cow_entry);
	INIT_DELAYED_WORK(&s->drop_work, cgsnap_drop_work);
	bio_list_init(&s->deferred);
	bio_list_init(&s->handover_parked);
	INIT_WORK(&s->commit_work, cgsnap_commit_work);
	INIT_WORK(&s->defer_work, cgsnap_defer_work);
	INIT_WORK(&s->release_work, cgsnap_release_work);
	INIT_LIST_HEAD(&s->origin_entry);
	INIT_LIST_HEAD(&s->parked);
	spin_lock_init(&s->track_lock);
	atomic_set(&s->nr_pes, 1);	/* the target's own */
	init_completion(&s->pes_done);

	dm_consume_args(&as, 4);
	ret = parse_features(s, &as, ti);
	if (ret)
		goto bad;
	ret = parse_store_type(s, argv[2], ti);
	if (ret)
		goto bad;
	if (merge && !s->persistent) {
		ti->error = "Merge requires a persistent exception store (P or PO)";
		ret = -EINVAL;
		goto bad;
	}
	if (kstrtouint(argv[3], 10, &chunk_size)) {
		ti->error = "Invalid chunk size";
		ret = -EINVAL;
		goto bad;
	}

	if (merge && !(dm_table_get_mode(ti->table) & COMPAT_OPEN_WRITE)) {
		ti->error = "A merge writes its origin: the table cannot be read-only";
		ret = -EINVAL;
		goto bad;
	}
	/*
	 * The COW device first: getting a device the table holds already
	 * with more access replaces its struct dm_dev (5.10), which would
	 * leave s->origin dangling when the two are the same.
	 */
	ret = dm_get_device(ti, argv[1], dm_table_get_mode(ti->table), &s->cow);
	if (ret) {
		ti->error = "Cannot get COW device";
		goto bad;
	}
	/* a snapshot reads its origin; a merge writes it */
	ret = dm_get_device(ti, argv[0], merge ? dm_table_get_mode(ti->table) :
			    COMPAT_OPEN_READ, &s->origin);
	if (ret) {
		ti->error = "Cannot get origin device";
		goto bad;
	}
	if (s->cow->bdev == s->origin->bdev) {
		ti->error = "COW device cannot be the same as origin device";
		ret = -EINVAL;
		goto bad;
	}
	s->cow_sectors = compat_bdev_nr_sectors(s->cow->bdev);
	if (chunk_size) {
		/* the store, or the live table taken over, may replace it */
		ret = cgsnap_set_chunk_size(s, chunk_size, &ti->error);
		if (ret)
			goto bad;
	}
	/* a snapshot its origin would refuse touches no store */
	ret = merge ? 0 : cgsnap_origin_check(s, &ti->error);
	if (ret)
		goto bad;
	/* before anything reads or writes the store */
	ret = claim_cow(s, chunk_size != 0, ti);
	if (ret < 0)
		goto bad;
	taker = ret;
	s->awaiting_handover = taker;

	ret = bioset_init(&s->bs, 64, 0, BIOSET_NEED_BVECS);
	if (ret) {
		ti->error = "Cannot allocate bio set";
		goto bad;
	}
	ret = mempool_init_slab_pool(&s->pe_pool, 64, cgsnap_pe_cache);
	if (ret) {
		ti->error = "Cannot allocate mempool for pending exceptions";
		goto bad;
	}
	/* a taker gets the store's state at the handover */
	ret = taker ? 0 : cgsnap_store_open(s, chunk_size != 0, &ti->error);
	if (ret)
		goto bad;
	ret = cgsnap_alloc_tables(s);	/* for the final chunk size */
	if (ret) {
		ti->error = "Unable to allocate hash table space";
		goto bad;
	}
	ret = taker ? 0 : cgsnap_store_read(s, add_exception, s, &ti->error);
	if (ret)
		goto bad;
	if (merge) {
		ret = cgsnap_merge_init(s, &ti->error);
		if (ret)
			goto bad;
		goto pool;	/* it resubmits the writes a step held */
	}
	ret = -ENOMEM;
	s->buf_pool = mempool_create(2, buf_alloc, buf_free,
				     (void *)(unsigned long)(s->chunk_size << SECTOR_SHIFT));
	if (!s->buf_pool) {
		ti->error = "Cannot allocate copy buffers";
		goto bad;
	}
	s->commit_wq = alloc_ordered_workqueue("cgsnap-commit", WQ_MEM_RECLAIM);
	s->defer_wq = alloc_workqueue("cgsnap-defer", WQ_MEM_RECLAIM | WQ_UNBOUND, 1);
	if (!s->commit_wq || !s->defer_wq) {
		ti->error = "Cannot allocate workqueues";
		goto bad;
	}
pool:
	snprintf(name, sizeof(name), "cgsnap-%s",
		 dm_disk(dm_table_get_md(ti->table))->disk_name);
	s->pool = cgblk_pool_create(name, &cgsnap_pool_ops, &params, s);
	if (IS_ERR(s->pool)) {
		ret = PTR_ERR(s->pool);
		s->pool = NULL;
		ti->error = "Cannot create the COW worker pool";
		goto bad;
	}

	ret = dm_set_target_max_io_len(ti, s->chunk_size);
	if (ret) {
		ti->error = "Cannot set the chunk size as the largest I/O";
		goto bad;
	}
	ti->private = s;
	ti->per_io_data_size = sizeof(struct cgsnap_track);
	if (merge) {
		/* a merge's writes go to the origin and the COW device */
		ti->num_flush_bios = 2;
		add_debugfs(s);
		goto ready;
	}
	ti->num_flush_bios = 1;
	if (s->discard_zeroes_cow)
		ti->num_discard_bios = s->discard_passdown_origin ? 2 : 1;
	/* As snapshot does it, but the origin is shared: say so. */
	if (s->discard_passdown_origin)
		DMWARN("%s: discard_passdown_origin: discards reach the shared origin %s",
		       dm_table_device_name(ti->table), s->origin->name);

	if (!taker) {
		add_debugfs(s);		/* a taker's replaces its source's */
		/* from here on, origin writes copy into the snapshot */
		ret = cgsnap_origin_register(s, &ti->error);
		if (ret)
			goto bad;
	}
ready:
	ret = set_ready(s, taker, ti);
	if (ret)
		goto bad;
	return 0;

bad:
	cgsnap_free(s);
	return ret;
}

/**
 * cgsnap_dtr - destructor of "cgsnap" and of "cgsnap-merge"
 * @ti: the target
 *
 * Context: task context; sleeps until the copies (or the merge step) in
 * flight end.
 */
void cgsnap_dtr(struct dm_target *ti)
{
	cgsnap_free(ti->private);
}

/*
 * A table that takes a live one over does it here, before its first I/O:
 * the live one must be suspended (it is, for a reload of its device).
 */
static int cgsnap_preresume(struct dm_target *ti)
{
	struct cgsnap *s = ti->private;
	struct cgsnap *src;
	bool same;
	int ret = 0;

	mutex_lock(&cgsnap_cows_lock);
	wait_handover(s);	/* its source's destructor may be at it */
	src = s->handover_src;
	if (s->handover_dest) {
		DMERR("%s: %s waits to take its exceptions over: remove or clear it first",
		      dm_table_device_name(ti->table),
		      dm_table_device_name(s->handover_dest->ti->table));
		ret = -EBUSY;
	} else if (src && src->live) {
		DMERR("%s: cannot take over the exceptions of %s until it is suspended",
		      dm_table_device_name(ti->table),
		      dm_table_device_name(src->ti->table));
		ret = -EINVAL;
	} else if (src) {
		/*
		 * A reload of the same device: the old table's destructor
		 * would wait as long right after a failed resume.
		 */
		same = dm_table_get_md(src->ti->table) == dm_table_get_md(ti->table);
		ret = handover(src, s, same ? 0 : (jiffies + CGSNAP_HANDOVER_TIMEOUT) ?: 1);
		if (ret)
			DMERR("%s: cannot take over %s (copies in flight %u s, or killed): retry",
			      dm_table_device_name(ti->table),
			      dm_table_device_name(src->ti->table),
			      CGSNAP_HANDOVER_TIMEOUT / HZ);
	}
	/* from here on no taker may start: the table may be live */
	if (!ret)
		s->live = true;
	mutex_unlock(&cgsnap_cows_lock);
	return ret;
}

static void cgsnap_postsuspend(struct dm_target *ti)
{
	struct cgsnap *s = ti->private;

	/*
	 * A pending invalidation is written before the suspend ends, or at
	 * least tried once more: a suspend must not wait for a COW device that
	 * may be replaced only once the suspend is over.  Then no retry: a
	 * suspended target issues no I/O.  Resume starts them again.
	 */
	flush_workqueue(s->commit_wq);
	flush_delayed_work(&s->drop_work);
	cancel_delayed_work_sync(&s->drop_work);
	mutex_lock(&cgsnap_cows_lock);
	s->live = false;	/* no I/O of its own: it may be taken over */
	mutex_unlock(&cgsnap_cows_lock);
}

static void cgsnap_resume(struct dm_target *ti)
{
	struct cgsnap *s = ti->private;
	bool drop;

	spin_lock(&s->lock);
	drop = s->drop_pending;
	spin_unlock(&s->lock);
	if (drop)	/* the header write that failed before the suspend */
		queue_delayed_work(s->commit_wq, &s->drop_work, 0);
}

/**
 * cgsnap_status - status of "cgsnap" and of "cgsnap-merge", as dm-snapshot's
 * @ti: the target
 * @type: INFO: "Invalid", "Merge failed", "Overflow" or
 *	"<allocated>/<total> <metadata>" sectors; TABLE: the table line
 * @status_flags: unused
 * @result: where to write
 * @maxlen: its size
 *
 * Context: task context; takes s->lock.
 */
void cgsnap_status(struct dm_target *ti, status_type_t type,
		   unsigned int status_flags, char *result, unsigned int maxlen)
{
	struct cgsnap *s = ti->private;
	sector_t total, allocated, metadata;
	unsigned int sz = 0, nr_features;

	switch (type) {
	case STATUSTYPE_INFO:
		spin_lock(&s->lock);
		if (!s->valid) {
			DMEMIT("Invalid");
		} else if (s->awaiting_handover) {
			DMEMIT("Unknown");	/* its store is its source's */
		} else if (s->merge && s->merge->failed) {
			DMEMIT("Merge failed");
		} else if (s->overflowed) {
			DMEMIT("Overflow");
		} else {
			cgsnap_store_usage(s, &total, &allocated, &metadata);
			DMEMIT("%llu/%llu %llu", (unsigned long long)allocated,
			       (unsigned long long)total,
			       (unsigned long long)metadata);
		}
		spin_unlock(&s->lock);
		break;
	case STATUSTYPE_TABLE:
		DMEMIT("%s %s %s %u", s->origin->name, s->cow->name,
		       !s->persistent ? "N" : s->overflow_ok ? "PO" : "P",
		       s->chunk_size);
		nr_features = s->discard_zeroes_cow + s->discard_passdown_origin;
		if (nr_features) {
			DMEMIT(" %u", nr_features);
			if (s->discard_zeroes_cow)
				DMEMIT(" discard_zeroes_cow");
			if (s->discard_passdown_origin)
				DMEMIT(" discard_passdown_origin");
		}
		break;
	default:
		/* STATUSTYPE_IMA (5.15+): nothing measured */
		break;
	}
}

/**
 * cgsnap_iterate_devices - the origin, then the COW device
 * @ti: the target
 * @fn: called for each
 * @data: passed to @fn
 *
 * Context: task context.
 * Return: the first non-zero return of @fn, or 0.
 */
int cgsnap_iterate_devices(struct dm_target *ti,
			   iterate_devices_callout_fn fn, void *data)
{
	struct cgsnap *s = ti->private;
	int ret = fn(ti, s->origin, 0, ti->len, data);

	if (!ret)
		ret = fn(ti, s->cow, 0, s->cow_sectors, data);
	return ret;
}

static struct target_type cgsnap_target = {
	.name = "cgsnap",
	.version = {1, 1, 0},	/* 1.1: reload handover */
	.features = COMPAT_DM_TARGET_NOWAIT,
	.module = THIS_MODULE,
	.ctr = cgsnap_ctr,
	.dtr = cgsnap_dtr,
	.map = cgsnap_map,
	.end_io = cgsnap_end_io,
	.postsuspend = cgsnap_postsuspend,
	.preresume = cgsnap_preresume,
	.resume = cgsnap_resume,
	.status = cgsnap_status,
	.iterate_devices = cgsnap_iterate_devices,
};

static int __init dm_cgsnap_init(void)
{
	int ret = -ENOMEM;

	cgsnap_exception_cache = KMEM_CACHE(cgsnap_exception, 0);
	cgsnap_pe_cache = KMEM_CACHE(cgsnap_pe, 0);
	if (!cgsnap_exception_cache || !cgsnap_pe_cache)
		goto out;
	cgsnap_debugfs = debugfs_create_dir(KBUILD_MODNAME, cgblk_debugfs_dir());
	ret = dm_register_target(&cgsnap_target);
	if (ret) {
		DMERR("register failed %d", ret);
		goto out_debugfs;
	}
	ret = dm_register_target(&cgsnap_origin_target);
	if (ret) {
		DMERR("Origin target register failed %d", ret);
		goto out_snapshot;
	}
	ret = dm_register_target(&cgsnap_merge_target);
	if (ret) {
		DMERR("Merge target register failed %d", ret);
		goto out_origin;
	}
	return 0;

out_origin:
	dm_unregister_target(&cgsnap_origin_target);
out_snapshot:
	dm_unregister_target(&cgsnap_target);
out_debugfs:
	debugfs_remove_recursive(cgsnap_debugfs);
out:
	kmem_cache_destroy(cgsnap_pe_cache);
	kmem_cache_destroy(cgsnap_exception_cache);
	return ret;
}

static void __exit dm_cgsnap_exit(void)
{
	dm_unregister_target(&cgsnap_merge_target);
	dm_unregister_target(&cgsnap_origin_target);
	dm_unregister_target(&cgsnap_target);
	debugfs_remove_recursive(cgsnap_debugfs);
	kmem_cache_destroy(cgsnap_pe_cache);
	kmem_cache_destroy(cgsnap_exception_cache);
}

module_init(dm_cgsnap_init);
module_exit(dm_cgsnap_exit);

MODULE_AUTHOR("The cgblk authors");
MODULE_DESCRIPTION("device-mapper cgsnap: cgroup-charged copy-on-write snapshots");
MODULE_LICENSE("GPL");
CGBLK_IMPORT_NS();
