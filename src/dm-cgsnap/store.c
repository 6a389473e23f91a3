// SPDX-License-Identifier: GPL-2.0
/*
 * dm-cgsnap exception stores: persistent (P, PO) in dm-snapshot's SnAp v1
 * on-disk format, and transient (N).
 *
 * The persistent format, as the kernel's dm-snapshot writes it:
 *
 *   chunk 0            header: le32 magic "SnAp" (0x70416e53), le32 valid,
 *                      le32 version (1), le32 chunk size in sectors
 *   chunk 1            metadata area 0: chunk_size * 512 / 16 entries of
 *                      { le64 old_chunk, le64 new_chunk }
 *   chunks 2..E+1      data chunks of area 0 (E = entries per area)
 *   chunk E+2          metadata area 1, and so on
 *
 * The table of an area ends at its first entry whose new_chunk is 0; a
 * full area is followed by the next one.  The next area is zeroed on disk
 * before a full area is committed, so that a reader always finds the end.
 */
#include <linux/blkdev.h>
#include <linux/highmem.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "cgsnap.h"

static unsigned int chunk_bytes(struct cgsnap *s)
{
	return s->chunk_size << SECTOR_SHIFT;
}

/**
 * cgsnap_buf_bio - a bio for (the start of) a kvmalloc()ed chunk buffer
 * @s: the snapshot
 * @bdev: device to address
 * @sector: first sector on @bdev
 * @buf: where the data starts: a chunk buffer, or a place inside a merge's
 *	buffer (kmalloc or vmalloc memory)
 * @sectors: sectors to transfer from @buf on; they end inside the buffer,
 *	which starts on a page and is at most 1 MiB: at most BIO_MAX_VECS
 *	pages
 * @opf: operation and flags
 * @gfp: allocation flags; with a blocking @gfp it does not fail
 *
 * A vmalloc()ed buffer's range is flushed from its vmap alias here (a
 * write's data must be in it by now); a read's completion calls
 * cgsnap_buf_read_done() for the same range.
 *
 * Context: any context with a non-blocking @gfp, else task context.
 * Return: the bio, or NULL.
 */
struct bio *cgsnap_buf_bio(struct cgsnap *s, struct block_device *bdev,
			   sector_t sector, void *buf, unsigned int sectors,
			   compat_opf_t opf, gfp_t gfp)
{
	unsigned int len = sectors << SECTOR_SHIFT, off, n;
	struct bio *bio;

	/* the pages it spans: a merge's run may start inside one */
	bio = compat_bio_alloc(bdev,
			       DIV_ROUND_UP(offset_in_page(buf) + len, PAGE_SIZE),
			       opf, gfp, &s->bs);
	if (!bio)
		return NULL;
	bio->bi_iter.bi_sector = sector;
	for (off = 0; off < len; off += n) {
		void *p = buf + off;
		struct page *page = is_vmalloc_addr(p) ? vmalloc_to_page(p) :
							 virt_to_page(p);

		n = min_t(unsigned int, len - off, PAGE_SIZE - offset_in_page(p));
		if (bio_add_page(bio, page, n, offset_in_page(p)) != n) {
			bio_put(bio);
			return NULL;
		}
	}
	if (is_vmalloc_addr(buf))
		flush_kernel_vmap_range(buf, len);
	return bio;
}

/**
 * cgsnap_buf_read_done - a read into a cgsnap_buf_bio() buffer completed
 * @buf: the buffer
 * @sectors: sectors read
 *
 * Drops what the CPU may hold of a vmalloc()ed buffer's alias, so that the
 * data read is what it sees.
 *
 * Context: any.
 */
void cgsnap_buf_read_done(void *buf, unsigned int sectors)
{
	if (is_vmalloc_addr(buf))
		invalidate_kernel_vmap_range(buf, sectors << SECTOR_SHIFT);
}

/**
 * cgsnap_chunk_io - synchronous I/O of one chunk of the COW device
 * @s: the snapshot
 * @buf: chunk-sized buffer
 * @chunk: chunk number on the COW device
 * @opf: operation and flags
 *
 * Context: task context; sleeps until the I/O is done.
 * Return: 0 or a negative errno.
 */
