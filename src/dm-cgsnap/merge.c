// SPDX-License-Identifier: GPL-2.0
/*
 * dm-cgsnap merge: the target "cgsnap-merge", as dm-snapshot's
 * "snapshot-merge":
 *
 *   cgsnap-merge <origin> <cow> <P|PO> <chunk_size>
 *
 * Loaded into the origin's device in place of cgsnap-origin, it copies the
 * snapshot's exceptions back into the origin in the background, so that
 * the device ends up reading as the snapshot did, and serves the device
 * meanwhile: a chunk not merged yet is read and written on the COW device,
 * a merged one (or one the snapshot never copied) on the origin.  The
 * on-disk steps are dm-snap-persistent's (store.c): a step takes the
 * exceptions at the end of the metadata, copies them back, then commits
 * their removal, so that a crash, a remove or a suspend between two steps
 * leaves a store that the next cgsnap-merge or snapshot-merge (or the other
 * way round) finishes to the same origin.  Where snapshot-merge takes the
 * run of consecutive chunks at the end (one chunk for scattered writes), a
 * step reads the last 1 MiB of entries of the area at once, a bio per run,
 * copies them back, and commits in one area write those of them no write
 * came to meanwhile (below); after a step that could keep less than half,
 * or that took longer than CGSNAP_MERGE_STEP_SECS, the next reads half as
 * many (m->step_max), after one that kept all, twice as many.
 *
 * The merge I/O (COW reads, origin writes, metadata) is issued by the
 * target's own merge work, associated with the cgroup of the task that
 * resumed the table: that cgroup's io.stat shows it, its io.max limits it.
 *
 * A step holds writes only while it commits: it reads its chunks and
 * writes them back to the origin with writes to them still going to the
 * COW device, each marking its chunk dirty (as one in flight at the step's
 * start does: writes to the COW device are tracked, cgsnap_track_chunk()).
 * Then it keeps the entries from the end of the area up to the first dirty
 * one, whose data the origin now has as they are; writes to those wait on
 * m->queued (never in the map function) while it commits; then they leave
 * the exception table and the writes that waited are mapped again, now to
 * the origin.  A dirty chunk stays an exception (its origin copy is not
 * read while it is one) and is left to a later step.  After
 * CGSNAP_MERGE_TRIES steps in a row whose last entry was dirty, a step
 * holds that entry alone: waits for the writes to it in flight, reads it
 * again, writes it back and commits.  So a write of another cgroup waits
 * for a merge throttled by its resumer's io.max only for one metadata
 * write.
 *
 * The origin is held for the merge (origin.c): refused while it has other
 * cgsnap snapshots; no snapshot of it, and no cgsnap-origin of it on
 * another device, until the merge target goes.
 */
#include <linux/bitmap.h>
#include <linux/blkdev.h>
#include <linux/bsearch.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/wait.h>

#include "cgsnap.h"

/* Bytes one step copies at most (one bio each way). */
#define CGSNAP_MERGE_BYTES	SZ_1M
/* A step that takes longer makes the next one smaller. */
#define CGSNAP_MERGE_STEP_SECS	2
/* Steps that kept nothing before one holds its last entry alone. */
#define CGSNAP_MERGE_TRIES	3

static int cmp_chunk(const void *a, const void *b)
{
	cgsnap_chunk_t x = *(const cgsnap_chunk_t *)a;
	cgsnap_chunk_t y = *(const cgsnap_chunk_t *)b;

	return x < y ? -1 : x > y;
}

/* The index of @chunk in the step under way, or -1.  Under s->lock. */
static int step_index(struct cgsnap_merge *m, cgsnap_chunk_t chunk)
{
	cgsnap_chunk_t *p;

	if (!m->nr)
		return -1;
	p = bsearch(&chunk, m->step_chunks, m->nr, sizeof(*m->step_chunks),
		    cmp_chunk);
	return p ? p - m->step_chunks : -1;
}

