// SPDX-License-Identifier: GPL-2.0
/*
 * dm-cgsnap map paths: the target's map function, which never sleeps and
 * never waits for I/O, and its fallback, the defer work, which maps with
 * GFP_NOIO the bios whose allocation failed and zeroes discarded chunks.
 * See cgsnap.h for the life of a write; the copy starts in cow.c.
 */
#include <linux/blkdev.h>
#include <linux/slab.h>

#include "cgsnap.h"

/**
 * cgsnap_remap_to_cow - point a bio at its chunk's copy on the COW device
 * @s: the snapshot
 * @bio: a bio within one chunk, its sector still the target's
 * @new: the COW chunk of the bio's origin chunk
 *
 * Context: the map path, the defer work or the commit work; not under a
 * spinlock and not in a completion (bio_set_dev() associates a blkg).
 */
void cgsnap_remap_to_cow(struct cgsnap *s, struct bio *bio, cgsnap_chunk_t new)
{
	bio_set_dev(bio, s->cow->bdev);
	bio->bi_iter.bi_sector = cgsnap_chunk_to_sector(s, new) +
		(dm_target_offset(s->ti, bio->bi_iter.bi_sector) &
		 (s->chunk_size - 1));
}

/* cgsnap_map() set the origin as the bio's device already. */
static void remap_to_origin(struct cgsnap *s, struct bio *bio)
{
	bio->bi_iter.bi_sector = dm_target_offset(s->ti, bio->bi_iter.bi_sector);
}

/**
 * cgsnap_remap - a mapped bio to its chunk's COW copy, or to the origin
 * @s: the snapshot (or merge)
 * @bio: a bio within one chunk, its device the origin already, its sector
 *	still the target's
 * @to_cow: whether the chunk has a copy
 * @new: the COW chunk, if so
 *
 * Context: as cgsnap_remap_to_cow().
 */
void cgsnap_remap(struct cgsnap *s, struct bio *bio, bool to_cow,
		  cgsnap_chunk_t new)
{
	if (to_cow)
		cgsnap_remap_to_cow(s, bio, new);
	else
		remap_to_origin(s, bio);
}

static bool cgsnap_is_nowait(struct bio *bio)
{
	return bio->bi_opf & REQ_NOWAIT;
}

/**
 * cgsnap_start_pe - a new pending exception
 * @s: the snapshot
 * @pe: the pe, preallocated
 * @e: its exception, preallocated
 * @old: origin chunk
 * @new: COW chunk
 * @bio: the write that needs the copy; the pe is charged to its cgroups
 * @queue_bio: queue @bio on the pe (a write through the snapshot); an
 *	origin write (origin.c) waits on the pe's origin_bios instead
 *
 * The caller queues the pe on its worker once it is done with it.
 *
 * Context: under s->lock.
 */
void cgsnap_start_pe(struct cgsnap *s, struct cgsnap_pe *pe,
		     struct cgsnap_exception *e, cgsnap_chunk_t old,
		     cgsnap_chunk_t new, struct bio *bio, bool queue_bio)
{
	lockdep_assert_held(&s->lock);
	memset(pe, 0, sizeof(*pe));
	pe->s = s;
	pe->e = e;
	e->old = old;
	e->new = new;
	bio_list_init(&pe->bios);
	bio_list_init(&pe->origin_bios);
	if (queue_bio)
		bio_list_add(&pe->bios, bio);
	INIT_LIST_HEAD(&pe->followers);
	INIT_LIST_HEAD(&pe->follow_entry);
	pe->phase = CGSNAP_PE_START;
	cgblk_charge_from_bio(&pe->job.work.charge, bio);
	pe->job.work.bytes = s->chunk_size << SECTOR_SHIFT;
	atomic_inc(&s->nr_pes);
	cgsnap_add_pending(s, pe);
}

static struct hlist_head *tracked_bucket(struct cgsnap *s, cgsnap_chunk_t chunk)
{
	return &s->tracked[chunk & (ARRAY_SIZE(s->tracked) - 1)];
}

