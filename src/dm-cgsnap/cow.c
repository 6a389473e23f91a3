// SPDX-License-Identifier: GPL-2.0
/*
 * dm-cgsnap copy-on-write, in the order a write goes through it (see
 * cgsnap.h for the whole life of a write): the copy buffer, the start of a
 * copy on the writer's per-cgroup worker (a whole-chunk write's clone, or
 * the origin read), the COW write, the hand-off to the commit work, the
 * metadata commit and the release of the waiting writes; then the
 * invalidation of a snapshot and the write of its invalid header.
 */
#include <linux/blkdev.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/vmalloc.h>

#include "cgsnap.h"

static void end_copy(struct cgsnap_pe *pe, int error);
static void write_copy(struct cgsnap *s, struct cgsnap_pe *pe);
static void finish_pe(struct cgsnap *s, struct cgsnap_pe *pe, int error);
static void drop_store(struct cgsnap *s);
static void start_followers(struct cgsnap_pe *pe);

/*
 * Copy buffers.  A copy holds its buffer from the origin read until its
 * commit, and only its cgroup's worker issues the COW write that frees it:
 * a worker must never sleep waiting for a buffer, or the copies queued
 * behind it, whose buffers it waits for, could never finish.
 *
 * A buffer comes from the allocator first, on the worker, charged to the
 * writer's memcg (its charge is entered: __GFP_ACCOUNT), so that memory.max
 * bounds what a cgroup's copies hold: kmalloc() when a contiguous block is
 * free now (no reclaim, no kswapd), else vmalloc() of single pages,
 * GFP_KERNEL in a NOIO scope (the way vmalloc takes NOIO), which may
 * reclaim, without I/O, so without waiting for copies, and gives up
 * (__GFP_RETRY_MAYFAIL) rather than loop: without __GFP_FS nothing is OOM
 * killed for it, and the worker must not wait for ever (but for vmalloc's
 * own page-table pages, always GFP_KERNEL).  A charge over memory.high
 * makes the worker reclaim and sleep for its cgroup (6.x), as a task
 * writing would.  Not kvmalloc(): before 6.x it falls back to vmalloc only
 * for GFP_KERNEL, and for that it first reclaims and compacts for the
 * contiguous try (on 6.1, with memory fragmented, B's copies in
 * cgsnap_copy_buffer_isolation took 23 s that way, 2 s on 7.3).
 *
 * Only when both fail does a buffer come from s->buf_pool's reserve of two,
 * and a cgroup holds at most one reserve buffer at a time: a throttled
 * cgroup, whose COW writes hold their buffers for long, cannot hold the
 * reserve from the others (two throttled cgroups can, between them).  A
 * copy that gets none waits, off its worker, on s->buf_waiters; every
 * buffer freed queues all waiters on their workers again, to retry (a cost
 * paid only while allocations fail).  The retry under s->buf_lock tries
 * the reserve only: a reserve buffer freed before it is taken there, one
 * freed after it finds the waiter; memory freed in between is seen at the
 * next buffer freed.  debugfs counts each way (buffers_kmalloc,
 * buffers_vmalloc, buffers_reserve, buffer_waits).
 *
 * Buffers are freed by the commit work (task context: vfree() may sleep
 * outside interrupts) as it takes the copies, before their metadata write.
 */
static unsigned int *reserve_held(struct cgsnap *s, struct cgsnap_pe *pe)
{
	return pe->stat ? &pe->stat->reserve_held : &s->reserve_held;
}

/*
 * A buffer for @pe from the allocator, charged to the writer.
 *
 * Context: a worker of the pe's cgroup (its charge entered).  Return: true
 * if the pe has its buffer.
 */
static bool alloc_buf(struct cgsnap *s, struct cgsnap_pe *pe)
{
	size_t bytes = (size_t)s->chunk_size << SECTOR_SHIFT;
	unsigned int noio;

	/*
	 * No reclaim at all, no kswapd: only a block that is free now (down
	 * to the min watermark).
	 */
	pe->buf = kmalloc(bytes, __GFP_NOWARN | __GFP_ACCOUNT);
	if (pe->buf) {
		atomic64_inc(&s->buf_kmalloc);
		return true;
	}
	noio = memalloc_noio_save();
	pe->buf = __vmalloc(bytes, GFP_KERNEL | __GFP_RETRY_MAYFAIL |
				   __GFP_NOWARN | __GFP_ACCOUNT);
	memalloc_noio_restore(noio);
	if (pe->buf) {
		atomic64_inc(&s->buf_vmalloc);
		return true;
	}
	return false;
}

