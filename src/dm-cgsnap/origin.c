// SPDX-License-Identifier: GPL-2.0
/*
 * dm-cgsnap origins: the registry of the cgsnap snapshots of each origin
 * device, and the target "cgsnap-origin" over an origin, as dm-snapshot's
 * "snapshot-origin":
 *
 *   cgsnap-origin <origin>
 *
 * Reads pass straight through.  A write first makes every cgsnap snapshot
 * of the origin copy the chunks it covers that the snapshot has not copied
 * yet: the copies are pending exceptions of those snapshots, started on the
 * snapshots' per-cgroup workers of the writer's cgroup (the origin read
 * and each COW write are charged to it).  One origin read serves all the
 * copies one write starts: the snapshot with the largest chunk reads it,
 * the others get their part of its buffer copied (cow.c: share_read()).
 * The write waits, queued on one of the copies (the reader, if it started
 * them; never in the map function), and is mapped again when that copy
 * is committed and no read of the chunk through the snapshot is still in
 * flight on the origin (cgsnap_release_origin_bios()); the next pass finds
 * the other copies done, or waits again.
 *
 * A snapshot registers at the end of its constructor and leaves in its
 * destructor.  Registration waits for the origin writes already on their
 * way to the origin (mapped before the snapshot was there) to complete, so
 * that a snapshot shows the origin as it was when it was created.  In-tree
 * "snapshot" targets on the same origin are not seen (dm-snapshot's
 * registry is not exported), nor do they see cgsnap-origin's writes.
 *
 * Locking: cgsnap_origins_lock (a mutex, never held while sleeping on
 * anything but itself) for the registry, each origin's users and count of
 * snapshots, and the cgsnap-origin targets.  o->reg_lock (a mutex) is held
 * across a registration, which waits for the origin's writes in flight,
 * and by the origin's defer work, which sleeps in allocation for each
 * snapshot: whoever holds it sees a stable snapshot list.  o->lock (a
 * spinlock, never from hard IRQ) for the snapshot list as the map path
 * walks it, the minimum chunk size and the write epoch; s->lock nests
 * inside it.
 */
#include <linux/blkdev.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/wait.h>

#include "cgsnap.h"

static DEFINE_MUTEX(cgsnap_origins_lock);
static LIST_HEAD(cgsnap_origins);
static LIST_HEAD(cgsnap_origin_targets);	/* cgsnap_origins_lock */

/* One cgsnap-origin target. */
struct cgsnap_origin_target {
	struct dm_target *ti;
	struct dm_dev *dev;
	struct cgsnap_origin *o;
	struct list_head entry;		/* cgsnap_origin_targets */
	dev_t md_dev;			/* the device of the target's own table */
	/* writes whose copies could not be allocated on the map path */
	spinlock_t lock;
	struct bio_list deferred;	/* lock */
	struct work_struct defer_work;
	struct workqueue_struct *wq;
};

/* Per origin write. */
struct cgsnap_origin_io {
	struct cgsnap_origin_target *ot;
	unsigned int epoch;		/* of o->writes[] it counts in ... */
	bool counted;			/* ... once sent to the origin */
	struct cgsnap_job job;		/* its release by a snapshot (cow.c) */
};

static struct cgsnap_origin *origin_get(dev_t dev)
{
	struct cgsnap_origin *o;

	lockdep_assert_held(&cgsnap_origins_lock);
	list_for_each_entry(o, &cgsnap_origins, entry) {
		if (o->dev == dev) {
			o->users++;
			return o;
		}
	}
	o = kzalloc(sizeof(*o), GFP_KERNEL);
	if (!o)
		return NULL;
	o->dev = dev;
	o->users = 1;
	mutex_init(&o->reg_lock);
	spin_lock_init(&o->lock);
	INIT_LIST_HEAD(&o->snapshots);
	atomic_set(&o->writes[0], 0);
	atomic_set(&o->writes[1], 0);
	init_waitqueue_head(&o->wait);
	list_add_tail(&o->entry, &cgsnap_origins);
	return o;
}

static void origin_put(struct cgsnap_origin *o)
{
	lockdep_assert_held(&cgsnap_origins_lock);
	if (--o->users)
		return;
	list_del(&o->entry);
	kfree(o);
}