/**
 * cgsnap_track_chunk - track a bio by its chunk until it completes
 * @s: the snapshot
 * @bio: a bio of the target, about to be remapped
 * @chunk: its origin chunk
 *
 * A snapshot's read sent to the origin, so that an origin write to the
 * chunk waits for it (cgsnap_end_io()); a merge's write sent to the COW
 * device, so that the merge of the chunk waits for it (merge.c).  Under
 * s->lock, so that a copy committed (a merge step started) after this sees
 * it.
 *
 * Context: any context, under s->lock.
 */
void cgsnap_track_chunk(struct cgsnap *s, struct bio *bio, cgsnap_chunk_t chunk)
{
	struct cgsnap_track *t = dm_per_bio_data(bio, sizeof(*t));
	unsigned long flags;

	t->chunk = chunk;
	t->tracked = true;
	spin_lock_irqsave(&s->track_lock, flags);
	hlist_add_head(&t->node, tracked_bucket(s, chunk));
	spin_unlock_irqrestore(&s->track_lock, flags);
}

/**
 * cgsnap_chunk_is_tracked - is a tracked bio of the chunk in flight (a
 *	snapshot's read on the origin, a merge's write on the COW device)
 * @s: the snapshot
 * @chunk: origin chunk
 *
 * Context: under s->track_lock.
 * Return: true if one is.
 */
bool cgsnap_chunk_is_tracked(struct cgsnap *s, cgsnap_chunk_t chunk)
{
	struct cgsnap_track *t;

	lockdep_assert_held(&s->track_lock);
	hlist_for_each_entry(t, tracked_bucket(s, chunk), node)
		if (t->chunk == chunk)
			return true;
	return false;
}

/**
 * cgsnap_end_io - the target's end_io: a tracked read is no longer tracked
 * @ti: the target
 * @bio: a bio the target mapped
 * @error: its status
 *
 * Releases the origin writes parked on the read's chunk (if it was the
 * last read of it) from the release work.
 *
 * Context: any context, including hard interrupts.
 * Return: DM_ENDIO_DONE.
 */
int cgsnap_end_io(struct dm_target *ti, struct bio *bio, blk_status_t *error)
{
	struct cgsnap_track *t = dm_per_bio_data(bio, sizeof(*t));
	struct cgsnap *s = ti->private;
	unsigned long flags;
	bool release;

	if (!t->tracked)
		return DM_ENDIO_DONE;
	spin_lock_irqsave(&s->track_lock, flags);
	hlist_del(&t->node);
	t->tracked = false;
	release = !list_empty(&s->parked);
	spin_unlock_irqrestore(&s->track_lock, flags);
	if (release)
		queue_work(s->defer_wq, &s->release_work);
	return DM_ENDIO_DONE;
}

/*
 * Maps one bio.  @can_sleep is false on the map path (GFP_NOWAIT) and true
 * in the defer work (GFP_NOIO).  Every decision is taken under s->lock;
 * what may not be done under it (bio_set_dev(), queueing the copy) is done
 * after the one unlock.
 *
 * Return: DM_MAPIO_REMAPPED, DM_MAPIO_SUBMITTED (the bio waits on a copy),
 * DM_MAPIO_KILL, or DM_MAPIO_REQUEUE: the bio cannot be mapped without
 * waiting here, because it is REQ_NOWAIT and would wait for a copy, or
 * (map path only) an allocation failed; the caller fails the first with
 * BLK_STS_AGAIN and defers the second.
 */