/*
 * A buffer for @pe from the reserve (the allocator failed); none there,
 * the pe waits on s->buf_waiters if @wait, else the caller keeps it.
 *
 * Context: a worker of the pe's cgroup.  Return: true if the pe has its
 * buffer.
 */
static bool reserve_buf(struct cgsnap *s, struct cgsnap_pe *pe, bool wait)
{
	unsigned int *held = reserve_held(s, pe);
	bool got;

	spin_lock(&s->buf_lock);
	if (!*held) {
		/* The prefilled elements only: buf_alloc() refuses GFP_NOWAIT. */
		pe->buf = mempool_alloc(s->buf_pool, GFP_NOWAIT);
		if (pe->buf) {
			pe->buf_reserve = true;
			(*held)++;
		}
	}
	got = pe->buf;
	if (got) {
		atomic64_inc(&s->buf_reserve);
	} else if (wait) {
		list_add_tail(&pe->buf_entry, &s->buf_waiters);
		atomic64_inc(&s->buf_waits);
	}
	/* Waiting, the pe is put_buf()'s from here: not touched again. */
	spin_unlock(&s->buf_lock);
	return got;
}

/* The allocator, then the reserve; see reserve_buf() for @wait. */
static bool try_buf(struct cgsnap *s, struct cgsnap_pe *pe, bool wait)
{
	return alloc_buf(s, pe) || reserve_buf(s, pe, wait);
}

/* Context: task context (the commit work); may sleep. */
static void put_buf(struct cgsnap *s, struct cgsnap_pe *pe)
{
	struct cgsnap_pe *waiter, *next;
	LIST_HEAD(waiters);

	might_sleep();
	if (pe->buf_reserve)
		mempool_free(pe->buf, s->buf_pool);
	else
		kvfree(pe->buf);
	pe->buf = NULL;
	spin_lock(&s->buf_lock);
	if (pe->buf_reserve)
		(*reserve_held(s, pe))--;
	pe->buf_reserve = false;
	list_splice_init(&s->buf_waiters, &waiters);
	spin_unlock(&s->buf_lock);
	list_for_each_entry_safe(waiter, next, &waiters, buf_entry) {
		list_del_init(&waiter->buf_entry);
		waiter->job.work.bytes = 0;	/* counted at its first start */
		cgblk_pool_queue(s->pool, &waiter->job.work);
	}
}

/* The buffers of a list of pes taken by the commit work (commit_entry). */
static void put_bufs(struct cgsnap *s, struct list_head *pes)
{
	struct cgsnap_pe *pe;

	list_for_each_entry(pe, pes, commit_entry)
		if (pe->buf)
			put_buf(s, pe);
}

static bool is_full_chunk_write(struct cgsnap *s, struct bio *bio)
{
	return bio_op(bio) == REQ_OP_WRITE &&
	       bio->bi_iter.bi_size == s->chunk_size << SECTOR_SHIFT &&
	       !(dm_target_offset(s->ti, bio->bi_iter.bi_sector) &
		 (s->chunk_size - 1));
}

static void read_endio(struct bio *bio);
static void write_endio(struct bio *bio);

static void submit_copy_bio(struct cgsnap_pe *pe, struct block_device *bdev,
			    sector_t sector, unsigned int sectors,
			    compat_opf_t opf)
{
	struct cgsnap *s = pe->s;
	struct bio *bio = cgsnap_buf_bio(s, bdev, sector, pe->buf, sectors,
					 opf, GFP_NOIO);

	if (!bio) {		/* cannot happen with GFP_NOIO, but... */
		end_copy(pe, -ENOMEM);
		return;
	}
	cgblk_bio_associate(bio, &pe->job.work.charge);
	bio->bi_private = pe;
	bio->bi_end_io = pe->phase == CGSNAP_PE_READ ? read_endio : write_endio;
	submit_bio(bio);
}

/* One of s->nr_pes is done: the destructor may be waiting for the last. */
static void put_nr_pes(struct cgsnap *s)
{
	if (atomic_dec_and_test(&s->nr_pes))
		complete(&s->pes_done);
}