/* A snapshot that registered (or tried to) with @o is gone. */
static void origin_leave(struct cgsnap_origin *o)
{
	mutex_lock(&cgsnap_origins_lock);
	o->nr_snapshots--;
	origin_put(o);
	mutex_unlock(&cgsnap_origins_lock);
}

/* Under o->lock. */
static void update_min_chunk(struct cgsnap_origin *o)
{
	unsigned int min = 0;
	struct cgsnap *s;

	list_for_each_entry(s, &o->snapshots, origin_entry)
		if (!min || s->chunk_size < min)
			min = s->chunk_size;
	WRITE_ONCE(o->min_chunk, min);	/* origin_map() reads it unlocked */
}

/* Under cgsnap_origins_lock: may a snapshot of @dev register? */
static int may_register(dev_t dev, char **error)
{
	struct cgsnap_origin_target *ot;
	struct cgsnap_origin *o;

	lockdep_assert_held(&cgsnap_origins_lock);
	list_for_each_entry(ot, &cgsnap_origin_targets, entry) {
		if (ot->md_dev == dev) {
			*error = "Origin is a cgsnap-origin device: name the device under it";
			return -EINVAL;
		}
	}
	list_for_each_entry(o, &cgsnap_origins, entry) {
		if (o->merging && o->merge_md == dev) {
			*error = "Origin is a cgsnap-merge device: name the device under it";
			return -EINVAL;
		}
		if (o->merging && o->dev == dev) {
			*error = "Origin is being merged into (cgsnap-merge): no new snapshot";
			return -EBUSY;
		}
	}
	return 0;
}

/**
 * cgsnap_origin_check - would a snapshot of this origin be refused
 * @s: the snapshot, its origin device got
 * @error: where to put the ti->error text
 *
 * The refusals of cgsnap_origin_register(), before the constructor touches
 * the COW device (which it may not, for a table that is refused); the
 * registration checks again.
 *
 * Context: task context (the constructor).
 * Return: 0, or -EINVAL or -EBUSY with *@error set.
 */
int cgsnap_origin_check(struct cgsnap *s, char **error)
{
	int ret;

	mutex_lock(&cgsnap_origins_lock);
	ret = may_register(s->origin->bdev->bd_dev, error);
	mutex_unlock(&cgsnap_origins_lock);
	return ret;
}

/**
 * cgsnap_origin_register - make a snapshot's origin copy into it
 * @s: the snapshot, complete but for this
 * @error: where to put the ti->error text
 *
 * From here on every write through a cgsnap-origin of the snapshot's
 * origin copies into it first.  Waits for the origin writes mapped before
 * (on their way to the origin) to complete.
 *
 * A snapshot whose origin is itself a cgsnap-origin device is refused:
 * writes through that device copy into the snapshots of the device under
 * it, never into this one.
 *
 * Context: task context (the constructor); sleeps.
 * Return: 0, or -EINVAL, -ENOMEM or -EINTR with *@error set.
 */
int cgsnap_origin_register(struct cgsnap *s, char **error)
{
	dev_t dev = s->origin->bdev->bd_dev;
	struct cgsnap_origin *o;
	unsigned int old;
	int ret;

	mutex_lock(&cgsnap_origins_lock);
	ret = may_register(dev, error);
	if (ret) {
		mutex_unlock(&cgsnap_origins_lock);
		return ret;
	}
	o = origin_get(dev);
	if (!o) {
		mutex_unlock(&cgsnap_origins_lock);
		*error = "Cannot register the snapshot with its origin";
		return -ENOMEM;
	}
	o->nr_snapshots++;	/* from here on, no cgsnap-origin into dev */
	mutex_unlock(&cgsnap_origins_lock);

	/*
	 * Killable, the lock and the waits: a write held below (a suspended
	 * device under the origin) would hold the table load for as long.
	 */
	if (mutex_lock_killable(&o->reg_lock))
		goto interrupted;
	/*
	 * The epoch about to be reused must be empty: a registration killed
	 * in its wait left writes in it.  No write joins it meanwhile: they
	 * count in the current one.
	 */
	if (wait_event_killable(o->wait,
				!atomic_read(&o->writes[READ_ONCE(o->epoch) ^ 1])))
		goto interrupted_locked;
	spin_lock(&o->lock);
	list_add_tail(&s->origin_entry, &o->snapshots);
	update_min_chunk(o);
	old = o->epoch;
	o->epoch ^= 1;
	spin_unlock(&o->lock);
	/* Writes of the old epoch are in flight on the origin only. */
	if (wait_event_killable(o->wait, !atomic_read(&o->writes[old])))
		goto interrupted_locked;
	mutex_unlock(&o->reg_lock);
	s->o = o;
	return 0;

interrupted_locked:
	spin_lock(&o->lock);
	list_del_init(&s->origin_entry);	/* if it was added */
	update_min_chunk(o);
	spin_unlock(&o->lock);
	mutex_unlock(&o->reg_lock);
interrupted:
	origin_leave(o);
	*error = "Interrupted waiting for the origin's writes in flight";
	return -EINTR;
}