static int __cgsnap_map(struct cgsnap *s, struct bio *bio, bool can_sleep)
{
	gfp_t gfp = can_sleep ? GFP_NOIO : GFP_NOWAIT | __GFP_NOWARN;
	sector_t offset = dm_target_offset(s->ti, bio->bi_iter.bi_sector);
	cgsnap_chunk_t old = cgsnap_sector_to_chunk(s, offset);
	struct cgsnap_exception *e, *new_e = NULL;
	struct cgsnap_pe *pe, *new_pe = NULL, *started = NULL;
	cgsnap_chunk_t new = 0;
	bool to_cow = false;
	int r;

	if (can_sleep) {
		new_pe = mempool_alloc(&s->pe_pool, GFP_NOIO);
		new_e = kmem_cache_alloc(cgsnap_exception_cache,
					 GFP_NOIO | __GFP_NOFAIL);
	}

	spin_lock(&s->lock);
	if (!s->valid || (s->overflowed && bio_data_dir(bio) == WRITE)) {
		r = DM_MAPIO_KILL;
		goto out_unlock;
	}

	e = cgsnap_lookup(s, old);
	if (e) {
		new = e->new;
		to_cow = true;
		r = DM_MAPIO_REMAPPED;
		goto out_unlock;
	}
	if (bio_data_dir(bio) != WRITE) {
		cgsnap_track_chunk(s, bio, old);
		r = DM_MAPIO_REMAPPED;		/* to the origin */
		goto out_unlock;
	}
	if (cgsnap_is_nowait(bio)) {
		r = DM_MAPIO_REQUEUE;		/* it would wait for a copy */
		goto out_unlock;
	}

	pe = cgsnap_lookup_pending(s, old);
	if (pe) {
		bio_list_add(&pe->bios, bio);
		pe->nr_waiters++;
		r = DM_MAPIO_SUBMITTED;
		goto out_unlock;
	}

	if (!new_pe) {
		new_pe = mempool_alloc(&s->pe_pool, gfp);
		new_e = kmem_cache_alloc(cgsnap_exception_cache, gfp);
		if (!new_pe || !new_e) {
			r = DM_MAPIO_REQUEUE;	/* to the defer work */
			goto out_unlock;
		}
	}
	if (cgsnap_store_alloc_chunk(s, &new)) {
		__cgsnap_out_of_space(s);
		r = DM_MAPIO_KILL;
		goto out_unlock;
	}
	atomic64_inc(&s->cow_allocated);
	cgsnap_start_pe(s, new_pe, new_e, old, new, bio, true);
	started = new_pe;
	new_pe = NULL;
	new_e = NULL;
	r = DM_MAPIO_SUBMITTED;

out_unlock:
	spin_unlock(&s->lock);
	if (r == DM_MAPIO_REMAPPED)
		cgsnap_remap(s, bio, to_cow, new);
	if (started)
		cgblk_pool_queue(s->pool, &started->job.work);
	if (new_pe)
		mempool_free(new_pe, &s->pe_pool);
	if (new_e)
		kmem_cache_free(cgsnap_exception_cache, new_e);
	return r;
}

/*
 * Discards (discard_zeroes_cow): the chunks of the range that have an
 * exception are zeroed on the COW device, the others are left alone (as
 * dm-snapshot, no copy is made for a discard).  With
 * discard_passdown_origin, the second copy of the discard goes to the
 * origin.  Zeroing sleeps: the defer work does it.
 */
static void zero_discard(struct cgsnap *s, struct bio *bio)
{
	sector_t start = dm_target_offset(s->ti, bio->bi_iter.bi_sector);
	sector_t end = start + bio_sectors(bio);
	int ret = 0;

	while (start < end && !ret) {
		cgsnap_chunk_t old = cgsnap_sector_to_chunk(s, start);
		sector_t next = cgsnap_chunk_to_sector(s, old + 1);
		sector_t len = min(next, end) - start;
		struct cgsnap_exception *e;
		bool found = false;
		sector_t dst = 0;

		/*
		 * Not "dst != 0" for "found": a transient (N) store has no
		 * header and gives its first copy COW chunk 0.
		 */
		spin_lock(&s->lock);
		if (!s->valid || s->overflowed) {
			ret = -EIO;
		} else {
			e = cgsnap_lookup(s, old);
			if (e) {
				found = true;
				dst = cgsnap_chunk_to_sector(s, e->new) +
				      (start & (s->chunk_size - 1));
			}
		}
		spin_unlock(&s->lock);
		if (found)
			ret = blkdev_issue_zeroout(s->cow->bdev, dst, len,
						   GFP_NOIO, 0);
		start = next;
	}
	bio->bi_status = errno_to_blk_status(ret);
	bio_endio(bio);
}