/**
 * cgsnap_resubmit - resubmit a bio from its issuer's worker
 * @s: the snapshot whose pool runs it
 * @job: the bio's job, in its per-bio data
 * @kind: CGSNAP_JOB_SUBMIT (a write through @s, remapped already) or
 *	CGSNAP_JOB_ORIGIN_WRITE (an origin write, mapped again there)
 * @bio: the bio
 *
 * For the bios that waited for a copy, released by the commit or the
 * release work, which all cgroups share: their submission may wait for
 * the device's admission, on the worker of the bio's own cgroup only.
 *
 * Context: task context; not under a spinlock (the charge takes css
 * references, which never sleeps, but the callers need no more).
 */
void cgsnap_resubmit(struct cgsnap *s, struct cgsnap_job *job,
		     enum cgsnap_job_kind kind, struct bio *bio)
{
	job->kind = kind;
	job->bio = bio;
	cgblk_charge_from_bio(&job->work.charge, bio);
	job->work.bytes = 0;		/* counted when it came */
	atomic_inc(&s->nr_pes);		/* the pool stays until it ran */
	cgblk_pool_queue(s->pool, &job->work);
}

/**
 * cgsnap_pool_finish - a resubmission, on its cgroup's worker
 * @pool: the snapshot's pool
 * @work: the bio's job (cgsnap_resubmit())
 *
 * Outside the issuer's charge (the pool left it): the bio carries its
 * blkg, and a submission that ends the bio at once must not run its
 * bi_end_io as the issuer.  @work is the bio's, gone once it is sent.
 *
 * Context: the worker of the bio's blkcg; may wait for admission.
 */
void cgsnap_pool_finish(struct cgblk_pool *pool, struct cgblk_work *work)
{
	struct cgsnap_job *job = container_of(work, struct cgsnap_job, work);
	struct cgsnap *s = cgblk_pool_private(pool);
	enum cgsnap_job_kind kind = job->kind;
	struct bio *bio = job->bio;

	cgblk_charge_put(&job->work.charge);
	if (kind == CGSNAP_JOB_SUBMIT)
		submit_bio_noacct(bio);
	else
		cgsnap_origin_rewrite(bio);
	put_nr_pes(s);
}

/**
 * cgsnap_pool_run - a pending exception on its cgroup's worker
 * @pool: the snapshot's pool
 * @work: the pe's work item
 *
 * Twice for a copy that reads the origin: to start it (a whole-chunk write,
 * or the origin read), and once the read completed, to write the chunk; a
 * start that found no copy buffer is run again when one is freed.  Or a
 * bio's resubmission (cgsnap_resubmit()): left to cgsnap_pool_finish().
 *
 * Context: the worker of the pe's blkcg, its charge entered; may sleep.
 * Return: false for a copy (the pool is done with the pe), true for a
 * resubmission.
 */
