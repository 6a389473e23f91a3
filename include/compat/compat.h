/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compat.h - glue between cgblk and the kernels it supports (5.10 to 7.3).
 *
 * Force-included into every object by Kbuild.  Every difference between
 * kernels is decided here from the COMPAT_* probe results of probes.mk,
 * so the rest of the tree is written against one API (the newest kernel's
 * names) and never tests LINUX_VERSION_CODE.
 *
 * Where a helper replaces a kernel function of the same name, the header
 * that declares the original is included first, so that the renaming macro
 * touches only our own code.
 */
#ifndef _CGBLK_COMPAT_H
#define _CGBLK_COMPAT_H

#include <linux/export.h>
#include <linux/module.h>

/*
 * Symbol namespaces: before 6.13 the namespace is a bare identifier that the
 * kernel's macros stringify (5.10 with a plain #ns, which does not expand
 * macros, so pass the identifier itself), from 6.13 a string literal.
 */
#ifdef COMPAT_NS_IS_STRING
#define COMPAT_EXPORT_SYMBOL_NS_GPL(sym, ns)	EXPORT_SYMBOL_NS_GPL(sym, #ns)
#define COMPAT_MODULE_IMPORT_NS(ns)		MODULE_IMPORT_NS(#ns)
#else
#define COMPAT_EXPORT_SYMBOL_NS_GPL(sym, ns)	EXPORT_SYMBOL_NS_GPL(sym, ns)
#define COMPAT_MODULE_IMPORT_NS(ns)		MODULE_IMPORT_NS(ns)
#endif

/*
 * The blkcg css a bio is associated with (NULL when none).  Before 6.0 the
 * blkg and blkcg structures were public and bio_blkcg() returned the blkcg.
 */
#ifndef COMPAT_HAS_BIO_BLKCG_CSS
#include <linux/blk-cgroup.h>
static inline struct cgroup_subsys_state *compat_bio_blkcg_css(struct bio *bio)
{
	struct blkcg *blkcg = bio_blkcg(bio);

	return blkcg ? &blkcg->css : NULL;
}

#define bio_blkcg_css compat_bio_blkcg_css
#endif

/*
 * cgroup_get_e_css() is exported from 5.14.  Before it, the same walk as
 * upstream's: from the cgroup up to the first ancestor with a live css of
 * the subsystem, and a reference on it.  When the subsystem is not on the
 * cgroup's hierarchy at all (memory on a v1 hierarchy while the blkcg is
 * a v2 cgroup, or the blkcg a v1 blkio cgroup), no cgroup up to the root
 * has a css of it: upstream then returns the subsystem's root css,
 * init_css_set.subsys[ss->id].  init_css_set is not exported, but it is
 * the css_set of init_task (exported), which never changes cgroups, so
 * task_get_css(&init_task, ...) is that css, referenced (a root css is
 * never released: the reference cannot fail).
 */
#ifndef COMPAT_HAS_CGROUP_GET_E_CSS
#include <linux/cgroup.h>
#include <linux/sched/task.h>
static inline struct cgroup_subsys_state *
compat_cgroup_get_e_css(struct cgroup *cgrp, struct cgroup_subsys *ss)
{
	struct cgroup_subsys_state *css;

	rcu_read_lock();
	do {
		css = rcu_dereference(cgrp->subsys[ss->id]);
		if (css && css_tryget_online(css))
			goto out_unlock;
		cgrp = cgroup_parent(cgrp);
	} while (cgrp);
	css = task_get_css(&init_task, ss->id);
out_unlock:
	rcu_read_unlock();
	return css;
}

#define cgroup_get_e_css compat_cgroup_get_e_css
#endif

/*
 * set_active_memcg() references int_active_memcg for its interrupt branch,
 * which is not exported before 5.14.  Our callers are always tasks, so the
 * task branch is all that is needed there.
 */