/**
 * cgsnap_map - the target's map function
 * @ti: the target
 * @bio: the bio, within one chunk (max_io_len), or a flush or discard
 *
 * Context: the submitter's; never sleeps and never waits for I/O.
 * Return: a DM_MAPIO_* code.
 */
int cgsnap_map(struct dm_target *ti, struct bio *bio)
{
	struct cgsnap_track *t = dm_per_bio_data(bio, sizeof(*t));
	struct cgsnap *s = ti->private;
	int ret;

	t->tracked = false;

	if (bio->bi_opf & REQ_PREFLUSH) {
		bio_set_dev(bio, s->cow->bdev);
		return DM_MAPIO_REMAPPED;
	}
	/*
	 * From 6.0, dm's clones carry no blkg (dm copies the original bio's
	 * only when it submits a remapped clone, after this returns): find the
	 * issuer's here, in the submitter — the current task, or for
	 * written-back pages the cgroup that dirtied them — so that the bio and
	 * the copy it may cause are charged to the issuer even when the bio
	 * waits and is resubmitted by a worker.
	 */
	cgblk_bio_set_dev(bio, s->origin->bdev);
	if (bio_op(bio) == REQ_OP_DISCARD) {
		/*
		 * A discard is a write: an invalid or overflowed snapshot
		 * fails it, both copies, as snapshot_map() does (zeroing an
		 * Overflow snapshot's chunks would change what it reads).
		 */
		if (!READ_ONCE(s->valid) || READ_ONCE(s->overflowed))
			return DM_MAPIO_KILL;
		if (s->discard_passdown_origin && dm_bio_get_target_bio_nr(bio)) {
			remap_to_origin(s, bio);
			return DM_MAPIO_REMAPPED;
		}
		if (cgsnap_is_nowait(bio)) {
			bio_wouldblock_error(bio);
			return DM_MAPIO_SUBMITTED;
		}
		goto defer;
	}
	ret = __cgsnap_map(s, bio, false);
	if (ret != DM_MAPIO_REQUEUE)
		return ret;
	if (cgsnap_is_nowait(bio)) {
		bio_wouldblock_error(bio);
		return DM_MAPIO_SUBMITTED;
	}
defer:
	spin_lock(&s->lock);
	bio_list_add(&s->deferred, bio);
	queue_work(s->defer_wq, &s->defer_work);	/* before it may end */
	spin_unlock(&s->lock);
	return DM_MAPIO_SUBMITTED;
}

/**
 * cgsnap_defer_work - maps the bios the map path could not
 * @work: s->defer_work
 *
 * Context: workqueue (WQ_MEM_RECLAIM); sleeps in allocation only on
 * mempools that are refilled by I/O already in flight.
 */
void cgsnap_defer_work(struct work_struct *work)
{
	struct cgsnap *s = container_of(work, struct cgsnap, defer_work);
	struct bio_list bios;
	struct bio *bio;

	spin_lock(&s->lock);
	bios = s->deferred;
	bio_list_init(&s->deferred);
	spin_unlock(&s->lock);

	while ((bio = bio_list_pop(&bios))) {
		if (bio_op(bio) == REQ_OP_DISCARD) {
			zero_discard(s, bio);
			continue;
		}
		switch (__cgsnap_map(s, bio, true)) {
		case DM_MAPIO_REMAPPED:
			submit_bio_noacct(bio);
			break;
		case DM_MAPIO_SUBMITTED:
			break;
		case DM_MAPIO_KILL:
			bio_io_error(bio);
			break;
		default:
			/*
			 * REQUEUE: only a REQ_NOWAIT bio, and cgsnap_map()
			 * never defers one.
			 */
			WARN_ON_ONCE(1);
			bio_wouldblock_error(bio);
			break;
		}
	}
}