bool cgsnap_pool_run(struct cgblk_pool *pool, struct cgblk_work *work)
{
	struct cgsnap_job *job = container_of(work, struct cgsnap_job, work);
	struct bio *bio = NULL, *clone;
	sector_t src, dev_size;
	struct cgsnap_pe *pe;
	unsigned int count;
	struct cgsnap *s;

	if (job->kind != CGSNAP_JOB_COPY)
		return true;	/* cgsnap_pool_finish() submits it */
	pe = container_of(job, struct cgsnap_pe, job);
	s = pe->s;

	if (pe->phase == CGSNAP_PE_COPIED) {
		write_copy(s, pe);
		return false;
	}
	if (!pe->stat)	/* tried again at each start until it is there */
		pe->stat = cgsnap_stat_get(s, &pe->job.work.charge);
	if (!READ_ONCE(s->valid)) {
		end_copy(pe, -EIO);
		return false;
	}

	spin_lock(&s->lock);
	/*
	 * None for a copy an origin write started (but for a snapshot write
	 * that came meanwhile); not for a leader: its followers need the read.
	 */
	if (pe->bios.head && is_full_chunk_write(s, pe->bios.head) &&
	    list_empty(&pe->followers)) {
		bio = bio_list_pop(&pe->bios);
		pe->full_bio = bio;
	}
	spin_unlock(&s->lock);

	if (bio) {
		/* The write is the copy: send a clone of it to the COW chunk. */
		atomic64_inc(&s->full_writes);
		clone = compat_bio_alloc_clone(s->cow->bdev, bio, GFP_NOIO,
					       &s->bs);
		clone->bi_iter.bi_sector = cgsnap_chunk_to_sector(s, pe->e->new);
		/* nobody polls for a bio that dm does not know of */
		bio_clear_polled(clone);
		clone->bi_end_io = write_endio;
		clone->bi_private = pe;
		pe->phase = CGSNAP_PE_WRITE;
		submit_bio(clone);
		return false;
	}

	/*
	 * The last chunk of an origin whose size is not a multiple of the
	 * chunk size is partial: read only what the origin has and zero the
	 * rest of the buffer (the COW chunk is written whole, so its tail is
	 * defined), as dm-snapshot's start_copy() clamps its copy to the
	 * device's end.  Nothing reads that tail: the target ends with the
	 * origin.  The size is read at each copy, as dm-snapshot does; an
	 * origin that shrank under a chunk's start fails its copy.
	 */
	src = cgsnap_chunk_to_sector(s, pe->e->old);
	dev_size = compat_bdev_nr_sectors(s->origin->bdev);
	if (src >= dev_size) {
		end_copy(pe, -EIO);
		return false;
	}
	count = min_t(sector_t, s->chunk_size, dev_size - src);
	/*
	 * A leader that would wait for a buffer lets its followers go first,
	 * as copies of their own: a wait must not hold other snapshots' copies.
	 */
	if (!alloc_buf(s, pe)) {
		if (!list_empty(&pe->followers) && !reserve_buf(s, pe, false))
			start_followers(pe);
		if (!pe->buf && !reserve_buf(s, pe, true))
			return false;	/* started again when a buffer is freed */
	}
	if (count < s->chunk_size)
		memset(pe->buf + ((size_t)count << SECTOR_SHIFT), 0,
		       (size_t)(s->chunk_size - count) << SECTOR_SHIFT);
	pe->phase = CGSNAP_PE_READ;
	pe->read_sectors = count;
	submit_copy_bio(pe, s->origin->bdev, src, count, REQ_OP_READ);
	return false;
}

/*
 * Completion of the origin read, in whatever context the origin completes
 * it: hand the pe back to its cgroup's worker (queueing never sleeps and
 * never fails), which writes the chunk to the COW device.  The pe's charge
 * is still held.  The chunk's bytes were counted for the worker when the
 * copy was queued: not again.
 */
static void read_endio(struct bio *bio)
{
	struct cgsnap_pe *pe = bio->bi_private;

	if (bio->bi_status)
		pe->error = blk_status_to_errno(bio->bi_status);
	bio_put(bio);
	cgsnap_buf_read_done(pe->buf, pe->read_sectors);
	pe->phase = CGSNAP_PE_COPIED;
	pe->job.work.bytes = 0;
	cgblk_pool_queue(pe->s->pool, &pe->job.work);
}

/*
 * Copy the data of @bio, a write within the pe's chunk, over the origin's
 * chunk in pe->buf.
 */
static void merge_write(struct cgsnap *s, struct cgsnap_pe *pe, struct bio *bio)
{
	sector_t offset = dm_target_offset(s->ti, bio->bi_iter.bi_sector);
	size_t off = (offset & (s->chunk_size - 1)) << SECTOR_SHIFT;
	struct bvec_iter it;
	struct bio_vec bv;

	bio_for_each_segment(bv, bio, it) {
		struct iov_iter from;

		iov_iter_bvec(&from, WRITE, &bv, 1, bv.bv_len);
		off += copy_from_iter(pe->buf + off, bv.bv_len, &from);
	}
}

/*
 * The leader's read is done: each follower gets its chunk, the part of the
 * leader's chunk it is, copied into a buffer of its own (allocated under
 * the leader's charge: the same cgroups), and goes on, on its own
 * snapshot's worker of that cgroup, as a copy whose read is done: the first
 * write waiting on it is merged, the chunk written to its COW device.  Its
 * COW write is issued from there, not here: the leader's worker must not
 * wait for another snapshot's COW device.  A follower that gets no buffer
 * now starts as a copy of its own on its worker (it reads the chunk again:
 * the origin still holds it, its writes wait for the follower); so do all
 * of them when the read failed: their own reads may not.  Nothing is
 * shared afterwards: each snapshot's copies stay its own.
 *
 * Context: the leader's worker, its charge entered.
 */