/*
 * The same change (5.14) made page cache charge the active memcg of a task
 * without an mm.  Before it, page cache is charged to the memcg of the owner
 * of current->mm only, so a kernel thread that must charge a cgroup's page
 * cache borrows an mm of that cgroup (cgblk_pool_note_current()).
 */
#if defined(CONFIG_MEMCG) && !defined(COMPAT_HAS_INT_ACTIVE_MEMCG)
#define COMPAT_MEMCG_CHARGES_MM_OWNER
#endif

#if defined(CONFIG_MEMCG) && !defined(COMPAT_HAS_INT_ACTIVE_MEMCG)
#include <linux/sched/mm.h>	/* before the macro: it declares the original */
static inline struct mem_cgroup *compat_set_active_memcg(struct mem_cgroup *memcg)
{
	struct mem_cgroup *old = current->active_memcg;

	current->active_memcg = memcg;
	return old;
}

#define set_active_memcg compat_set_active_memcg
#endif

/*
 * Block devices.  compat_alloc_disk() allocates a blk-mq disk with its
 * limits, compat_add_disk() adds it, compat_cleanup_disk() releases it after
 * del_gendisk(), compat_put_unadded_disk() releases one never added.
 * struct compat_disk_limits carries what cgblk sets, since
 * struct queue_limits has changed too much to fill it by hand before 6.9.
 */
#include <linux/blk-mq.h>
#include <linux/blkdev.h>

struct compat_disk_limits {
	unsigned int logical_block_size;
	unsigned int max_hw_sectors;
	unsigned int max_discard_sectors;	/* 0: no discard */
	unsigned int max_write_zeroes_sectors;	/* 0: no write zeroes */
	unsigned int dma_alignment;		/* a mask; 0: the default, 511 */
	bool write_cache;
};

static inline struct gendisk *
compat_alloc_disk(struct blk_mq_tag_set *set,
		  const struct compat_disk_limits *l, void *queuedata)
{
#ifdef COMPAT_BLK_MQ_ALLOC_DISK_LIM
	struct queue_limits lim = {
		.logical_block_size = l->logical_block_size,
		.physical_block_size = l->logical_block_size,
		.io_min = l->logical_block_size,
		.max_hw_sectors = l->max_hw_sectors,
		.max_hw_discard_sectors = l->max_discard_sectors,
		.discard_granularity = l->max_discard_sectors ?
				       l->logical_block_size : 0,
		.max_write_zeroes_sectors = l->max_write_zeroes_sectors,
		.dma_alignment = l->dma_alignment,
#ifdef COMPAT_HAS_BLK_FEAT
		.features = l->write_cache ? BLK_FEAT_WRITE_CACHE : 0,
#endif
	};
	struct gendisk *disk = blk_mq_alloc_disk(set, &lim, queuedata);

#ifndef COMPAT_HAS_BLK_FEAT
	if (!IS_ERR(disk))
		blk_queue_write_cache(disk->queue, l->write_cache, false);
#endif
	return disk;
#else
	struct request_queue *q;
	struct gendisk *disk;

#ifdef COMPAT_BLK_MQ_ALLOC_DISK
	disk = blk_mq_alloc_disk(set, queuedata);
	if (IS_ERR(disk))
		return disk;
	q = disk->queue;
#else
	q = blk_mq_init_queue(set);
	if (IS_ERR(q))
		return ERR_CAST(q);
	disk = alloc_disk(1);
	if (!disk) {
		blk_cleanup_queue(q);
		return ERR_PTR(-ENOMEM);
	}
	q->queuedata = queuedata;
	disk->queue = q;
#endif
	blk_queue_logical_block_size(q, l->logical_block_size);
	blk_queue_physical_block_size(q, l->logical_block_size);
	blk_queue_io_min(q, l->logical_block_size);
	blk_queue_max_hw_sectors(q, l->max_hw_sectors);
	blk_queue_max_write_zeroes_sectors(q, l->max_write_zeroes_sectors);
	if (l->dma_alignment)
		blk_queue_dma_alignment(q, l->dma_alignment);
	if (l->max_discard_sectors) {
		q->limits.discard_granularity = l->logical_block_size;
		blk_queue_max_discard_sectors(q, l->max_discard_sectors);
#ifdef QUEUE_FLAG_DISCARD	/* a macro until 5.19 */
		blk_queue_flag_set(QUEUE_FLAG_DISCARD, q);
#endif
	}
	blk_queue_write_cache(q, l->write_cache, false);
	return disk;
#endif
}