/*
 * Maps one bio of the merge target (not a flush), its device the origin
 * already: REMAPPED or SUBMITTED (queued for the step of its chunk), or
 * REQUEUE for a REQ_NOWAIT bio that would wait.  A write to a chunk the
 * step under way reads goes on to the COW device and leaves the chunk to
 * a later step.
 */
static int __merge_map(struct cgsnap *s, struct bio *bio)
{
	struct cgsnap_merge *m = s->merge;
	sector_t offset = dm_target_offset(s->ti, bio->bi_iter.bi_sector);
	cgsnap_chunk_t chunk = cgsnap_sector_to_chunk(s, offset), new = 0;
	struct cgsnap_exception *e;
	bool to_cow = false;
	int r = DM_MAPIO_REMAPPED, i;

	spin_lock(&s->lock);
	if (!s->valid)
		goto out_unlock;		/* as snapshot-merge: the origin */
	e = cgsnap_lookup(s, chunk);
	if (!e)
		goto out_unlock;		/* merged, or never copied */
	i = bio_data_dir(bio) == WRITE ? step_index(m, chunk) : -1;
	if (i >= 0 && m->reading) {
		if (!__test_and_set_bit(i, m->dirty))
			atomic64_inc(&m->nr_dirty);
	} else if (i >= 0) {
		if (bio->bi_opf & REQ_NOWAIT) {
			r = DM_MAPIO_REQUEUE;
			goto out_unlock;
		}
		bio_list_add(&m->queued, bio);
		atomic64_inc(&m->nr_queued);
		r = DM_MAPIO_SUBMITTED;
		goto out_unlock;
	}
	new = e->new;
	to_cow = true;
	if (bio_data_dir(bio) == WRITE)
		cgsnap_track_chunk(s, bio, chunk);
out_unlock:
	spin_unlock(&s->lock);
	if (r == DM_MAPIO_REMAPPED)
		cgsnap_remap(s, bio, to_cow, new);
	return r;
}

/*
 * The map function: never sleeps, never waits.
 * Context: the submitter's.  Return: a DM_MAPIO_* code.
 */
static int merge_map(struct dm_target *ti, struct bio *bio)
{
	struct cgsnap_track *t = dm_per_bio_data(bio, sizeof(*t));
	struct cgsnap *s = ti->private;
	int r;

	t->tracked = false;
	if (bio->bi_opf & REQ_PREFLUSH) {
		bio_set_dev(bio, dm_bio_get_target_bio_nr(bio) ? s->cow->bdev :
								s->origin->bdev);
		return DM_MAPIO_REMAPPED;
	}
	/* the issuer's blkcg, found in the submitter (see cgsnap_map()) */
	cgblk_bio_set_dev(bio, s->origin->bdev);
	r = __merge_map(s, bio);
	if (r == DM_MAPIO_REQUEUE) {
		bio_wouldblock_error(bio);
		r = DM_MAPIO_SUBMITTED;
	}
	return r;
}

/*
 * A tracked write to the COW device ended: a step may wait for it.
 * Context: any, including hard interrupts.  Return: DM_ENDIO_DONE.
 */
static int merge_end_io(struct dm_target *ti, struct bio *bio,
			blk_status_t *error)
{
	struct cgsnap_track *t = dm_per_bio_data(bio, sizeof(*t));
	struct cgsnap *s = ti->private;
	unsigned long flags;

	if (!t->tracked)
		return DM_ENDIO_DONE;
	spin_lock_irqsave(&s->track_lock, flags);
	hlist_del(&t->node);
	t->tracked = false;
	spin_unlock_irqrestore(&s->track_lock, flags);
	/* the table lives until its bios have ended: dm waits for them */
	if (wq_has_sleeper(&s->merge->drain))
		wake_up(&s->merge->drain);
	return DM_ENDIO_DONE;
}

/* Is a write to the step's last entry in flight on the COW device? */
static bool last_tracked(struct cgsnap_merge *m)
{
	struct cgsnap *s = m->s;
	unsigned long flags;
	bool busy;

	spin_lock_irqsave(&s->track_lock, flags);
	busy = cgsnap_chunk_is_tracked(s, m->ents[0].old);
	spin_unlock_irqrestore(&s->track_lock, flags);
	return busy;
}