static void share_read(struct cgsnap_pe *pe)
{
	sector_t base = cgsnap_chunk_to_sector(pe->s, pe->e->old);
	struct cgsnap_pe *f, *tmp;

	if (pe->error) {
		start_followers(pe);
		return;
	}
	list_for_each_entry_safe(f, tmp, &pe->followers, follow_entry) {
		struct cgsnap *fs = f->s;
		sector_t at = cgsnap_chunk_to_sector(fs, f->e->old) - base;

		list_del_init(&f->follow_entry);
		if (!READ_ONCE(fs->valid)) {
			end_copy(f, -EIO);
			continue;
		}
		if (!f->stat)
			f->stat = cgsnap_stat_get(fs, &f->job.work.charge);
		if (!try_buf(fs, f, false)) {
			cgblk_pool_queue(fs->pool, &f->job.work);
			continue;
		}
		memcpy(f->buf, pe->buf + ((size_t)at << SECTOR_SHIFT),
		       (size_t)fs->chunk_size << SECTOR_SHIFT);
		atomic64_inc(&fs->shared_reads);
		f->phase = CGSNAP_PE_COPIED;
		cgblk_pool_queue(fs->pool, &f->job.work);
	}
}

/*
 * A leader that ends without reading: its followers are copies of their
 * own now, started on their workers.
 *
 * Context: any context, including hard interrupts (queueing never sleeps).
 */
static void start_followers(struct cgsnap_pe *pe)
{
	struct cgsnap_pe *f, *tmp;

	list_for_each_entry_safe(f, tmp, &pe->followers, follow_entry) {
		list_del_init(&f->follow_entry);
		cgblk_pool_queue(f->s->pool, &f->job.work);
	}
}

/*
 * The origin chunk is in pe->buf: on the writer's worker, under its charge.
 * A leader first hands its followers their part (share_read()).  The
 * first write waiting on the pe (the one that needed the copy) is merged
 * into the copied chunk: it is then done by the COW write and ends with the
 * commit, with no write of its own.  Then issues the COW write, associated
 * with the writer's blkcg.
 */
static void write_copy(struct cgsnap *s, struct cgsnap_pe *pe)
{
	struct bio *first;

	share_read(pe);		/* before the merge changes the buffer */
	if (pe->error) {
		end_copy(pe, pe->error);
		return;
	}
	spin_lock(&s->lock);
	first = bio_list_peek(&pe->bios);
	if (first && bio_op(first) == REQ_OP_WRITE && bio_has_data(first))
		pe->full_bio = bio_list_pop(&pe->bios);
	else
		first = NULL;
	spin_unlock(&s->lock);
	if (first) {
		merge_write(s, pe, first);
		atomic64_inc(&s->merged_writes);
	}
	pe->phase = CGSNAP_PE_WRITE;
	submit_copy_bio(pe, s->cow->bdev, cgsnap_chunk_to_sector(s, pe->e->new),
			s->chunk_size, REQ_OP_WRITE);
}

/*
 * Completion of the COW write (or of the clone of a whole-chunk write), in
 * whatever context the COW device completes it: it only queues the commit
 * (which frees the buffer), which may be done from a hard interrupt, so it
 * needs no hand-off to task context.
 */
static void write_endio(struct bio *bio)
{
	struct cgsnap_pe *pe = bio->bi_private;
	int error = blk_status_to_errno(bio->bi_status);

	bio_put(bio);
	end_copy(pe, error);
}

/*
 * Hand a copied (or failed) pe to the commit work.
 *
 * Context: any context, including hard interrupts.
 */
static void queue_commit(struct cgsnap_pe *pe)
{
	struct cgsnap *s = pe->s;
	unsigned long flags;

	/*
	 * Queued under the lock: once the pe is visible, the commit work may
	 * finish it, and with the last pe the destructor may free @s.
	 */
	spin_lock_irqsave(&s->commit_lock, flags);
	list_add_tail(&pe->commit_entry, &s->to_commit);
	queue_work(s->commit_wq, &s->commit_work);
	spin_unlock_irqrestore(&s->commit_lock, flags);
}

/*
 * The copy is over (done, or failed with @error): hand the pe to the
 * commit work, which frees its buffer.
 *
 * Context: any context, including hard interrupts.
 */
static void end_copy(struct cgsnap_pe *pe, int error)
{
	if (error)
		pe->error = error;
	start_followers(pe);	/* a leader that did not read: none else */
	queue_commit(pe);
}