static inline int compat_add_disk(struct gendisk *disk,
				  const struct attribute_group **groups)
{
#ifdef COMPAT_ADD_DISK_RETURNS_INT
	return device_add_disk(NULL, disk, groups);
#else
	device_add_disk(NULL, disk, groups);
	return 0;
#endif
}

/* After del_gendisk(), or instead of it when compat_add_disk() failed. */
static inline void compat_cleanup_disk(struct gendisk *disk)
{
#ifdef COMPAT_HAS_BLK_CLEANUP_QUEUE
	blk_cleanup_queue(disk->queue);
#endif
	put_disk(disk);
}

/*
 * Release a disk that was never added (or whose compat_add_disk() failed).
 * 5.10 (alloc_disk() + blk_mq_init_queue()): the disk takes its reference
 * on the queue in add_disk() and drops it in disk_release(), so a disk
 * never added must not point at its queue when put.  Later kernels pair
 * blk_mq_alloc_disk() with blk_cleanup_disk() / put_disk() either way.
 */
static inline void compat_put_unadded_disk(struct gendisk *disk)
{
#if !defined(COMPAT_BLK_MQ_ALLOC_DISK_LIM) && !defined(COMPAT_BLK_MQ_ALLOC_DISK)
	blk_cleanup_queue(disk->queue);
	disk->queue = NULL;
	put_disk(disk);
#else
	compat_cleanup_disk(disk);
#endif
}

/* "No partitions": a macro named ..._NO_PART_SCAN until 5.17, an enum after. */
#ifdef GENHD_FL_NO_PART_SCAN
#define COMPAT_GENHD_FL_NO_PART		GENHD_FL_NO_PART_SCAN
#else
#define COMPAT_GENHD_FL_NO_PART		GENHD_FL_NO_PART
#endif

#ifdef COMPAT_HAS_BLK_MQ_F_SHOULD_MERGE
#define COMPAT_BLK_MQ_F_SHOULD_MERGE	BLK_MQ_F_SHOULD_MERGE
#else
#define COMPAT_BLK_MQ_F_SHOULD_MERGE	0
#endif

/*
 * Without it (5.10) blk-mq gives a single-queue device mq-deadline (the
 * in-tree loop of Debian's 5.10 shows none all the same).
 */
#ifdef COMPAT_HAS_BLK_MQ_F_NO_SCHED_BY_DEFAULT
#define COMPAT_BLK_MQ_F_NO_SCHED_BY_DEFAULT	BLK_MQ_F_NO_SCHED_BY_DEFAULT
#else
#define COMPAT_BLK_MQ_F_NO_SCHED_BY_DEFAULT	0
#endif

/*
 * block_device_operations.open/.release: declare them with
 *   static int foo_open(COMPAT_BDOPS_OPEN_ARGS)
 *   static void foo_release(COMPAT_BDOPS_RELEASE_ARGS)
 * and find the disk as COMPAT_BDOPS_OPEN_DISK in open, `disk' in release.
 */
#ifdef COMPAT_BDOPS_OPEN_GENDISK
#define COMPAT_BDOPS_OPEN_ARGS		struct gendisk *disk, blk_mode_t mode
#define COMPAT_BDOPS_OPEN_DISK		disk
#define COMPAT_BDOPS_RELEASE_ARGS	struct gendisk *disk
#else
#define COMPAT_BDOPS_OPEN_ARGS		struct block_device *bdev, fmode_t mode
#define COMPAT_BDOPS_OPEN_DISK		(bdev->bd_disk)
#define COMPAT_BDOPS_RELEASE_ARGS	struct gendisk *disk, fmode_t mode
#endif