/**
 * cgsnap_origin_unregister - stop copying into a snapshot
 * @s: the snapshot (registered or not)
 *
 * Copies into @s that origin writes started may still be in flight: the
 * destructor waits for them (s->nr_pes).
 *
 * Context: task context (the destructor, or a failed registration).
 */
void cgsnap_origin_unregister(struct cgsnap *s)
{
	struct cgsnap_origin *o = s->o;

	if (!o)
		return;
	mutex_lock(&o->reg_lock);
	spin_lock(&o->lock);
	list_del_init(&s->origin_entry);
	update_min_chunk(o);
	spin_unlock(&o->lock);
	mutex_unlock(&o->reg_lock);
	s->o = NULL;
	origin_leave(o);
}

/**
 * cgsnap_origin_claim_merge - hold an origin for a merge into it
 * @m: the merge, its snapshot's origin device got
 * @error: where to put the ti->error text
 *
 * A merge writes the origin under every snapshot of it and copies into
 * none: it is refused while any cgsnap snapshot of the origin exists (the
 * one being merged was removed first), and no snapshot registers with the
 * origin until the merge target goes.  A second merge into one origin is
 * refused too.
 *
 * Context: task context (the constructor).
 * Return: 0, or -EBUSY or -ENOMEM with *@error set.
 */
int cgsnap_origin_claim_merge(struct cgsnap_merge *m, char **error)
{
	struct cgsnap *s = m->s;
	struct cgsnap_origin *o;
	int ret = 0;

	mutex_lock(&cgsnap_origins_lock);
	o = origin_get(s->origin->bdev->bd_dev);
	if (!o) {
		*error = "Cannot allocate the origin's registry entry";
		ret = -ENOMEM;
	} else if (o->nr_snapshots) {
		*error = "Origin has cgsnap snapshots: remove them before the merge";
		ret = -EBUSY;
	} else if (o->merging) {
		*error = "Origin is being merged into already";
		ret = -EBUSY;
	} else {
		struct cgsnap_origin_target *ot;
		dev_t md = disk_devt(dm_disk(dm_table_get_md(s->ti->table)));

		/* its writes would reach the origin past the merge */
		list_for_each_entry(ot, &cgsnap_origin_targets, entry) {
			if (ot->o == o && ot->md_dev != md) {
				*error = "Origin is written through another cgsnap-origin device";
				ret = -EBUSY;
				break;
			}
		}
	}
	if (ret) {
		if (o)
			origin_put(o);
	} else {
		o->merging = true;
		o->merge_done = false;
		o->merge_md = disk_devt(dm_disk(dm_table_get_md(s->ti->table)));
		m->o = o;
	}
	mutex_unlock(&cgsnap_origins_lock);
	return ret;
}

/**
 * cgsnap_origin_merge_done - the merge holding the origin has nothing left
 * @m: the merge
 *
 * From here on its device may be reloaded with cgsnap-origin.
 *
 * Context: task context (the merge work).
 */
void cgsnap_origin_merge_done(struct cgsnap_merge *m)
{
	mutex_lock(&cgsnap_origins_lock);
	m->o->merge_done = true;
	mutex_unlock(&cgsnap_origins_lock);
}

/**
 * cgsnap_origin_release_merge - the merge target goes
 * @m: the merge (its claim made or not)
 *
 * Context: task context (the destructor).
 */
void cgsnap_origin_release_merge(struct cgsnap_merge *m)
{
	if (!m->o)
		return;
	mutex_lock(&cgsnap_origins_lock);
	m->o->merging = false;
	m->o->merge_done = false;
	origin_put(m->o);
	mutex_unlock(&cgsnap_origins_lock);
	m->o = NULL;
}