static bool merge_should_run(struct cgsnap_merge *m)
{
	bool run;

	spin_lock(&m->s->lock);
	run = m->running && !m->done && !m->failed;
	spin_unlock(&m->s->lock);
	return run;
}

/* The bios of one half of a step, in flight together. */
struct merge_batch {
	atomic_t pending;
	blk_status_t status;
	struct completion done;
};

static void batch_end_io(struct bio *bio)
{
	struct merge_batch *b = bio->bi_private;

	if (bio->bi_status)
		WRITE_ONCE(b->status, bio->bi_status);
	bio_put(bio);
	if (atomic_dec_and_test(&b->pending))
		complete(&b->done);
}

/*
 * The reads (@write false) or the origin writes of the first @count of a
 * step's @n entries, a bio per run of chunks consecutive on both devices,
 * all in flight at once, charged to the resumer; entry i's chunk is slot
 * n - 1 - i of the buffer, so that a run is contiguous in it.  The COW
 * chunks are read whole (a 4Kn COW device takes no shorter read); the last
 * chunk of an origin whose size is not a multiple of the chunk size is
 * written only up to the origin's end, as snapshot-merge.  The writes are
 * FUA: on the origin before the commit drops the exceptions.  Each bio is submitted
 * before the next is allocated (s->bs's reserve is refilled by those in
 * flight).  Return: 0 or a negative errno (an exception past the origin's
 * end: -EIO, as a copy of one fails).
 */
static int batch_io(struct cgsnap_merge *m, unsigned int n,
		    unsigned int count, bool write)
{
	struct cgsnap *s = m->s;
	sector_t end = compat_bdev_nr_sectors(s->origin->bdev);
	unsigned int chunk = s->chunk_size << SECTOR_SHIFT;
	struct merge_batch b;
	int i, j, ret = 0;

	atomic_set(&b.pending, 1);
	b.status = BLK_STS_OK;
	init_completion(&b.done);
	for (i = count - 1; i >= 0; i = j - 1) {
		const struct cgsnap_merge_ent *lo = &m->ents[i];
		sector_t dst = cgsnap_chunk_to_sector(s, lo->old);
		sector_t sectors;
		struct bio *bio;

		j = i;
		while (j > 0 && m->ents[j - 1].old == m->ents[j].old + 1 &&
		       m->ents[j - 1].new == m->ents[j].new + 1)
			j--;
		sectors = (sector_t)(i - j + 1) << s->chunk_shift;
		if (dst + ((sector_t)(i - j) << s->chunk_shift) >= end) {
			ret = -EIO;	/* a chunk of the run past the end */
			break;
		}
		if (write)
			bio = cgsnap_buf_bio(s, s->origin->bdev, dst,
					     m->buf + (n - 1 - i) * chunk,
					     min(sectors, end - dst),
					     REQ_OP_WRITE | REQ_FUA | REQ_SYNC,
					     GFP_NOIO);
		else
			bio = cgsnap_buf_bio(s, s->cow->bdev,
					     cgsnap_chunk_to_sector(s, lo->new),
					     m->buf + (n - 1 - i) * chunk, sectors,
					     REQ_OP_READ, GFP_NOIO);
		if (!bio) {
			ret = -ENOMEM;
			break;
		}
		cgblk_bio_associate(bio, &m->charge);
		bio->bi_private = &b;
		bio->bi_end_io = batch_end_io;
		atomic_inc(&b.pending);
		submit_bio(bio);
	}
	/* in steps of 10 s: a read at a tight io.max is no hung task */
	if (!atomic_dec_and_test(&b.pending))
		while (!wait_for_completion_io_timeout(&b.done, 10 * HZ))
			;
	if (!write)
		cgsnap_buf_read_done(m->buf + (n - count) * chunk,
				     count << s->chunk_shift);
	return ret ?: blk_status_to_errno(READ_ONCE(b.status));
}