int cgsnap_chunk_io(struct cgsnap *s, void *buf, cgsnap_chunk_t chunk,
		    compat_opf_t opf)
{
	struct bio *bio;
	int ret;

	if (cgsnap_chunk_to_sector(s, chunk + 1) > s->cow_sectors)
		return -ENOSPC;
	bio = cgsnap_buf_bio(s, s->cow->bdev, cgsnap_chunk_to_sector(s, chunk),
			     buf, s->chunk_size, opf, GFP_NOIO);
	if (!bio)
		return -ENOMEM;
	ret = submit_bio_wait(bio);
	bio_put(bio);
	if (!op_is_write(opf))
		cgsnap_buf_read_done(buf, s->chunk_size);
	return ret;
}

static cgsnap_chunk_t area_location(struct cgsnap *s, u64 area)
{
	return CGSNAP_HDR_CHUNKS + (s->exceptions_per_area + 1ULL) * area;
}

/* Data chunks never land on a metadata chunk. */
static void skip_metadata(struct cgsnap *s)
{
	u64 stride = s->exceptions_per_area + 1ULL;
	u64 rem;

	div64_u64_rem(s->next_free, stride, &rem);
	if (rem == CGSNAP_HDR_CHUNKS)
		s->next_free++;
}

/*
 * Writes the header chunk from s->header, made with the store: the
 * invalidation must not depend on an allocation (a chunk-sized kvmalloc
 * with GFP_NOIO is a high-order kmalloc on 5.10, which may fail).  Only
 * the constructor and then the commit workqueue use the buffer.
 */
static int write_header(struct cgsnap *s, bool valid)
{
	struct cgsnap_disk_header *dh = s->header;

	memset(s->header, 0, chunk_bytes(s));
	dh->magic = cpu_to_le32(CGSNAP_MAGIC);
	dh->valid = cpu_to_le32(valid);
	dh->version = cpu_to_le32(CGSNAP_DISK_VERSION);
	dh->chunk_size = cpu_to_le32(s->chunk_size);
	return cgsnap_chunk_io(s, s->header, 0, REQ_OP_WRITE | REQ_PREFLUSH |
			       REQ_FUA | REQ_SYNC);
}

/**
 * cgsnap_set_chunk_size - check a chunk size as dm-snapshot does and set it
 * @s: the snapshot, its devices got
 * @chunk_size: sectors; a power of two, a multiple of both devices' logical
 *	block size, at most CGSNAP_MAX_CHUNK
 * @error: where to put the ti->error text
 *
 * Context: task context (the constructor).
 * Return: 0 or -EINVAL with *@error set.
 */
int cgsnap_set_chunk_size(struct cgsnap *s, unsigned int chunk_size,
			  char **error)
{
	if (!is_power_of_2(chunk_size)) {
		*error = "Chunk size is not a power of 2";
		return -EINVAL;
	}
	if (chunk_size % (bdev_logical_block_size(s->cow->bdev) >> SECTOR_SHIFT) ||
	    chunk_size % (bdev_logical_block_size(s->origin->bdev) >> SECTOR_SHIFT)) {
		*error = "Chunk size is not a multiple of device blocksize";
		return -EINVAL;
	}
	if (chunk_size > CGSNAP_MAX_CHUNK) {
		*error = "Chunk size is too high (cgsnap takes up to 2048 sectors)";
		return -EINVAL;
	}
	s->chunk_size = chunk_size;
	s->chunk_shift = ilog2(chunk_size);
	return 0;
}