/**
 * cgsnap_origin_park - make the origin writes that need a new copy in @s
 *	wait, while a handover drains the copies into it
 * @s: the snapshot (registered)
 *
 * Writes whose chunks @s has copied, or is copying, go on (they wait on
 * the copy as always); a write that needs a new copy waits on
 * s->handover_parked (or fails with EAGAIN if REQ_NOWAIT) until
 * cgsnap_origin_switch() maps it again.
 *
 * Context: task context; takes o->lock and s->lock.
 */
void cgsnap_origin_park(struct cgsnap *s)
{
	struct cgsnap_origin *o = s->o;

	spin_lock(&o->lock);
	spin_lock(&s->lock);
	s->handing_over = true;
	spin_unlock(&s->lock);
	spin_unlock(&o->lock);
}

/**
 * cgsnap_origin_lock - take the origin's registration lock for a switch
 * @s: the snapshot (registered)
 * @killable: a fatal signal interrupts the wait
 *
 * A registration holds it while it waits (killably) for writes in flight,
 * the defer work while it allocates for one write.
 *
 * Context: task context; sleeps.  Return: true with o->reg_lock held.
 */
bool cgsnap_origin_lock(struct cgsnap *s, bool killable)
{
	struct mutex *lock = &s->o->reg_lock;

	if (!killable) {
		mutex_lock(lock);
		return true;
	}
	return !mutex_lock_killable(lock);
}

/**
 * cgsnap_origin_switch - the end of a handover
 * @src: the snapshot parked (cgsnap_origin_park()), its copies drained
 * @dst: its new table, o->reg_lock held (cgsnap_origin_lock()); NULL when
 *	the handover did not come this far: @src stays
 * @move: moves @src's state to @dst, called under o->lock and both
 *	s->lock, so that no origin write sees the state half-moved; a
 *	non-zero return leaves @src in place
 * @ret: @move's return (untouched without @dst)
 *
 * On success @dst takes @src's place in the origin's list.  Either way the
 * parked writes are released: each is mapped again from the worker of its
 * cgroup in the pool of whichever table now holds the store.
 *
 * Context: task context; releases o->reg_lock if @dst.
 * Return: how many writes were parked.
 */
unsigned int cgsnap_origin_switch(struct cgsnap *src, struct cgsnap *dst,
				  cgsnap_move_fn move, int *ret)
{
	struct cgsnap_origin *o = src->o;
	struct cgsnap *holder = src;
	struct bio_list parked;
	unsigned int n;

	spin_lock(&o->lock);
	spin_lock(&src->lock);
	if (dst) {
		lockdep_assert_held(&o->reg_lock);
		spin_lock_nested(&dst->lock, SINGLE_DEPTH_NESTING);
		*ret = move(src, dst);
		spin_unlock(&dst->lock);
	}
	src->handing_over = false;
	parked = src->handover_parked;
	bio_list_init(&src->handover_parked);
	spin_unlock(&src->lock);
	if (dst && !*ret) {
		list_replace_init(&src->origin_entry, &dst->origin_entry);
		update_min_chunk(o);
		dst->o = o;
		src->o = NULL;
		holder = dst;
	}
	spin_unlock(&o->lock);
	if (dst)
		mutex_unlock(&o->reg_lock);
	n = bio_list_size(&parked);
	cgsnap_release_origin_bios(holder, &parked);
	return n;
}

/*
 * Takes a pe and an exception for @s: the spares the defer work left
 * first, else GFP_NOWAIT.  Under s->lock.
 */
static bool get_pe(struct cgsnap *s, struct cgsnap_pe **pe,
		   struct cgsnap_exception **e)
{
	*pe = s->spare_pe;
	*e = s->spare_e;
	s->spare_pe = NULL;
	s->spare_e = NULL;
	if (!*pe)
		*pe = mempool_alloc(&s->pe_pool, GFP_NOWAIT | __GFP_NOWARN);
	if (!*e)
		*e = kmem_cache_alloc(cgsnap_exception_cache,
				      GFP_NOWAIT | __GFP_NOWARN);
	if (*pe && *e)
		return true;
	/* keep what was got for the next try */
	s->spare_pe = *pe;
	s->spare_e = *e;
	return false;
}