/*
 * The step's chunks, from its @n entries (the last entry of the area
 * first), none dirty but those a write to the COW device is in flight on.
 * An entry the table maps elsewhere is an entry of a chunk the store has
 * twice, which neither dm-snapshot nor cgsnap writes: the step ends before
 * it, and the merge stops there rather than guess which copy is the
 * snapshot's.  Under s->lock.  Return: the step's entries.
 */
static unsigned int step_begin(struct cgsnap_merge *m, unsigned int n)
{
	struct cgsnap *s = m->s;
	struct cgsnap_exception *e;
	unsigned long flags;
	unsigned int k;

	for (k = 0; k < n; k++) {
		e = cgsnap_lookup(s, m->ents[k].old);
		if (!e || e->new != m->ents[k].new)
			break;
		m->step_chunks[k] = m->ents[k].old;
	}
	n = k;
	sort(m->step_chunks, n, sizeof(*m->step_chunks), cmp_chunk, NULL);
	bitmap_zero(m->dirty, n);
	spin_lock_irqsave(&s->track_lock, flags);
	for (k = 0; k < n; k++)
		if (cgsnap_chunk_is_tracked(s, m->step_chunks[k]))
			__set_bit(k, m->dirty);
	spin_unlock_irqrestore(&s->track_lock, flags);
	m->nr = n;
	m->reading = n > 0;
	return n;
}

/* The step's entries from the first up to the first dirty one.  Under s->lock. */
static unsigned int step_clean(struct cgsnap_merge *m, unsigned int n)
{
	unsigned int c;

	for (c = 0; c < n; c++)
		if (test_bit(step_index(m, m->ents[c].old), m->dirty))
			break;
	return c;
}

/*
 * The writes to the step's first @c entries wait from now on, and no other
 * chunk is the step's.  Under s->lock.
 */
static void step_hold(struct cgsnap_merge *m, unsigned int c)
{
	unsigned int i;

	for (i = 0; i < c; i++)
		m->step_chunks[i] = m->ents[i].old;
	sort(m->step_chunks, c, sizeof(*m->step_chunks), cmp_chunk, NULL);
	m->nr = c;
	m->reading = false;
}

/*
 * One step (see the top of this file); the writes that waited for it go
 * to @release.  A stop (suspend, remove) that comes while the step reads,
 * waits or writes back abandons it before its commit: nothing changed, the
 * next resume does it again.  Return: 1 (more to do), 0 (nothing left),
 * -ECANCELED (abandoned) or another negative errno.
 */
static int merge_step(struct cgsnap_merge *m, struct bio_list *release)
{
	struct cgsnap *s = m->s;
	unsigned long start = jiffies;
	unsigned int n, c = 0, i;
	bool held = false;
	int ret;

	ret = cgsnap_store_prepare_merge(s, m->ents, m->step_max);
	if (ret <= 0)
		return ret;

	spin_lock(&s->lock);
	n = step_begin(m, ret);
	spin_unlock(&s->lock);
	if (!n)
		return -EUCLEAN;
	atomic64_inc(&m->steps);

	ret = merge_should_run(m) ? batch_io(m, n, n, false) : -ECANCELED;
	if (!ret) {
		spin_lock(&s->lock);
		c = step_clean(m, n);
		/* its last entry written again and again: held alone */
		held = !c && m->contended >= CGSNAP_MERGE_TRIES;
		if (held)
			step_hold(m, 1);
		spin_unlock(&s->lock);
	}
	if (held) {
		atomic64_inc(&m->waited);
		wait_event_idle(m->drain, !last_tracked(m) || !merge_should_run(m));
		c = 1;
		ret = merge_should_run(m) ? batch_io(m, n, 1, false) : -ECANCELED;
	}
	/* still marking the chunks written meanwhile: they stay exceptions */
	if (!ret && c)
		ret = merge_should_run(m) ? batch_io(m, n, c, true) : -ECANCELED;
	if (!ret && c && !held) {
		spin_lock(&s->lock);
		c = step_clean(m, c);
		if (c)
			step_hold(m, c);
		spin_unlock(&s->lock);
	}
	/* written back but not committed: the next resume does it again */
	if (!ret && c)
		ret = merge_should_run(m) ?
		      cgsnap_store_commit_merge(s, m->ents, c) : -ECANCELED;

	spin_lock(&s->lock);
	if (!ret)
		for (i = 0; i < c; i++)
			cgsnap_remove_exception(s, m->ents[i].old, m->ents[i].new);
	m->nr = 0;
	m->reading = false;
	bio_list_merge(release, &m->queued);
	bio_list_init(&m->queued);
	spin_unlock(&s->lock);
	if (ret)
		return ret;
	atomic64_add(c, &m->merged);
	m->contended = c ? 0 : m->contended + 1;
	/*
	 * Fewer entries at a time after a step whose chunks were written as
	 * it merged, or that took long (a suspend waits for a step's I/O);
	 * more after one that kept all, quickly.
	 */
	if (2 * c < n || time_after(jiffies, start + CGSNAP_MERGE_STEP_SECS * HZ))
		m->step_max = max(m->step_max / 2, 1U);
	else if (c == n && !held)
		m->step_max = min(m->step_max * 2, m->max_chunks);
	return 1;
}