/**
 * cgsnap_commit_work - commits copied exceptions, in batches
 * @work: s->commit_work
 *
 * Also writes the header of a snapshot that became invalid, and raises
 * its table event.
 *
 * Context: the snapshot's ordered WQ_MEM_RECLAIM workqueue; sleeps on the
 * metadata I/O.
 */
void cgsnap_commit_work(struct work_struct *work)
{
	struct cgsnap *s = container_of(work, struct cgsnap, commit_work);
	struct cgsnap_pe *pe, *tmp;

	for (;;) {
		LIST_HEAD(batch);
		LIST_HEAD(failed);
		unsigned int room = cgsnap_store_room(s), n = 0;
		int ret = 0;

		spin_lock_irq(&s->commit_lock);
		list_for_each_entry_safe(pe, tmp, &s->to_commit, commit_entry) {
			if (pe->error || !READ_ONCE(s->valid)) {
				list_move_tail(&pe->commit_entry, &failed);
			} else if (n < room) {
				list_move_tail(&pe->commit_entry, &batch);
				n++;
			}
		}
		spin_unlock_irq(&s->commit_lock);
		if (list_empty(&batch) && list_empty(&failed))
			break;

		/* The data is on the COW device: the buffers may go. */
		put_bufs(s, &batch);
		put_bufs(s, &failed);

		if (n) {
			list_for_each_entry(pe, &batch, commit_entry)
				cgsnap_store_add(s, pe->e->old, pe->e->new);
			ret = cgsnap_store_commit(s);
			if (ret) {
				spin_lock(&s->lock);
				__cgsnap_invalidate(s, CGSNAP_INVALID_METADATA,
						    ret, 0);
				spin_unlock(&s->lock);
			} else {
				atomic64_inc(&s->commits);
			}
		}
		list_for_each_entry_safe(pe, tmp, &batch, commit_entry)
			finish_pe(s, pe, ret ? -EIO : 0);
		list_for_each_entry_safe(pe, tmp, &failed, commit_entry)
			finish_pe(s, pe, pe->error ? pe->error : -EIO);
	}

	drop_store(s);
}

/* A pe is gone.  Context: task context (the commit or release work). */
static void free_pe(struct cgsnap *s, struct cgsnap_pe *pe)
{
	cgblk_charge_put(&pe->job.work.charge);
	mempool_free(pe, &s->pe_pool);
	put_nr_pes(s);
}

/*
 * The exception is on disk (or failed): release what waited for it.  The
 * snapshot's own writes go to the COW chunk.  The origin chunk may be
 * overwritten only once no read of it through the snapshot, mapped before
 * the exception was complete, is in flight on the origin: if one is, the
 * exception is made complete (new reads go to the COW chunk) but the pe
 * stays in s->pending, parked, and every origin write to the chunk queues
 * on it (origin.c looks up pending before complete) until the last such
 * read completes: cgsnap_end_io() queues the release work.
 */
static void finish_pe(struct cgsnap *s, struct cgsnap_pe *pe, int error)
{
	cgsnap_chunk_t old = pe->e->old;
	struct bio_list bios, origin_bios;
	bool parked = false;
	unsigned long flags;
	struct bio *bio;

	bio_list_init(&origin_bios);
	spin_lock(&s->lock);
	if (!error) {
		cgsnap_add_complete(s, pe->e);
		spin_lock_irqsave(&s->track_lock, flags);
		if (cgsnap_chunk_is_tracked(s, old)) {
			pe->park_chunk = old;
			list_add_tail(&pe->park_entry, &s->parked);
			parked = true;
		}
		spin_unlock_irqrestore(&s->track_lock, flags);
	} else {
		/* a copy's error: the stage it failed in says which I/O */
		__cgsnap_invalidate(s, pe->phase == CGSNAP_PE_WRITE ?
				    CGSNAP_INVALID_COW_WRITE :
				    CGSNAP_INVALID_ORIGIN_READ,
				    error, old);
		kmem_cache_free(cgsnap_exception_cache, pe->e);
		pe->e = NULL;
	}
	bios = pe->bios;
	bio_list_init(&pe->bios);
	if (!parked) {
		hlist_del(&pe->node);
		origin_bios = pe->origin_bios;
	}
	spin_unlock(&s->lock);

	if (!error) {
		atomic64_inc(&s->copies);
		atomic64_add(pe->nr_waiters, &s->waiters);
		if (pe->stat) {
			atomic64_inc(&pe->stat->copies);
			atomic64_add(s->chunk_size << SECTOR_SHIFT,
				     &pe->stat->bytes);
			atomic64_add(pe->nr_waiters, &pe->stat->waiters);
		}
	}
	if (pe->full_bio) {
		pe->full_bio->bi_status = errno_to_blk_status(error);
		bio_endio(pe->full_bio);
		pe->full_bio = NULL;
	}
	while ((bio = bio_list_pop(&bios))) {
		struct cgsnap_track *t = dm_per_bio_data(bio, sizeof(*t));

		if (error) {
			bio_io_error(bio);
			continue;
		}
		cgsnap_remap_to_cow(s, bio, pe->e->new);
		cgsnap_resubmit(s, &t->job, CGSNAP_JOB_SUBMIT, bio);
	}
	if (parked)
		return;
	cgsnap_release_origin_bios(s, &origin_bios);
	free_pe(s, pe);
}