/*
 * Bios for a lower device: a clone sharing the source's data, and a new bio
 * without data (a flush); both from a bio_set, so they cannot fail with a
 * blocking gfp.
 */
#include <linux/bio.h>
/* A bio's operation and flags: blk_opf_t from 6.0 (__bitwise for sparse). */
#ifdef COMPAT_HAS_BLK_OPF_T
#define compat_opf_t	blk_opf_t
#else
#define compat_opf_t	unsigned int
#endif

static inline struct bio *compat_bio_alloc_clone(struct block_device *bdev,
						 struct bio *src, gfp_t gfp,
						 struct bio_set *bs)
{
#ifdef COMPAT_HAS_BIO_ALLOC_CLONE
	return bio_alloc_clone(bdev, src, gfp, bs);
#else
	struct bio *bio = bio_clone_fast(src, gfp, bs);

	if (bio)
		bio_set_dev(bio, bdev);
	return bio;
#endif
}

static inline struct bio *compat_bio_alloc(struct block_device *bdev,
					   unsigned short nr_vecs,
					   compat_opf_t opf, gfp_t gfp,
					   struct bio_set *bs)
{
#ifdef COMPAT_HAS_BIO_ALLOC_CLONE
	return bio_alloc_bioset(bdev, nr_vecs, opf, gfp, bs);
#else
	struct bio *bio = bio_alloc_bioset(gfp, nr_vecs, bs);

	if (bio) {
		bio_set_dev(bio, bdev);
		bio->bi_opf = opf;
	}
	return bio;
#endif
}

/*
 * bio_clear_polled(): a bio a driver issues itself must not ask to be
 * polled for (nobody would).  Older kernels call REQ_POLLED REQ_HIPRI.
 */
#ifndef COMPAT_HAS_BIO_CLEAR_POLLED
static inline void bio_clear_polled(struct bio *bio)
{
	bio->bi_opf &= ~REQ_HIPRI;
}
#endif

static inline struct bio *compat_bio_alloc_empty(struct block_device *bdev,
						 compat_opf_t opf, gfp_t gfp,
						 struct bio_set *bs)
{
	return compat_bio_alloc(bdev, 0, opf, gfp, bs);
}

static inline unsigned int compat_bdev_max_discard_sectors(struct block_device *bdev)
{
#ifdef COMPAT_HAS_BDEV_MAX_DISCARD_SECTORS
	return bdev_max_discard_sectors(bdev);
#else
	struct request_queue *q = bdev_get_queue(bdev);

	return blk_queue_discard(q) ? q->limits.max_discard_sectors : 0;
#endif
}

/* Whether a file can do direct I/O: FMODE_CAN_ODIRECT from 6.0. */
#include <linux/fs.h>
static inline bool compat_file_can_direct_io(struct file *file)
{
#ifdef FMODE_CAN_ODIRECT
	return file->f_mode & FMODE_CAN_ODIRECT;
#else
	return file->f_mapping->a_ops && file->f_mapping->a_ops->direct_IO;
#endif
}

/* kiocb.ki_complete: declare it as static void foo(COMPAT_KI_COMPLETE_ARGS). */
#ifdef COMPAT_KI_COMPLETE_RET2
#define COMPAT_KI_COMPLETE_ARGS	struct kiocb *iocb, long ret, long ret2
#else
#define COMPAT_KI_COMPLETE_ARGS	struct kiocb *iocb, long ret
#endif

/*
 * Freeze protection of an asynchronous write (6.6+; Debian's 6.1 has it):
 * taken in the submitting task, then handed over for lockdep, so that the
 * completion may drop it in another context, as fs/aio.c did before these
 * helpers.  Only regular files come here (cgloop remaps block devices).
 */