static int read_areas(struct cgsnap *s, cgsnap_add_fn add, void *ctx,
		      char **error)
{
	void *buf = kvmalloc(chunk_bytes(s), GFP_KERNEL);
	bool full = true;
	u32 i;
	int ret = 0;

	if (!buf) {
		*error = "Cannot allocate a metadata area buffer";
		return -ENOMEM;
	}
	for (s->current_area = 0; full; s->current_area++) {
		ret = cgsnap_chunk_io(s, buf, area_location(s, s->current_area),
				      REQ_OP_READ);
		if (ret) {
			*error = "Cannot read the snapshot metadata";
			goto out;
		}
		full = true;
		for (i = 0; i < s->exceptions_per_area; i++) {
			struct cgsnap_disk_exception *de =
				(struct cgsnap_disk_exception *)buf + i;
			u64 old = le64_to_cpu(de->old_chunk);
			u64 new = le64_to_cpu(de->new_chunk);

			if (!new) {
				s->current_committed = i;
				full = false;
				break;
			}
			if (s->next_free <= new)
				s->next_free = new + 1;
			ret = add(ctx, old, new);
			if (ret) {
				*error = "Cannot load the exceptions of the snapshot metadata";
				goto out;
			}
		}
		if (!full) {
			/*
			 * Only the entries before the end: whatever a torn
			 * write left after it must not be written back by the
			 * next commit (or a merge's).
			 */
			memset(s->area, 0, chunk_bytes(s));
			memcpy(s->area, buf, s->current_committed *
			       sizeof(struct cgsnap_disk_exception));
		}
	}
	s->current_area--;
	skip_metadata(s);
out:
	kvfree(buf);
	return ret;
}

/*
 * The in-memory metadata area, a zeroed one and the header buffer, for the
 * final chunk size.
 */
static int alloc_areas(struct cgsnap *s, char **error)
{
	s->exceptions_per_area = chunk_bytes(s) /
				 sizeof(struct cgsnap_disk_exception);
	s->area = kvzalloc(chunk_bytes(s), GFP_KERNEL);
	s->zero_area = kvzalloc(chunk_bytes(s), GFP_KERNEL);
	s->header = kvzalloc(chunk_bytes(s), GFP_KERNEL);
	if (!s->area || !s->zero_area || !s->header) {
		*error = "Cannot allocate the metadata area";
		return -ENOMEM;
	}
	return 0;
}

/**
 * cgsnap_store_open - open (or create) the exception store
 * @s: the snapshot, with its devices, store type and table chunk size set
 *	(0: none given)
 * @chunk_from_table: the table gave a chunk size
 * @error: where to put the ti->error text
 *
 * Persistent: reads the header; a zero magic makes a new store (header and
 * zeroed first area; refused for a merge), another non-SnAp magic is
 * refused; the header's chunk
 * size wins over the table's; an invalid header opens as an Invalid
 * snapshot.  Transient: nothing on disk.  The chunk size is final when this
 * returns 0; cgsnap_store_read() then reads the exceptions.
 *
 * Context: task context (the target's constructor); sleeps.
 * Return: 0 or a negative errno with *@error set.
 */
int cgsnap_store_open(struct cgsnap *s, bool chunk_from_table, char **error)
{
	struct cgsnap_disk_header *dh;
	unsigned int on_disk;
	unsigned int lbs = bdev_logical_block_size(s->cow->bdev) >> SECTOR_SHIFT;
	void *buf;
	int ret;

	if (!s->chunk_size) {
		ret = cgsnap_set_chunk_size(s, max(CGSNAP_DEFAULT_CHUNK, lbs), error);
		if (ret)
			return ret;
	}
	if (!s->persistent) {
		s->next_free = 0;
		if (s->cow_sectors < s->chunk_size) {
			*error = "COW device is smaller than one chunk";
			return -EINVAL;
		}
		return 0;
	}

	if (s->cow_sectors < 2ULL * s->chunk_size) {
		*error = "COW device is too small for the snapshot header and metadata";
		return -EINVAL;
	}
	buf = kvzalloc(chunk_bytes(s), GFP_KERNEL);
	if (!buf) {
		*error = "Cannot allocate the header buffer";
		return -ENOMEM;
	}
	ret = cgsnap_chunk_io(s, buf, 0, REQ_OP_READ);
	if (ret) {
		*error = "Cannot read the snapshot header";
		goto out;
	}
	dh = buf;
	if (le32_to_cpu(dh->magic) == 0 && s->merge) {
		*error = "COW device has no snapshot store to merge";
		ret = -EINVAL;
		goto out;
	}
	if (le32_to_cpu(dh->magic) == 0) {
		/* a new store */
		ret = alloc_areas(s, error);
		if (ret)
			goto out;
		ret = cgsnap_chunk_io(s, s->zero_area, area_location(s, 0),
				      REQ_OP_WRITE);
		if (!ret)
			ret = write_header(s, true);
		if (ret) {
			*error = "Cannot write the snapshot header";
			goto out;
		}
		s->current_area = 0;
		s->current_committed = 0;
		s->next_free = CGSNAP_HDR_CHUNKS + 1;
		goto out;
	}
	if (le32_to_cpu(dh->magic) != CGSNAP_MAGIC) {
		*error = "COW device has no SnAp signature (not a snapshot store)";
		ret = -ENXIO;
		goto out;
	}
	if (le32_to_cpu(dh->version) != CGSNAP_DISK_VERSION) {
		*error = "Unsupported snapshot disk version";
		ret = -EINVAL;
		goto out;
	}
	on_disk = le32_to_cpu(dh->chunk_size);
	s->valid = le32_to_cpu(dh->valid);
	if (on_disk != s->chunk_size) {
		if (chunk_from_table)
			DMWARN("chunk size %u in device metadata overrides table chunk size of %u.",
			       on_disk, s->chunk_size);
		ret = cgsnap_set_chunk_size(s, on_disk, error);
		if (ret)
			goto out;
		if (s->cow_sectors < 2ULL * s->chunk_size) {
			*error = "COW device is smaller than its stored chunk size";
			ret = -EINVAL;
			goto out;
		}
	}
	ret = alloc_areas(s, error);
	if (ret)
		goto out;
	s->next_free = CGSNAP_HDR_CHUNKS + 1;
	if (!s->valid) {
		DMWARN("Snapshot is marked invalid.");
		s->invalid_reason = CGSNAP_INVALID_ON_DISK;
	}
out:
	kvfree(buf);
	return ret;
}