/**
 * cgsnap_release_work - releases the origin writes of parked pes
 * @work: s->release_work
 *
 * Those whose chunk has no read in flight on the origin any more: each
 * leaves s->pending under s->lock, so a later origin write finds only the
 * complete exception.
 *
 * Context: s->defer_wq.
 */
void cgsnap_release_work(struct work_struct *work)
{
	struct cgsnap *s = container_of(work, struct cgsnap, release_work);
	struct cgsnap_pe *pe, *tmp;
	struct bio_list bios;
	unsigned long flags;
	LIST_HEAD(ready);

	spin_lock(&s->lock);
	spin_lock_irqsave(&s->track_lock, flags);
	list_for_each_entry_safe(pe, tmp, &s->parked, park_entry) {
		if (cgsnap_chunk_is_tracked(s, pe->park_chunk))
			continue;
		list_move_tail(&pe->park_entry, &ready);
		hlist_del(&pe->node);
	}
	spin_unlock_irqrestore(&s->track_lock, flags);
	spin_unlock(&s->lock);

	list_for_each_entry_safe(pe, tmp, &ready, park_entry) {
		bios = pe->origin_bios;
		cgsnap_release_origin_bios(s, &bios);
		free_pe(s, pe);
	}
}

static const char *const cgsnap_invalid_names[] = {
	[CGSNAP_VALID]			= "none",
	[CGSNAP_INVALID_ON_DISK]	= "marked_invalid_on_disk",
	[CGSNAP_INVALID_FULL]		= "cow_full",
	[CGSNAP_INVALID_ORIGIN_READ]	= "origin_read_error",
	[CGSNAP_INVALID_COW_WRITE]	= "cow_write_error",
	[CGSNAP_INVALID_METADATA]	= "metadata_write_error",
	[CGSNAP_INVALID_HANDOVER]	= "handover",
};

/**
 * cgsnap_invalid_name - the debugfs name of a reason for invalidity
 * @why: the reason
 *
 * Context: any context.
 * Return: a static string.
 */
const char *cgsnap_invalid_name(enum cgsnap_invalid why)
{
	if (why >= ARRAY_SIZE(cgsnap_invalid_names))
		return "?";
	return cgsnap_invalid_names[why];
}

/**
 * __cgsnap_invalidate - make the snapshot invalid
 * @s: the snapshot
 * @why: the reason, for the kernel line and debugfs
 * @err: the error of the failed I/O (-ENOSPC for a full COW device)
 * @chunk: the origin chunk of the failed copy (copy errors only)
 *
 * Invalidation and overflow, as dm-snapshot: an invalid snapshot fails all
 * I/O and says so on disk; an overflowed one (PO) fails writes only.  The
 * first reason is kept and said in one kernel line; later ones are
 * consequences.  The commit work writes the header (queue_work() may be
 * called under a spinlock, from any context).
 *
 * Context: under s->lock (a plain spinlock: never from hard IRQ).
 */