/*
 * The merge: steps until done, failed or stopped (a suspend, the
 * destructor).  Its own ordered workqueue: waiting for the devices'
 * admission here holds up the merge alone; the writes that waited for a
 * step are resubmitted from the workers of their own cgroups.
 */
static void merge_work(struct work_struct *work)
{
	struct cgsnap_merge *m = container_of(work, struct cgsnap_merge, work);
	struct cgsnap *s = m->s;
	struct cgblk_charge_scope scope;
	struct bio_list release;
	struct bio *bio;
	int ret = 1;

	while (ret > 0 && merge_should_run(m)) {
		bio_list_init(&release);
		cgblk_charge_enter(&m->charge, &scope);
		ret = merge_step(m, &release);
		cgblk_charge_exit(&scope);
		/* mapped again: to the origin now, or to the COW on failure */
		while ((bio = bio_list_pop(&release))) {
			struct cgsnap_track *t = dm_per_bio_data(bio, sizeof(*t));

			if (__merge_map(s, bio) == DM_MAPIO_REMAPPED)
				cgsnap_resubmit(s, &t->job, CGSNAP_JOB_SUBMIT, bio);
		}
		cond_resched();
	}
	if (ret > 0)
		return;
	if (ret == -ECANCELED) {
		atomic64_inc(&m->abandoned);
		return;
	}
	spin_lock(&s->lock);
	if (ret)
		m->failed = true;
	else
		m->done = true;
	spin_unlock(&s->lock);
	if (!ret)
		cgsnap_origin_merge_done(m);
	if (ret)
		DMERR("%s: merge failed (%d) after %llu chunks: stopped, the rest stays on the COW",
		      dm_table_device_name(s->ti->table), ret,
		      (unsigned long long)atomic64_read(&m->merged));
	else
		DMINFO("%s: merge complete (%llu chunks)",
		       dm_table_device_name(s->ti->table),
		       (unsigned long long)atomic64_read(&m->merged));
}

static void merge_start(struct cgsnap_merge *m)
{
	spin_lock(&m->s->lock);
	m->running = true;
	spin_unlock(&m->s->lock);
	queue_work(m->wq, &m->work);
}

/*
 * Waits for the step under way (which a stop abandons where it can: before
 * its origin write): after it, the merge issues no I/O.
 */
static void merge_stop(struct cgsnap_merge *m)
{
	spin_lock(&m->s->lock);
	m->running = false;
	spin_unlock(&m->s->lock);
	wake_up(&m->drain);
	flush_work(&m->work);
}

/*
 * The merge runs while the target is resumed, charged to the task that
 * resumed it last; a resume retries a merge an I/O error stopped.
 * Context: task context (dm's resume, suspend); sleeps.
 */