/**
 * cgsnap_store_read - hand every exception of the store to a callback
 * @s: the snapshot, its store open
 * @add: called for each exception, in the order of the metadata (a later
 *	entry for the same origin chunk replaces an earlier one); a non-zero
 *	return stops the read and is returned
 * @ctx: passed to @add
 * @error: where to put the ti->error text
 *
 * As dm-snap-persistent's read_exceptions(): only the store's own state
 * (the allocation cursor, the current area) is set here; what the
 * exceptions go into is the caller's.  Nothing for a transient or an
 * invalid store.
 *
 * Context: task context (the target's constructor); sleeps.
 * Return: 0 or a negative errno with *@error set.
 */
int cgsnap_store_read(struct cgsnap *s, cgsnap_add_fn add, void *ctx,
		      char **error)
{
	if (!s->persistent || !s->valid)
		return 0;
	return read_areas(s, add, ctx, error);
}

/**
 * cgsnap_store_free - free the store's memory
 * @s: the snapshot
 *
 * Context: task context.
 */
void cgsnap_store_free(struct cgsnap *s)
{
	kvfree(s->area);
	kvfree(s->zero_area);
	kvfree(s->header);
}

/**
 * cgsnap_store_handover - give a snapshot's store to its new table
 * @src: the old table, everything it allocated committed (no uncommitted
 *	entry: the caller checked)
 * @dst: the new one, same store type and chunk size, no store opened: its
 *	COW device may be larger (the room is its own from here on)
 *
 * The allocation cursor, the current metadata area and the buffers move;
 * @src keeps none (its destructor frees what @dst had: nothing).
 *
 * Context: under both s->lock.
 */
void cgsnap_store_handover(struct cgsnap *src, struct cgsnap *dst)
{
	lockdep_assert_held(&src->lock);
	lockdep_assert_held(&dst->lock);
	swap(src->area, dst->area);
	swap(src->zero_area, dst->zero_area);
	swap(src->header, dst->header);
	dst->exceptions_per_area = src->exceptions_per_area;
	dst->current_area = src->current_area;
	dst->current_committed = src->current_committed;
	dst->next_free = src->next_free;
}

/**
 * cgsnap_store_alloc_chunk - allocate the COW chunk of a new exception
 * @s: the snapshot
 * @chunk: the chunk
 *
 * Context: any context, under s->lock.
 * Return: 0, or -ENOSPC when the COW device is full.
 */