void __cgsnap_invalidate(struct cgsnap *s, enum cgsnap_invalid why, int err,
			 cgsnap_chunk_t chunk)
{
	const char *dev = dm_table_device_name(s->ti->table);

	lockdep_assert_held(&s->lock);
	if (!s->valid)
		return;
	switch (why) {
	case CGSNAP_INVALID_FULL:
		DMERR("%s: Invalidating snapshot: COW device full (%llu sectors)",
		      dev, (unsigned long long)s->cow_sectors);
		break;
	case CGSNAP_INVALID_ORIGIN_READ:
		DMERR("%s: Invalidating snapshot: error %d reading origin chunk %llu to copy it",
		      dev, err, (unsigned long long)chunk);
		break;
	case CGSNAP_INVALID_COW_WRITE:
		DMERR("%s: Invalidating snapshot: error %d writing the COW copy of chunk %llu",
		      dev, err, (unsigned long long)chunk);
		break;
	case CGSNAP_INVALID_HANDOVER:
		DMERR("%s: Invalidating snapshot: its handover to a new table failed",
		      dev);
		break;
	default:
		DMERR("%s: Invalidating snapshot: error %d writing the exception metadata",
		      dev, err);
		break;
	}
	s->invalid_reason = why;
	s->invalid_error = err;
	s->invalid_chunk = chunk;
	WRITE_ONCE(s->valid, false);
	s->drop_pending = true;
	queue_work(s->commit_wq, &s->commit_work);
}

/**
 * __cgsnap_out_of_space - no room for one more exception
 * @s: the snapshot
 *
 * PO: the snapshot overflows (writes fail); P and N: it is invalidated.
 *
 * Context: under s->lock (a plain spinlock: never from hard IRQ).
 */
void __cgsnap_out_of_space(struct cgsnap *s)
{
	lockdep_assert_held(&s->lock);
	if (s->overflow_ok) {
		if (s->valid && !s->overflowed) {
			WRITE_ONCE(s->overflowed, true);
			DMERR("Snapshot overflowed: Unable to allocate exception.");
		}
	} else {
		__cgsnap_invalidate(s, CGSNAP_INVALID_FULL, -ENOSPC, 0);
	}
}

/*
 * Writes the header of an invalidated store as invalid (nothing for N).
 * The header buffer is made with the store, so only the write can fail
 * (the COW device fails, or is being replaced under us): then it is
 * retried from s->drop_work every second (but not while the target is
 * suspended: see cgsnap_postsuspend()), until it is written or the
 * table is destroyed.  Never retried in place: the commit workqueue must
 * stay free for the flush of a suspend (postsuspend) and of the
 * destructor, which may be what lets the COW device work again.
 *
 * Context: s->commit_wq (ordered: one at a time with the commit work).
 */
static void drop_store(struct cgsnap *s)
{
	bool drop;
	int ret;

	spin_lock(&s->lock);
	drop = s->drop_pending;
	spin_unlock(&s->lock);
	if (!drop)
		return;
	ret = cgsnap_store_drop(s);
	if (!s->drop_tries++)
		dm_table_event(s->ti->table);	/* the status changed */
	if (ret) {
		if (s->drop_tries == 1)
			DMERR("Cannot mark the snapshot invalid on disk: error %d, retrying",
			      ret);
		queue_delayed_work(s->commit_wq, &s->drop_work, HZ);
		return;
	}
	if (s->drop_tries > 1)
		DMINFO("Snapshot marked invalid on disk after %u attempts",
		       s->drop_tries);
	spin_lock(&s->lock);
	s->drop_pending = false;
	spin_unlock(&s->lock);
}

/**
 * cgsnap_drop_work - retries a failed write of the invalid header
 * @work: s->drop_work.work
 *
 * Context: s->commit_wq; sleeps on the header write.
 */
void cgsnap_drop_work(struct work_struct *work)
{
	struct cgsnap *s = container_of(to_delayed_work(work), struct cgsnap,
					drop_work);

	drop_store(s);
}

/**
 * cgsnap_drop_final - last attempt at the invalid header, in the destructor
 * @s: the snapshot; no bio in flight, commit_wq flushed
 *
 * Stops the retries and makes one more attempt; if that fails too, the
 * store stays marked valid on disk although the snapshot failed I/O, and
 * the kernel log says so.
 *
 * Context: task context (the destructor); sleeps.
 */
void cgsnap_drop_final(struct cgsnap *s)
{
	int ret;

	cancel_delayed_work_sync(&s->drop_work);
	if (!s->drop_pending)
		return;
	ret = cgsnap_store_drop(s);
	if (ret)
		DMERR("Snapshot left marked valid on disk: header write error %d",
		      ret);
	else
		s->drop_pending = false;
}
