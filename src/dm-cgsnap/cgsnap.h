/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-cgsnap internals: one struct cgsnap per "cgsnap" target.
 *
 * The units, along the life of a write: main.c (the target: table,
 * constructor, destructor, status, module parameters), map.c (the map
 * paths), cow.c (copy and commit), store.c (the on-disk format),
 * exception.c (the exception tables), stats.c (statistics, debugfs),
 * origin.c (the snapshots of an origin, and the cgsnap-origin target).
 *
 * Life of a write to a chunk that has no exception yet:
 *
 *  map (submitter, may not sleep)   take s->lock; allocate a pending
 *                                   exception (pe) and its COW chunk with
 *                                   GFP_NOWAIT, queue the bio on it, queue
 *                                   the pe on the worker of the bio's blkcg;
 *                                   DM_MAPIO_SUBMITTED.  Later writes to
 *                                   the chunk queue on the same pe.
 *  worker (the writer's cgroup)     a whole-chunk write is itself the copy:
 *                                   a clone of it goes to the COW chunk;
 *                                   else read the origin chunk, associated
 *                                   with the writer's blkcg
 *  read completion (any context)    queue the pe on the same worker again
 *  worker, again                    merge the first waiting write into the
 *                                   chunk; write the chunk to the COW
 *                                   device, associated likewise
 *  write completion (any context)   hand the pe to the commit work
 *  commit work                      add the exception to the metadata area
 *                                   and write it (flush + FUA); then the
 *                                   exception is complete: waiting writes
 *                                   are remapped to the COW chunk and
 *                                   resubmitted from the workers of their
 *                                   cgroups, the write the copy carried
 *                                   ends.
 *
 * No lock is held across I/O, allocation that may sleep or bio_set_dev();
 * the map path never waits, so nothing it queued on current->bio_list can
 * be waited for.  Only the writer's worker submits a copy's I/O: submitting
 * may wait for admission (a tag, wbt, iocost), and a completion must never
 * wait for that, least of all on a work item other completions share (with
 * a COW device whose completions go through cgblk_offload, the completion
 * that frees the tag would wait behind it).  Reads never wait: a chunk
 * without a complete exception is read from the origin, and tracked until
 * the read completes (s->tracked), so that an origin write through
 * cgsnap-origin (origin.c), whose copy of the chunk is committed, is held
 * until then (s->parked) and resubmitted from the release work.  When
 * GFP_NOWAIT fails, the bio goes to the defer work, which maps it with
 * GFP_NOIO.
 *
 * Locking: s->lock (a spinlock, never held across I/O, allocation that may
 * sleep, bio_set_dev() or blkg association) protects the exception tables,
 * the pending exceptions and their waiting bios, the store's allocation
 * cursor and the valid/overflow state.  s->commit_lock (irq-safe: COW
 * writes complete in any context) protects only the list of copied
 * exceptions waiting for the commit; it nests in nothing and nothing nests
 * in it; likewise s->buf_lock (task context only) for the copies waiting
 * for a buffer and the reserve buffers each cgroup holds.  The
 * on-disk metadata area is only touched by the commit work
 * (one at a time: an ordered workqueue).
 */
#ifndef _DM_CGSNAP_H
#define _DM_CGSNAP_H

#include <linux/atomic.h>
#include <linux/bio.h>
#include <linux/completion.h>
#include <linux/device-mapper.h>
#include <linux/list.h>
#include <linux/mempool.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include <cgblk/core.h>

#define DM_MSG_PREFIX "cgsnap"

typedef u64 cgsnap_chunk_t;

/* The SnAp v1 persistent store format (dm-snapshot's). */
#define CGSNAP_MAGIC		0x70416e53	/* "SnAp" */
#define CGSNAP_DISK_VERSION	1
#define CGSNAP_HDR_CHUNKS	1		/* chunk 0 is the header */
#define CGSNAP_DEFAULT_CHUNK	32U		/* sectors, for chunk size 0 */
#define CGSNAP_MAX_CHUNK	2048U		/* sectors: one bio of 256 pages */

struct cgsnap_disk_header {
	__le32 magic;
	__le32 valid;
	__le32 version;
	__le32 chunk_size;	/* sectors */
} __packed;

struct cgsnap_disk_exception {
	__le64 old_chunk;
	__le64 new_chunk;
} __packed;

/* A completed exception: @old of the origin lives in chunk @new of the COW. */
struct cgsnap_exception {
	struct hlist_node node;
	cgsnap_chunk_t old;
	cgsnap_chunk_t new;
};

/* Per-cgroup COW statistics, for debugfs. */
struct cgsnap_cgstat {
	struct list_head entry;
	u64 cgroup_id;
	atomic64_t copies;
	atomic64_t bytes;
	atomic64_t waiters;
	unsigned int reserve_held;	/* reserve copy buffers held; s->buf_lock */
	char path[];
};

/* Why a snapshot is invalid: debugfs "invalid_reason", the kernel line. */
enum cgsnap_invalid {
	CGSNAP_VALID,
	CGSNAP_INVALID_ON_DISK,		/* its header said so when loaded */
	CGSNAP_INVALID_FULL,		/* no room for an exception (P, N) */
	CGSNAP_INVALID_ORIGIN_READ,	/* a copy could not read the origin */
	CGSNAP_INVALID_COW_WRITE,	/* a copy could not write the COW device */
	CGSNAP_INVALID_METADATA,	/* a commit of exceptions failed */
	CGSNAP_INVALID_HANDOVER,	/* an empty shell: handed over, or got nothing */
};

enum cgsnap_pe_phase {
	CGSNAP_PE_START,	/* queued on the cgroup's worker */
	CGSNAP_PE_READ,		/* origin read in flight */
	CGSNAP_PE_COPIED,	/* read done: queued on the worker again */
	CGSNAP_PE_WRITE,	/* COW write in flight, then the commit */
};

/*
 * What a snapshot's per-cgroup workers run (cgsnap_pool_run()): the copy
 * of a pending exception, or the resubmission of a bio that waited for
 * one, in the cgroup of the bio's issuer: submitting may wait for the
 * device's admission (a tag, wbt, iocost), which only the issuer's own
 * worker may wait for, never a work item all cgroups share.
 */
enum cgsnap_job_kind {
	CGSNAP_JOB_COPY,		/* a pe's copy */
	CGSNAP_JOB_SUBMIT,		/* a write through the snapshot, remapped */
	CGSNAP_JOB_ORIGIN_WRITE,	/* an origin write: map it again */
};

struct cgsnap_job {
	struct cgblk_work work;		/* its charge: the issuer's */
	enum cgsnap_job_kind kind;
	struct bio *bio;		/* a resubmission's */
};

/*
 * A pending exception: the copy of one chunk, from the write that needed
 * it to the commit of its metadata.  Writes to the chunk that arrive in
 * the meantime wait on @bios; reads go to the (read-only) origin.
 *
 * Ownership: a pe belongs to one stage at a time, in this order: the map
 * path makes it under s->lock; then the worker of its blkcg (START, and
 * COPIED), or s->buf_waiters while it waits for a copy buffer, or (a
 * follower) its leader's stages until its COW write is issued; the origin
 * read's completion (READ); the COW write's completion (WRITE), which
 * hands it to the commit work, which frees it, or, when reads of its
 * chunk are still in flight on the origin, parks it on s->parked (still in
 * s->pending) for the release work to free.  Each hand-off
 * (cgblk_pool_queue(), submit_bio(), queue_commit(), the buffer waiters'
 * requeue, s->track_lock for the parking) orders the stages, so the fields
 * marked "owner" are read and written by the owning stage alone, without a
 * lock.  As long as the pe is in s->pending the map path and origin writes
 * may add bios to it: the fields marked "s->lock" are shared with them.
 */
struct cgsnap_pe {
	/* owner; its charge: the first writer's cgroups, set by the map path */
	struct cgsnap_job job;
	struct hlist_node node;		/* s->pending; s->lock */
	/* on s->to_commit (s->commit_lock), then the commit work's batch */
	struct list_head commit_entry;
	struct list_head buf_entry;	/* s->buf_waiters; s->buf_lock */
	struct cgsnap *s;		/* set by the map path, then constant */
	struct cgsnap_exception *e;	/* likewise; preallocated, inserted at commit */
	struct bio_list bios;		/* waiting writes, in arrival order; s->lock */
	/* the write the copy carries: a whole-chunk one, or the first partial one, merged */
	struct bio *full_bio;		/* owner (taken off @bios under s->lock) */
	void *buf;			/* owner; copy buffer: kmalloc()/vmalloc()ed, or */
	bool buf_reserve;		/* ... from s->buf_pool's reserve; owner */
	unsigned int read_sectors;	/* owner; of the origin read into buf */
	struct cgsnap_cgstat *stat;	/* owner; set by a start (NULL: none yet) */
	unsigned int nr_waiters;	/* s->lock; final once out of s->pending */
	/* origin writes waiting for this copy (origin.c); s->lock */
	struct bio_list origin_bios;
	/* committed, its origin writes waiting for reads to end; track_lock */
	struct list_head park_entry;
	cgsnap_chunk_t park_chunk;
	enum cgsnap_pe_phase phase;	/* owner */
	int error;			/* owner */
	/*
	 * One origin read for several snapshots (origin.c groups the copies
	 * one origin write starts): the leader, the copy with the largest
	 * chunk, reads it; its followers wait on @followers, owned by the
	 * leader's stages, until the read is done; then the leader's worker
	 * copies each its part into a buffer of its own and carries it on
	 * (cow.c: share_read()).  A leader that ends without reading starts
	 * them as copies of their own.
	 */
	struct list_head followers;	/* the leader's; owner */
	struct list_head follow_entry;	/* on the leader's followers */
};

/*
 * The cgsnap snapshots of one origin device (origin.c): registry entry,
 * shared by the snapshots and the cgsnap-origin targets of the device.
 */
struct cgsnap_origin {
	struct list_head entry;		/* the registry; cgsnap_origins_lock */
	dev_t dev;			/* const */
	unsigned int users;		/* cgsnap_origins_lock */
	/* registered or registering snapshots; cgsnap_origins_lock */
	unsigned int nr_snapshots;
	/* a cgsnap-merge writes it, loaded into merge_md; cgsnap_origins_lock */
	bool merging;
	bool merge_done;		/* nothing left to merge */
	dev_t merge_md;
	/*
	 * Held across a registration and wherever the snapshot list must
	 * stay while sleeping; nests inside nothing (cgsnap_origins_lock is
	 * never taken under it, nor held while waiting for it).
	 */
	struct mutex reg_lock;
	spinlock_t lock;		/* never from hard IRQ; nests s->lock */
	/* struct cgsnap.origin_entry; changed under reg_lock and lock */
	struct list_head snapshots;
	unsigned int min_chunk;		/* sectors, 0: no snapshot; lock */
	/*
	 * Origin writes sent to the origin count in writes[epoch] until they
	 * complete; a registration flips the epoch (lock) and waits for the
	 * old one to drain (wait).
	 */
	unsigned int epoch;
	atomic_t writes[2];
	wait_queue_head_t wait;
};

/*
 * Per snapshot bio (the target's per-bio data): a read sent to the origin
 * is tracked by its chunk until it completes, so that an origin write to
 * the chunk waits for it.
 */
struct cgsnap_track {
	struct hlist_node node;		/* s->tracked; s->track_lock */
	cgsnap_chunk_t chunk;
	bool tracked;
	struct cgsnap_job job;		/* a write's resubmission */
};

/* One exception a merge step copies back (store.c, merge.c). */
struct cgsnap_merge_ent {
	cgsnap_chunk_t old;
	cgsnap_chunk_t new;
};

/*
 * The merge of a snapshot back into its origin (merge.c): a struct cgsnap
 * of the "cgsnap-merge" target has one.  The merge work copies the last
 * exceptions of the metadata at a time (a step) and commits their removal;
 * s->lock protects the step's chunks and the writes waiting for them.
 */
struct cgsnap_merge {
	struct cgsnap *s;		/* const */
	struct cgsnap_origin *o;	/* const: the origin it holds (origin.c) */
	u64 nr_loaded;			/* exceptions in the store at load; const */
	/* whom the merge I/O is charged to: the resumer's; the merge work */
	struct cgblk_charge charge;
	struct workqueue_struct *wq;	/* const; ordered */
	struct work_struct work;
	void *buf;			/* const: CGSNAP_MERGE_BYTES */
	unsigned int max_chunks;	/* const: per step */
	/*
	 * Entries a step reads at most: halved after a step that could keep
	 * less than half (the others written meanwhile) or took longer than
	 * CGSNAP_MERGE_STEP_SECS, doubled after one that kept all; the work.
	 */
	unsigned int step_max;
	unsigned int contended;		/* steps in a row that kept nothing; the work */
	struct cgsnap_merge_ent *ents;	/* the step's, the last entry first; the work */
	cgsnap_chunk_t *step_chunks;	/* their origin chunks, sorted; s->lock */
	/* bit i: step_chunks[i] was written before the step held it; s->lock */
	unsigned long *dirty;
	bool running;			/* resumed, not stopping; s->lock */
	bool done;			/* nothing left; s->lock */
	bool failed;			/* an I/O error stopped it; s->lock */
	unsigned int nr;		/* chunks in step_chunks (0: no step); s->lock */
	/*
	 * Until the step holds its chunks for its commit, writes to them
	 * go on to the COW device, marked dirty; then they wait (queued).
	 * s->lock.
	 */
	bool reading;
	struct bio_list queued;		/* writes to them; s->lock */
	wait_queue_head_t drain;	/* a tracked COW write ended, or a stop */
	/* statistics since the load (debugfs) */
	atomic64_t merged;		/* chunks copied back and committed */
	atomic64_t steps, nr_queued, waited, abandoned;
	atomic64_t nr_dirty;		/* chunks a write left to a later step */
};

/*
 * One cgsnap target.  "const" fields are set by the constructor and never
 * change while the target lives; the others name what protects them once
 * the target is live (the constructor and the destructor, which run alone,
 * touch them without it).
 */
struct cgsnap {
	struct dm_target *ti;		/* const */
	struct dm_dev *origin;		/* const */
	struct dm_dev *cow;		/* const */
	struct list_head cow_entry;	/* main.c: COW devices in use; cgsnap_cows_lock */
	/*
	 * Reload handover (main.c), all cgsnap_cows_lock: a table loaded on
	 * the COW device of a live one takes over its exceptions and store
	 * at its resume (or at the live one's destruction, whichever comes
	 * first), instead of reading the store the live one still writes.
	 */
	bool ready;			/* constructed: may hand over or take over */
	bool live;			/* resumed (from its preresume to its postsuspend) */
	bool dying;			/* in its destructor: no taker finds it */
	bool handover_busy;		/* a handover of or into it is under way */
	bool handover_cancelled;	/* the source went while this one was built */
	bool handed_over;		/* its state went to handover_dest; final */
	/*
	 * While a handover drains it: origin writes that need a new copy in
	 * it wait on @handover_parked (origin.c); o->lock and s->lock.
	 */
	bool handing_over;
	struct bio_list handover_parked;	/* s->lock */
	bool awaiting_handover;		/* a taker before its handover; s->lock */
	struct cgsnap *handover_src;	/* the live table this one takes over */
	struct cgsnap *handover_dest;	/* the table that takes this one over */

	/* table; const */
	bool persistent;
	bool overflow_ok;		/* PO */
	bool discard_zeroes_cow;
	bool discard_passdown_origin;

	unsigned int chunk_size;	/* sectors; const (a taker's: its source's) */
	unsigned int chunk_shift;	/* const */
	sector_t cow_sectors;		/* const: a grown COW shows at a reload */

	spinlock_t lock;		/* see the top of this file */
	/*
	 * s->lock; written with WRITE_ONCE().  Neither ever reverts, so an
	 * unlocked READ_ONCE() (a copy's start, the commit work's batch,
	 * a discard's map) may fail I/O a little late but never lets I/O
	 * through that the state forbids.  A copy whose commit was under
	 * way when the snapshot became invalid still completes, its
	 * waiting writes too (dm-snapshot fails them).
	 */
	bool valid;
	bool overflowed;
	bool drop_pending;		/* header must be written invalid; s->lock */
	/* why it became invalid, the error and origin chunk if any; s->lock */
	enum cgsnap_invalid invalid_reason;
	int invalid_error;
	cgsnap_chunk_t invalid_chunk;

	/* exception tables: the arrays const, their entries s->lock */
	struct hlist_head *complete;
	unsigned int complete_bits;
	struct hlist_head pending[256];

	/* store (store.c only) */
	cgsnap_chunk_t next_free;	/* the next COW chunk to give out; s->lock */
	u32 exceptions_per_area;	/* const */
	/*
	 * The commit work alone writes these two, under s->lock (the status
	 * reads current_area under it), and reads them without it.
	 */
	u32 current_committed;		/* entries in the current area */
	u64 current_area;
	u32 uncommitted;		/* entries added, not yet written; the commit work */
	void *area;			/* the current metadata area (P); the commit work */
	void *zero_area;		/* const contents */
	void *header;			/* header chunk buffer (P); commit_wq */

	spinlock_t commit_lock;		/* to_commit; taken in IRQ context */
	struct list_head to_commit;	/* copied pes; s->commit_lock */
	struct work_struct commit_work;
	struct workqueue_struct *commit_wq;	/* const; ordered */
	/* retries of a failed invalid-header write, on commit_wq */
	struct delayed_work drop_work;
	unsigned int drop_tries;	/* commit_wq only */

	/* map-path fallback: bios whose allocation failed, and discards */
	struct bio_list deferred;	/* s->lock */
	struct work_struct defer_work;
	struct workqueue_struct *defer_wq;	/* const */

	/* origin writes (origin.c) */
	struct cgsnap_origin *o;	/* const once registered */
	struct list_head origin_entry;	/* o->snapshots; o->lock */
	struct cgsnap_pe *spare_pe;	/* left by the origin's defer work; s->lock */
	struct cgsnap_exception *spare_e;	/* likewise */
	/*
	 * pes alive (parked ones too) and resubmissions queued on the pool,
	 * + 1 held by the target until its destructor: whoever drops the
	 * last completes @pes_done, which the destructor then waits for.
	 */
	atomic_t nr_pes;
	struct completion pes_done;
	bool pes_drained;		/* the target's own dropped: handover, dtr */
	spinlock_t track_lock;		/* tracked, parked; taken in end_io */
	struct hlist_head tracked[16];	/* reads in flight on the origin */
	struct list_head parked;	/* pes whose origin writes wait for them */
	struct work_struct release_work;	/* on defer_wq */

	struct cgblk_pool *pool;	/* const */
	struct bio_set bs;
	mempool_t pe_pool;
	mempool_t *buf_pool;		/* const */
	spinlock_t buf_lock;		/* buf_waiters, reserve_held; task context */
	struct list_head buf_waiters;	/* copies waiting for a buffer; s->buf_lock */
	unsigned int reserve_held;	/* ... by copies without a cgstat; s->buf_lock */

	/* statistics */
	spinlock_t stat_lock;
	struct list_head stats;		/* s->stat_lock */
	unsigned int nr_stats;		/* s->stat_lock */
	atomic64_t copies, full_writes, merged_writes, waiters, commits;
	atomic64_t shared_reads;	/* copies written from a leader's read */
	atomic64_t buf_kmalloc, buf_vmalloc, buf_reserve, buf_waits;
	atomic64_t cow_allocated;
	struct dentry *debugfs;		/* const */
	struct cgsnap_merge *merge;	/* const: a cgsnap-merge target's */
};

static inline sector_t cgsnap_chunk_to_sector(struct cgsnap *s,
					      cgsnap_chunk_t chunk)
{
	return chunk << s->chunk_shift;
}

static inline cgsnap_chunk_t cgsnap_sector_to_chunk(struct cgsnap *s,
						    sector_t sector)
{
	return sector >> s->chunk_shift;
}

/* exception.c */
extern struct kmem_cache *cgsnap_exception_cache;
extern struct kmem_cache *cgsnap_pe_cache;
int cgsnap_alloc_tables(struct cgsnap *s);
void cgsnap_free_tables(struct cgsnap *s);
bool cgsnap_no_pending(struct cgsnap *s);
void cgsnap_tables_handover(struct cgsnap *src, struct cgsnap *dst);
struct cgsnap_exception *cgsnap_lookup(struct cgsnap *s, cgsnap_chunk_t old);
struct cgsnap_pe *cgsnap_lookup_pending(struct cgsnap *s, cgsnap_chunk_t old);
void cgsnap_add_pending(struct cgsnap *s, struct cgsnap_pe *pe);
void cgsnap_add_complete(struct cgsnap *s, struct cgsnap_exception *e);
void cgsnap_remove_exception(struct cgsnap *s, cgsnap_chunk_t old,
			     cgsnap_chunk_t new);
int cgsnap_insert_exception(struct cgsnap *s, cgsnap_chunk_t old,
			    cgsnap_chunk_t new, gfp_t gfp);

/* map.c */
int cgsnap_map(struct dm_target *ti, struct bio *bio);
int cgsnap_end_io(struct dm_target *ti, struct bio *bio, blk_status_t *error);
void cgsnap_track_chunk(struct cgsnap *s, struct bio *bio, cgsnap_chunk_t chunk);
bool cgsnap_chunk_is_tracked(struct cgsnap *s, cgsnap_chunk_t chunk);
void cgsnap_release_work(struct work_struct *work);
void cgsnap_defer_work(struct work_struct *work);
void cgsnap_remap_to_cow(struct cgsnap *s, struct bio *bio, cgsnap_chunk_t new);
void cgsnap_remap(struct cgsnap *s, struct bio *bio, bool to_cow,
		  cgsnap_chunk_t new);
void cgsnap_start_pe(struct cgsnap *s, struct cgsnap_pe *pe,
		     struct cgsnap_exception *e, cgsnap_chunk_t old,
		     cgsnap_chunk_t new, struct bio *bio, bool queue_bio);

/* cow.c */
bool cgsnap_pool_run(struct cgblk_pool *pool, struct cgblk_work *work);
void cgsnap_pool_finish(struct cgblk_pool *pool, struct cgblk_work *work);
void cgsnap_commit_work(struct work_struct *work);
void cgsnap_resubmit(struct cgsnap *s, struct cgsnap_job *job,
		     enum cgsnap_job_kind kind, struct bio *bio);
void __cgsnap_invalidate(struct cgsnap *s, enum cgsnap_invalid why, int err,
			 cgsnap_chunk_t chunk);
const char *cgsnap_invalid_name(enum cgsnap_invalid why);
void __cgsnap_out_of_space(struct cgsnap *s);
void cgsnap_drop_work(struct work_struct *work);
void cgsnap_drop_final(struct cgsnap *s);

/* store.c */
/* adds one exception read from the store; 0 or a negative errno */
typedef int (*cgsnap_add_fn)(void *ctx, cgsnap_chunk_t old, cgsnap_chunk_t new);
int cgsnap_store_open(struct cgsnap *s, bool chunk_from_table, char **error);
int cgsnap_store_read(struct cgsnap *s, cgsnap_add_fn add, void *ctx,
		      char **error);
int cgsnap_set_chunk_size(struct cgsnap *s, unsigned int chunk_size,
			  char **error);
void cgsnap_store_free(struct cgsnap *s);
int cgsnap_store_prepare_merge(struct cgsnap *s, struct cgsnap_merge_ent *ents,
			       unsigned int max);
int cgsnap_store_commit_merge(struct cgsnap *s,
			      const struct cgsnap_merge_ent *ents, u32 n);
void cgsnap_store_handover(struct cgsnap *src, struct cgsnap *dst);
int cgsnap_store_alloc_chunk(struct cgsnap *s, cgsnap_chunk_t *chunk);
void cgsnap_store_add(struct cgsnap *s, cgsnap_chunk_t old, cgsnap_chunk_t new);
int cgsnap_store_commit(struct cgsnap *s);
unsigned int cgsnap_store_room(struct cgsnap *s);
int cgsnap_store_drop(struct cgsnap *s);
void cgsnap_store_usage(struct cgsnap *s, sector_t *total,
			sector_t *allocated, sector_t *metadata);
int cgsnap_chunk_io(struct cgsnap *s, void *buf, cgsnap_chunk_t chunk,
		    compat_opf_t opf);
struct bio *cgsnap_buf_bio(struct cgsnap *s, struct block_device *bdev,
			   sector_t sector, void *buf, unsigned int sectors,
			   compat_opf_t opf, gfp_t gfp);
void cgsnap_buf_read_done(void *buf, unsigned int sectors);

/* origin.c */
extern struct target_type cgsnap_origin_target;
int cgsnap_origin_check(struct cgsnap *s, char **error);
int cgsnap_origin_register(struct cgsnap *s, char **error);
void cgsnap_origin_unregister(struct cgsnap *s);
int cgsnap_origin_claim_merge(struct cgsnap_merge *m, char **error);
void cgsnap_origin_release_merge(struct cgsnap_merge *m);
void cgsnap_origin_merge_done(struct cgsnap_merge *m);
typedef int (*cgsnap_move_fn)(struct cgsnap *src, struct cgsnap *dst);
void cgsnap_origin_park(struct cgsnap *s);
bool cgsnap_origin_lock(struct cgsnap *s, bool killable);
unsigned int cgsnap_origin_switch(struct cgsnap *src, struct cgsnap *dst,
				  cgsnap_move_fn move, int *ret);
void cgsnap_release_origin_bios(struct cgsnap *s, struct bio_list *bios);
void cgsnap_origin_rewrite(struct bio *bio);

/* main.c */
int cgsnap_ctr(struct dm_target *ti, unsigned int argc, char **argv);
void cgsnap_dtr(struct dm_target *ti);
void cgsnap_status(struct dm_target *ti, status_type_t type,
		   unsigned int status_flags, char *result, unsigned int maxlen);
int cgsnap_iterate_devices(struct dm_target *ti,
			   iterate_devices_callout_fn fn, void *data);

/* merge.c */
extern struct target_type cgsnap_merge_target;
int cgsnap_merge_init(struct cgsnap *s, char **error);
void cgsnap_merge_stop_final(struct cgsnap *s);
void cgsnap_merge_free(struct cgsnap *s);

/* stats.c */
struct cgsnap_cgstat *cgsnap_stat_get(struct cgsnap *s,
				      const struct cgblk_charge *charge);
void cgsnap_stats_show(struct seq_file *m, struct cgsnap *s);
void cgsnap_stats_free(struct cgsnap *s);
struct dentry *cgsnap_stats_create(struct cgsnap *s, const char *name,
				   struct dentry *dir);

#endif /* _DM_CGSNAP_H */