int cgsnap_store_alloc_chunk(struct cgsnap *s, cgsnap_chunk_t *chunk)
{
	lockdep_assert_held(&s->lock);
	if (s->cow_sectors < cgsnap_chunk_to_sector(s, s->next_free + 1))
		return -ENOSPC;
	*chunk = s->next_free++;
	if (s->persistent)
		skip_metadata(s);
	return 0;
}

/**
 * cgsnap_store_room - entries the next commit may take
 * @s: the snapshot
 *
 * Context: the commit work, before it adds the entries of a commit.
 * Return: free entries of the current metadata area (transient: no limit).
 */
unsigned int cgsnap_store_room(struct cgsnap *s)
{
	if (!s->persistent)
		return UINT_MAX;
	return s->exceptions_per_area - s->current_committed;
}

/**
 * cgsnap_store_add - add a new exception to the next commit
 * @s: the snapshot
 * @old: origin chunk
 * @new: its COW chunk, the copy's data on the COW device
 *
 * At most cgsnap_store_room() times before each cgsnap_store_commit().
 *
 * Context: the commit work.
 */
void cgsnap_store_add(struct cgsnap *s, cgsnap_chunk_t old, cgsnap_chunk_t new)
{
	struct cgsnap_disk_exception *de = s->area;
	u32 idx = s->current_committed + s->uncommitted;

	if (!s->persistent || WARN_ON_ONCE(idx >= s->exceptions_per_area))
		return;
	de[idx].old_chunk = cpu_to_le64(old);
	de[idx].new_chunk = cpu_to_le64(new);
	s->uncommitted++;
}

/**
 * cgsnap_store_commit - write the exceptions added since the last commit
 * @s: the snapshot
 *
 * Writes the current metadata area with a flush before and FUA, after
 * zeroing the next area on disk when this fills the current one.
 * Transient stores have nothing to write.  Whatever it returns, the added
 * exceptions are no longer pending in the store: after a failure the
 * snapshot is invalidated, and the next commit (if any) rewrites those
 * entries.
 *
 * Context: the commit work (task context, one at a time); sleeps.
 * Return: 0 or a negative errno (the snapshot must then be invalidated).
 */
int cgsnap_store_commit(struct cgsnap *s)
{
	u32 idx = s->current_committed + s->uncommitted;
	int ret;

	s->uncommitted = 0;
	if (!s->persistent || idx == s->current_committed)
		return 0;
	if (idx == s->exceptions_per_area) {
		ret = cgsnap_chunk_io(s, s->zero_area,
				      area_location(s, s->current_area + 1),
				      REQ_OP_WRITE);
		if (ret)
			return ret;
	}
	ret = cgsnap_chunk_io(s, s->area, area_location(s, s->current_area),
			      REQ_OP_WRITE | REQ_PREFLUSH | REQ_FUA | REQ_SYNC);
	if (ret)
		return ret;

	spin_lock(&s->lock);
	s->current_committed = idx;
	if (idx == s->exceptions_per_area) {
		s->current_area++;
		s->current_committed = 0;
	}
	spin_unlock(&s->lock);
	if (!s->current_committed)
		memset(s->area, 0, chunk_bytes(s));
	return 0;
}

/**
 * cgsnap_store_prepare_merge - the next exceptions a merge copies back
 * @s: the snapshot, a persistent store read
 * @ents: filled with the entries, the last committed one first
 * @max: entries at most
 *
 * As dm-snap-persistent's prepare_merge, a merge takes the exceptions from
 * the end of the metadata, stepping back to the previous, full area when
 * the current one is empty; where prepare_merge takes only the run of
 * consecutive chunks at the end, this takes the last @max entries of the
 * area, whatever their chunks (the merge copies them all at once, then
 * commits them in one area write).
 *
 * Context: the merge work; sleeps (reads the previous area).
 * Return: how many, 0 when nothing is left to merge, or a negative errno
 * (the area could not be read, or an entry points outside the COW device).
 */