/*
 * One snapshot's part of an origin write of [start, end): every chunk of
 * @s in it without a complete exception gets a copy (or has one in
 * progress); @bio waits on the first of them unless *@queued already.
 * A new copy of the chunk that holds @start goes on @group (the caller
 * makes one read serve them all), the others on their workers; if @bio
 * would wait on such a copy, it is left to the caller (*@on_group), which
 * queues it on the group's leader.  Under o->lock and s->lock.
 *
 * Return: 0, or -EAGAIN: the write would wait and is REQ_NOWAIT, or a copy
 * could not be allocated before @bio was queued anywhere.
 */
static int __origin_write_snapshot(struct cgsnap *s, struct bio *bio,
				   sector_t start, sector_t end, bool *queued,
				   struct list_head *group, bool *on_group)
{
	cgsnap_chunk_t first = cgsnap_sector_to_chunk(s, start);
	cgsnap_chunk_t chunk = first;
	cgsnap_chunk_t last;
	struct cgsnap_exception *e;
	struct cgsnap_pe *pe;
	cgsnap_chunk_t new;

	if (!s->valid || start >= s->ti->len)
		return 0;
	last = cgsnap_sector_to_chunk(s, min_t(sector_t, end, s->ti->len) - 1);
	for (; chunk <= last; chunk++) {
		/*
		 * Pending first: a parked pe (cow.c: finish_pe()) has its
		 * exception complete already, but reads of the old chunk are
		 * still in flight on the origin.
		 */
		pe = cgsnap_lookup_pending(s, chunk);
		if (!pe && cgsnap_lookup(s, chunk))
			continue;
		if (!pe && s->handing_over) {
			/* a handover drains @s: wait for its end */
			if (bio->bi_opf & REQ_NOWAIT)
				return *queued ? 0 : -EAGAIN;
			if (!*queued) {
				bio_list_add(&s->handover_parked, bio);
				*queued = true;
			}
			return 0;	/* mapped again from scratch */
		}
		if (!pe) {
			if (bio->bi_opf & REQ_NOWAIT)
				return *queued ? 0 : -EAGAIN;
			if (!get_pe(s, &pe, &e))
				return *queued ? 0 : -EAGAIN;
			if (cgsnap_store_alloc_chunk(s, &new)) {
				/* as dm-snapshot: an origin write invalidates */
				s->spare_pe = pe;
				s->spare_e = e;
				__cgsnap_invalidate(s, CGSNAP_INVALID_FULL,
						    -ENOSPC, 0);
				return 0;
			}
			atomic64_inc(&s->cow_allocated);
			cgsnap_start_pe(s, pe, e, chunk, new, bio, false);
			if (chunk == first) {
				list_add_tail(&pe->follow_entry, group);
				if (!*queued)
					*on_group = *queued = true;
			} else {
				cgblk_pool_queue(s->pool, &pe->job.work);
			}
		} else if (bio->bi_opf & REQ_NOWAIT && !*queued) {
			return -EAGAIN;
		}
		if (!*queued) {
			bio_list_add(&pe->origin_bios, bio);
			*queued = true;
		}
	}
	return 0;
}

/*
 * The new copies of the chunks that hold one sector, one per snapshot:
 * power-of-two chunks aligned on their size, each holds the smaller ones.
 * The one with the largest chunk reads the origin for all; the others
 * follow it (cow.c: share_read()).  @bio, if not NULL, waits on the
 * leader, whose read the followers' copies start from, so that when it is
 * released the followers are mostly done too (mapped again, it waits for
 * any that is not).  Under o->lock; never sleeps.
 */
static void start_group(struct list_head *group, struct bio *bio)
{
	struct cgsnap_pe *pe, *leader = NULL;

	list_for_each_entry(pe, group, follow_entry)
		if (!leader || pe->s->chunk_size > leader->s->chunk_size)
			leader = pe;
	if (!leader)
		return;
	list_del_init(&leader->follow_entry);
	list_splice_init(group, &leader->followers);
	if (bio) {	/* before the leader starts: until then it is ours */
		spin_lock(&leader->s->lock);
		bio_list_add(&leader->origin_bios, bio);
		spin_unlock(&leader->s->lock);
	}
	cgblk_pool_queue(leader->s->pool, &leader->job.work);
}