static void merge_resume(struct dm_target *ti)
{
	struct cgsnap_merge *m = ((struct cgsnap *)ti->private)->merge;

	WARN_ON_ONCE(m->running);		/* stopped: the work is idle */
	cgblk_charge_put(&m->charge);
	cgblk_charge_from_current(&m->charge);
	spin_lock(&m->s->lock);
	m->failed = false;
	spin_unlock(&m->s->lock);
	merge_start(m);
}

static void merge_presuspend(struct dm_target *ti)
{
	merge_stop(((struct cgsnap *)ti->private)->merge);
}

static void merge_presuspend_undo(struct dm_target *ti)
{
	merge_start(((struct cgsnap *)ti->private)->merge);
}

/**
 * cgsnap_merge_init - the merge of a cgsnap-merge target, at its load
 * @s: the target, its persistent store read (s->merge->nr_loaded counted)
 * @error: where to put the ti->error text
 *
 * Context: task context (the constructor).
 * Return: 0, or a negative errno with *@error set (cgsnap_merge_free()
 * then frees what was made).
 */
int cgsnap_merge_init(struct cgsnap *s, char **error)
{
	struct cgsnap_merge *m = s->merge;
	unsigned int chunk = s->chunk_size << SECTOR_SHIFT;

	m->s = s;
	bio_list_init(&m->queued);
	init_waitqueue_head(&m->drain);
	INIT_WORK(&m->work, merge_work);
	if (!s->valid) {
		*error = "Snapshot is invalid: it cannot be merged";
		return -EINVAL;
	}
	if (!m->nr_loaded) {
		*error = "COW device has no exceptions to merge";
		return -EINVAL;
	}
	m->max_chunks = max(CGSNAP_MERGE_BYTES / chunk, 1U);
	m->step_max = m->max_chunks;
	m->buf = kvmalloc(m->max_chunks * chunk, GFP_KERNEL);
	m->ents = kvmalloc_array(m->max_chunks, sizeof(*m->ents), GFP_KERNEL);
	m->step_chunks = kvmalloc_array(m->max_chunks, sizeof(*m->step_chunks),
					GFP_KERNEL);
	m->dirty = bitmap_zalloc(m->max_chunks, GFP_KERNEL);
	m->wq = alloc_ordered_workqueue("cgsnap-merge", WQ_MEM_RECLAIM);
	if (!m->buf || !m->ents || !m->step_chunks || !m->dirty || !m->wq) {
		*error = "Cannot allocate the merge buffer and workqueue";
		return -ENOMEM;
	}
	return cgsnap_origin_claim_merge(m, error);
}

/**
 * cgsnap_merge_stop_final - the teardown's first step: no merge from here on
 * @s: the target
 *
 * Context: task context (the teardown); waits for the step under way.
 */
void cgsnap_merge_stop_final(struct cgsnap *s)
{
	struct cgsnap_merge *m = s->merge;

	if (m->wq) {
		merge_stop(m);
		destroy_workqueue(m->wq);
		m->wq = NULL;
	}
}

/**
 * cgsnap_merge_free - free what cgsnap_merge_init() made
 * @s: the target, its merge stopped and the writes it released resubmitted
 *	(s->merge itself is freed with @s)
 *
 * Context: task context (the teardown).
 */
void cgsnap_merge_free(struct cgsnap *s)
{
	struct cgsnap_merge *m = s->merge;

	cgsnap_merge_stop_final(s);
	kvfree(m->buf);
	kvfree(m->ents);
	kvfree(m->step_chunks);
	bitmap_free(m->dirty);
	cgblk_charge_put(&m->charge);
	cgsnap_origin_release_merge(m);
}

struct target_type cgsnap_merge_target = {
	.name = "cgsnap-merge",
	.version = {1, 0, 0},
	.features = COMPAT_DM_TARGET_NOWAIT,
	.module = THIS_MODULE,
	.ctr = cgsnap_ctr,
	.dtr = cgsnap_dtr,
	.map = merge_map,
	.end_io = merge_end_io,
	.presuspend = merge_presuspend,
	.presuspend_undo = merge_presuspend_undo,
	.resume = merge_resume,
	.status = cgsnap_status,
	.iterate_devices = cgsnap_iterate_devices,
};