int cgsnap_store_prepare_merge(struct cgsnap *s, struct cgsnap_merge_ent *ents,
			       unsigned int max)
{
	struct cgsnap_disk_exception *de = s->area;
	u32 i, n;
	int ret;

	if (!s->current_committed) {
		if (!s->current_area)
			return 0;
		ret = cgsnap_chunk_io(s, s->area,
				      area_location(s, s->current_area - 1),
				      REQ_OP_READ);
		if (ret)
			return ret;
		spin_lock(&s->lock);
		s->current_area--;
		s->current_committed = s->exceptions_per_area;
		spin_unlock(&s->lock);
	}
	n = min_t(u32, max, s->current_committed);
	for (i = 0; i < n; i++) {
		struct cgsnap_disk_exception *d = &de[s->current_committed - 1 - i];
		u64 rem;

		ents[i].old = le64_to_cpu(d->old_chunk);
		ents[i].new = le64_to_cpu(d->new_chunk);
		/* a torn or foreign area must not send the merge off the device */
		div64_u64_rem(ents[i].new, s->exceptions_per_area + 1ULL, &rem);
		if (ents[i].new <= CGSNAP_HDR_CHUNKS || rem == CGSNAP_HDR_CHUNKS ||
		    cgsnap_chunk_to_sector(s, ents[i].new + 1) > s->cow_sectors ||
		    ents[i].old >= (U64_MAX >> s->chunk_shift))
			return -EUCLEAN;
	}
	return n;
}

/**
 * cgsnap_store_commit_merge - drop the exceptions a merge copied back
 * @s: the snapshot
 * @ents: the entries cgsnap_store_prepare_merge() gave
 * @n: how many of them, from the first (the end of the area)
 *
 * As dm-snap-persistent's commit_merge: the last @n committed entries are
 * zeroed and the area written with a flush before and FUA, so that after a
 * crash the store holds exactly the exceptions not yet merged (a copy done
 * but not committed is done again: the same data).  The allocation then
 * ends right after the last entry left, so that the status falls to the
 * metadata when the merge is done.
 *
 * Context: the merge work; sleeps.
 * Return: 0 or a negative errno (the merge must stop; the entries are back
 * in the area, so that a retry merges them again).
 */
int cgsnap_store_commit_merge(struct cgsnap *s,
			      const struct cgsnap_merge_ent *ents, u32 n)
{
	struct cgsnap_disk_exception *de = s->area;
	u32 i;
	int ret;

	if (WARN_ON_ONCE(n > s->current_committed))
		return -EINVAL;
	for (i = 0; i < n; i++)
		memset(&de[s->current_committed - 1 - i], 0, sizeof(*de));
	ret = cgsnap_chunk_io(s, s->area, area_location(s, s->current_area),
			      REQ_OP_WRITE | REQ_PREFLUSH | REQ_FUA | REQ_SYNC);
	if (ret) {
		for (i = 0; i < n; i++) {
			de[s->current_committed - 1 - i].old_chunk = cpu_to_le64(ents[i].old);
			de[s->current_committed - 1 - i].new_chunk = cpu_to_le64(ents[i].new);
		}
		return ret;
	}
	spin_lock(&s->lock);
	s->current_committed -= n;
	s->next_free = area_location(s, s->current_area) +
		       s->current_committed + 1;
	spin_unlock(&s->lock);
	return 0;
}

/**
 * cgsnap_store_drop - mark the store invalid on disk
 * @s: the snapshot
 *
 * Allocates nothing but the bio (from s->bs, with GFP_NOIO: it waits for
 * one to come back rather than fail).
 *
 * Context: task context, the commit workqueue or the destructor; sleeps.
 * Return: 0 or a negative errno (the write failed).
 */
int cgsnap_store_drop(struct cgsnap *s)
{
	if (!s->persistent)
		return 0;
	return write_header(s, false);
}

/**
 * cgsnap_store_usage - the numbers of the INFO status, as dm-snapshot's
 * @s: the snapshot
 * @total: COW device size, sectors
 * @allocated: sectors allocated (data and metadata)
 * @metadata: metadata sectors
 *
 * Context: any context, under s->lock.
 */
void cgsnap_store_usage(struct cgsnap *s, sector_t *total,
			sector_t *allocated, sector_t *metadata)
{
	*total = s->cow_sectors;
	*allocated = cgsnap_chunk_to_sector(s, s->next_free);
	*metadata = 0;
	if (s->persistent)	/* the header and the areas so far */
		*metadata = cgsnap_chunk_to_sector(s, CGSNAP_HDR_CHUNKS +
						   s->current_area + 1);
}