/*
 * Maps an origin write: DM_MAPIO_REMAPPED when every snapshot has its
 * chunks (counted in the current epoch: the caller sends it to the
 * origin), DM_MAPIO_SUBMITTED when it waits on a copy, DM_MAPIO_REQUEUE
 * when it cannot be either without waiting here.  Never sleeps.
 */
static int origin_write(struct cgsnap_origin_target *ot, struct bio *bio)
{
	struct cgsnap_origin_io *io = dm_per_bio_data(bio, sizeof(*io));
	struct cgsnap_origin *o = ot->o;
	sector_t start = dm_target_offset(ot->ti, bio->bi_iter.bi_sector);
	sector_t end = start + bio_sectors(bio);
	bool queued = false, on_group = false;
	LIST_HEAD(group);
	struct cgsnap *s;
	int r = 0;

	spin_lock(&o->lock);
	list_for_each_entry(s, &o->snapshots, origin_entry) {
		spin_lock(&s->lock);
		r = __origin_write_snapshot(s, bio, start, end, &queued,
					    &group, &on_group);
		spin_unlock(&s->lock);
		if (r)
			break;
	}
	start_group(&group, on_group ? bio : NULL);
	if (!r && !queued) {
		io->epoch = o->epoch;
		io->counted = true;
		atomic_inc(&o->writes[io->epoch]);
	}
	spin_unlock(&o->lock);
	if (r)
		return DM_MAPIO_REQUEUE;
	return queued ? DM_MAPIO_SUBMITTED : DM_MAPIO_REMAPPED;
}

static void origin_defer(struct cgsnap_origin_target *ot, struct bio *bio)
{
	/* under the lock: the bio may end, and @ot go, once it is visible */
	spin_lock(&ot->lock);
	bio_list_add(&ot->deferred, bio);
	queue_work(ot->wq, &ot->defer_work);
	spin_unlock(&ot->lock);
}

/*
 * After origin_write() outside the map function: send the write on, or
 * defer it again (REQUEUE: the spares were taken meanwhile); SUBMITTED:
 * it waits on a copy.
 */
static void origin_write_done(struct cgsnap_origin_target *ot,
			      struct bio *bio, int r)
{
	if (r == DM_MAPIO_REMAPPED)
		submit_bio_noacct(bio);
	else if (r == DM_MAPIO_REQUEUE)
		origin_defer(ot, bio);
}

/*
 * Gives each snapshot of the origin a spare pe and exception, from its
 * mempool (GFP_NOIO: refilled by copies in flight, which need nothing of
 * this work).  Under o->reg_lock: the snapshots stay.
 */
static void fill_spares(struct cgsnap_origin *o)
{
	struct cgsnap_exception *e;
	struct cgsnap_pe *pe;
	struct cgsnap *s;

	lockdep_assert_held(&o->reg_lock);
	list_for_each_entry(s, &o->snapshots, origin_entry) {
		pe = mempool_alloc(&s->pe_pool, GFP_NOIO);
		e = kmem_cache_alloc(cgsnap_exception_cache,
				     GFP_NOIO | __GFP_NOFAIL);
		spin_lock(&s->lock);
		if (!s->spare_pe) {
			s->spare_pe = pe;
			pe = NULL;
		}
		if (!s->spare_e) {
			s->spare_e = e;
			e = NULL;
		}
		spin_unlock(&s->lock);
		if (pe)
			mempool_free(pe, &s->pe_pool);
		if (e)
			kmem_cache_free(cgsnap_exception_cache, e);
	}
}

/*
 * The origin writes the map path or a release could not allocate copies
 * for: each snapshot gets spares first, so that each pass starts a copy in
 * every snapshot that needs one, and the write waits on one of them.
 */
static void origin_defer_work(struct work_struct *work)
{
	struct cgsnap_origin_target *ot =
		container_of(work, struct cgsnap_origin_target, defer_work);
	struct bio_list bios;
	struct bio *bio;
	int r;

	spin_lock(&ot->lock);
	bios = ot->deferred;
	bio_list_init(&ot->deferred);
	spin_unlock(&ot->lock);

	while ((bio = bio_list_pop(&bios))) {
		mutex_lock(&ot->o->reg_lock);
		fill_spares(ot->o);
		r = origin_write(ot, bio);
		mutex_unlock(&ot->o->reg_lock);
		origin_write_done(ot, bio, r);
	}
}