#ifndef COMPAT_HAS_KIOCB_START_WRITE
static inline void kiocb_start_write(struct kiocb *iocb)
{
	struct super_block *sb = file_inode(iocb->ki_filp)->i_sb;

	sb_start_write(sb);
	__sb_writers_release(sb, SB_FREEZE_WRITE);
}

static inline void kiocb_end_write(struct kiocb *iocb)
{
	struct super_block *sb = file_inode(iocb->ki_filp)->i_sb;

	__sb_writers_acquired(sb, SB_FREEZE_WRITE);
	sb_end_write(sb);
}
#endif

/* A per-CPU workqueue, said explicitly where the kernel has the flag. */
#ifdef COMPAT_HAS_WQ_PERCPU
#define COMPAT_WQ_PERCPU	WQ_PERCPU
#else
#define COMPAT_WQ_PERCPU	0
#endif

/* The size of a block device (or partition), in sectors. */
#include <linux/blkdev.h>
#ifdef COMPAT_HAS_BDEV_NR_SECTORS
#define compat_bdev_nr_sectors(bdev)	bdev_nr_sectors(bdev)
#else
#define compat_bdev_nr_sectors(bdev)	(i_size_read((bdev)->bd_inode) >> SECTOR_SHIFT)
#endif

/* Open modes of dm_get_device() and dm_table_get_mode(). */
#ifdef COMPAT_HAS_BLK_OPEN_READ
#define COMPAT_OPEN_READ	BLK_OPEN_READ
#define COMPAT_OPEN_WRITE	BLK_OPEN_WRITE
#else
#define COMPAT_OPEN_READ	FMODE_READ
#define COMPAT_OPEN_WRITE	FMODE_WRITE
#endif

/* dm targets that take REQ_NOWAIT bios (5.12+, backported to Debian 5.10). */
#ifdef COMPAT_HAS_DM_TARGET_NOWAIT
#define COMPAT_DM_TARGET_NOWAIT	DM_TARGET_NOWAIT
#else
#define COMPAT_DM_TARGET_NOWAIT	0
#endif

/*
 * The memcg of the page a write bio carries when that page is under
 * writeback (a write-back of page cache, or a swap-out) and cgroup
 * writeback is on (memory and io both on the v2 hierarchy, as
 * inode_cgwb_enabled() wants), with a reference; NULL for any other bio.
 * Cgroup writeback and swap charge such a bio to the cgroup of its pages'
 * memcg.  Before folio_memcg() (5.16) this is NULL:
 * there cgblk needs it nowhere, since device-mapper's clones still carry the
 * original bio's association (see cgblk_bio_set_dev()).
 */
#include <linux/memcontrol.h>
static inline struct cgroup_subsys_state *
compat_bio_writeback_memcg_css(struct bio *bio)
{
#if defined(CONFIG_MEMCG) && defined(COMPAT_HAS_FOLIO_MEMCG)
	struct cgroup_subsys_state *css = NULL;
	struct mem_cgroup *memcg;
	struct folio *folio;

	if (mem_cgroup_disabled() || !bio_has_data(bio) ||
	    !op_is_write(bio_op(bio)) ||
	    !cgroup_subsys_on_dfl(memory_cgrp_subsys) ||
	    !cgroup_subsys_on_dfl(io_cgrp_subsys))
		return NULL;
	folio = page_folio(bio_page(bio));
	/* Only page cache and swap cache pages are ever under writeback. */
	if (folio_test_slab(folio) || !folio_test_writeback(folio))
		return NULL;
	rcu_read_lock();
	memcg = folio_memcg(folio);
	if (memcg && css_tryget(&memcg->css))
		css = &memcg->css;
	rcu_read_unlock();
	return css;
#else
	return NULL;
#endif
}

#include <linux/highmem.h>
#ifndef COMPAT_HAS_MEMZERO_PAGE
#define memzero_page(page, offset, len)	zero_user(page, offset, len)
#endif

#endif /* _CGBLK_COMPAT_H */