/**
 * cgsnap_release_origin_bios - map origin writes again after a copy
 * @s: the snapshot of the copy
 * @bios: origin writes that waited on a copy now committed (or failed),
 *	with no read of its chunk through the snapshot in flight any more
 *
 * Each goes to the worker of its cgroup in @s's pool, which maps it again
 * (cgsnap_origin_rewrite()).
 *
 * Context: task context (the commit or release work of @s).
 */
void cgsnap_release_origin_bios(struct cgsnap *s, struct bio_list *bios)
{
	struct bio *bio;

	while ((bio = bio_list_pop(bios))) {
		struct cgsnap_origin_io *io = dm_per_bio_data(bio, sizeof(*io));

		cgsnap_resubmit(s, &io->job, CGSNAP_JOB_ORIGIN_WRITE, bio);
	}
}

/**
 * cgsnap_origin_rewrite - map a released origin write again
 * @bio: the write
 *
 * It is sent to the origin when every snapshot now has its chunks, else
 * waits on the next copy it needs.
 *
 * Context: the worker of the write's cgroup; may wait for the origin's
 * admission.
 */
void cgsnap_origin_rewrite(struct bio *bio)
{
	struct cgsnap_origin_io *io = dm_per_bio_data(bio, sizeof(*io));

	origin_write_done(io->ot, bio, origin_write(io->ot, bio));
}

/*
 * A cgsnap-origin loaded into a device that snapshots use as their origin
 * would send their origin's writes elsewhere, copying into none of them.
 */
static bool own_device_has_snapshots(dev_t md_dev)
{
	struct cgsnap_origin *o;

	lockdep_assert_held(&cgsnap_origins_lock);
	list_for_each_entry(o, &cgsnap_origins, entry)
		if (o->dev == md_dev && o->nr_snapshots)
			return true;
	return false;
}

/* cgsnap-origin <origin> */
static int origin_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct cgsnap_origin_target *ot;
	int ret;

	if (argc != 1) {
		ti->error = "incorrect number of arguments";
		return -EINVAL;
	}
	/* writes go to the origin at their own sector: chunks are offsets */
	if (ti->begin) {
		ti->error = "cgsnap-origin must start at sector 0 of its table";
		return -EINVAL;
	}
	ot = kzalloc(sizeof(*ot), GFP_KERNEL);
	if (!ot) {
		ti->error = "Cannot allocate private origin structure";
		return -ENOMEM;
	}
	ot->ti = ti;
	ot->md_dev = disk_devt(dm_disk(dm_table_get_md(ti->table)));
	INIT_LIST_HEAD(&ot->entry);
	spin_lock_init(&ot->lock);
	bio_list_init(&ot->deferred);
	INIT_WORK(&ot->defer_work, origin_defer_work);

	ret = dm_get_device(ti, argv[0], dm_table_get_mode(ti->table), &ot->dev);
	if (ret) {
		ti->error = "Cannot get target device";
		goto bad;
	}
	ret = -ENOMEM;
	ot->wq = alloc_workqueue("cgsnap-origin", WQ_MEM_RECLAIM | WQ_UNBOUND, 1);
	if (!ot->wq) {
		ti->error = "Cannot allocate workqueue";
		goto bad;
	}
	mutex_lock(&cgsnap_origins_lock);
	if (own_device_has_snapshots(ot->md_dev)) {
		mutex_unlock(&cgsnap_origins_lock);
		ti->error = "Device has cgsnap snapshots: they would get no copies";
		ret = -EINVAL;
		goto bad;
	}
	ot->o = origin_get(ot->dev->bdev->bd_dev);
	if (ot->o && ot->o->merging && ot->o->merge_md != ot->md_dev) {
		/* its writes would reach the origin past the merge */
		origin_put(ot->o);
		mutex_unlock(&cgsnap_origins_lock);
		ti->error = "Origin is being merged into by another device (cgsnap-merge)";
		ret = -EBUSY;
		goto bad;
	}
	if (ot->o && ot->o->merging && !ot->o->merge_done) {
		/* the device would read merged and unmerged chunks mixed */
		origin_put(ot->o);
		mutex_unlock(&cgsnap_origins_lock);
		ti->error = "The merge into this origin is not done yet: wait for it";
		ret = -EBUSY;
		goto bad;
	}
	if (ot->o)
		list_add_tail(&ot->entry, &cgsnap_origin_targets);
	mutex_unlock(&cgsnap_origins_lock);
	if (!ot->o) {
		ti->error = "Cannot allocate the origin's registry entry";
		goto bad;
	}
	ti->private = ot;
	ti->num_flush_bios = 1;
	ti->per_io_data_size = sizeof(struct cgsnap_origin_io);
	return 0;

bad:
	if (ot->wq)
		destroy_workqueue(ot->wq);
	if (ot->dev)
		dm_put_device(ti, ot->dev);
	kfree(ot);
	return ret;
}

static void origin_dtr(struct dm_target *ti)
{
	struct cgsnap_origin_target *ot = ti->private;

	/* no bio in flight: dm suspended the device */
	destroy_workqueue(ot->wq);
	mutex_lock(&cgsnap_origins_lock);
	list_del(&ot->entry);
	origin_put(ot->o);
	mutex_unlock(&cgsnap_origins_lock);
	dm_put_device(ti, ot->dev);
	kfree(ot);
}

static int origin_map(struct dm_target *ti, struct bio *bio)
{
	struct cgsnap_origin_target *ot = ti->private;
	struct cgsnap_origin_io *io = dm_per_bio_data(bio, sizeof(*io));
	struct cgsnap_origin *o = ot->o;
	unsigned int split, avail;
	int r;

	io->ot = ot;
	io->counted = false;
	/* the issuer's blkg, found here in the submitter (see cgsnap_map()) */
	cgblk_bio_set_dev(bio, ot->dev->bdev);
	if (bio->bi_opf & REQ_PREFLUSH || bio_data_dir(bio) != WRITE)
		return DM_MAPIO_REMAPPED;

	/* at most one chunk of the snapshot with the smallest chunks */
	split = READ_ONCE(o->min_chunk);
	if (split) {
		avail = split - (dm_target_offset(ti, bio->bi_iter.bi_sector) &
				 (split - 1));
		if (bio_sectors(bio) > avail)
			dm_accept_partial_bio(bio, avail);
	}
	r = origin_write(ot, bio);
	if (r != DM_MAPIO_REQUEUE)
		return r;
	if (bio->bi_opf & REQ_NOWAIT) {
		bio_wouldblock_error(bio);
		return DM_MAPIO_SUBMITTED;
	}
	origin_defer(ot, bio);
	return DM_MAPIO_SUBMITTED;
}

static int origin_end_io(struct dm_target *ti, struct bio *bio,
			 blk_status_t *error)
{
	struct cgsnap_origin_io *io = dm_per_bio_data(bio, sizeof(*io));
	struct cgsnap_origin *o;

	if (!io->counted)
		return DM_ENDIO_DONE;
	o = io->ot->o;
	if (atomic_dec_and_test(&o->writes[io->epoch]))
		wake_up(&o->wait);
	return DM_ENDIO_DONE;
}

static void origin_status(struct dm_target *ti, status_type_t type,
			  unsigned int status_flags, char *result,
			  unsigned int maxlen)
{
	struct cgsnap_origin_target *ot = ti->private;
	unsigned int sz = 0;

	switch (type) {
	case STATUSTYPE_INFO:
		result[0] = '\0';
		break;
	case STATUSTYPE_TABLE:
		DMEMIT("%s", ot->dev->name);
		break;
	default:
		result[0] = '\0';
		break;
	}
}

static int origin_iterate_devices(struct dm_target *ti,
				  iterate_devices_callout_fn fn, void *data)
{
	struct cgsnap_origin_target *ot = ti->private;

	return fn(ti, ot->dev, 0, ti->len, data);
}

struct target_type cgsnap_origin_target = {
	.name = "cgsnap-origin",
	.version = {1, 0, 0},
	.features = COMPAT_DM_TARGET_NOWAIT,
	.module = THIS_MODULE,
	.ctr = origin_ctr,
	.dtr = origin_dtr,
	.map = origin_map,
	.end_io = origin_end_io,
	.status = origin_status,
	.iterate_devices = origin_iterate_devices,
};
MODULE_ALIAS("dm-cgsnap-origin");
