// SPDX-License-Identifier: GPL-2.0
/*
 * charge.c - capture the cgroups I/O is charged to, and issue I/O under them.
 *
 * A stacking driver sees the issuer's cgroup only where I/O enters it: the
 * bio (or request) carries a blkcg association made by the submitter or by
 * writeback.  These helpers carry that association to whoever issues the
 * lower I/O: the memcg is the effective memory css of the blkcg's cgroup,
 * the same rule loop uses since 5.14.
 */
#include <linux/bio.h>
#include <linux/blk-cgroup.h>
#include <linux/cgroup.h>
#include <linux/kthread.h>
#include <linux/memcontrol.h>
#include <linux/sched/mm.h>

#include <cgblk/core.h>

/**
 * cgblk_charge_from_bio - capture the cgroups a bio is charged to
 * @charge: filled in; release with cgblk_charge_put()
 * @bio: the bio, or NULL for the root cgroup
 *
 * Takes a reference on the bio's blkcg css and on the effective memcg css
 * of the same cgroup (cgroup_get_e_css(), as loop does).  A bio of the root
 * cgroup, or with no association, yields the zero charge.  The blkcg may be
 * a v2 cgroup or, with blkio mounted on a cgroup v1 hierarchy, a v1 one;
 * when the memory controller is not on the blkcg's hierarchy (a hybrid
 * system: memory on v1, or blkio on v1 and memory on v2) the memcg is the
 * root memcg: the bio names no memcg then.
 *
 * Context: any context; does not sleep (css lookups under RCU).
 */
void cgblk_charge_from_bio(struct cgblk_charge *charge, struct bio *bio)
{
	struct cgroup_subsys_state *css = bio ? bio_blkcg_css(bio) : NULL;

	charge->blkcg_css = NULL;
	charge->memcg_css = NULL;
	if (!css || css == blkcg_root_css)
		return;
	css_get(css);
	charge->blkcg_css = css;
#ifdef CONFIG_MEMCG
	charge->memcg_css = cgroup_get_e_css(css->cgroup, &memory_cgrp_subsys);
#endif
}
EXPORT_SYMBOL_CGBLK(cgblk_charge_from_bio);

/**
 * cgblk_charge_from_current - capture the cgroups of the current task
 * @charge: filled in; release with cgblk_charge_put()
 *
 * As cgblk_charge_from_bio(), for I/O a driver issues on behalf of the task
 * that asked for it (a dm target's resume, say) rather than of a bio: the
 * task's io css (cgroup v2, or blkio on a v1 hierarchy) and the effective
 * memcg of the same cgroup.  A task of the root cgroup yields the zero
 * charge.
 *
 * Context: task context; does not sleep.
 */
void cgblk_charge_from_current(struct cgblk_charge *charge)
{
	struct cgroup_subsys_state *css = task_get_css(current, io_cgrp_id);

	charge->blkcg_css = NULL;
	charge->memcg_css = NULL;
	if (css == blkcg_root_css) {
		css_put(css);
		return;
	}
	charge->blkcg_css = css;
#ifdef CONFIG_MEMCG
	charge->memcg_css = cgroup_get_e_css(css->cgroup, &memory_cgrp_subsys);
#endif
}
EXPORT_SYMBOL_CGBLK(cgblk_charge_from_current);

/**
 * cgblk_charge_put - release the references of a charge
 * @charge: the charge; left as the zero (root) charge
 *
 * Context: any context.
 */
void cgblk_charge_put(struct cgblk_charge *charge)
{
	if (charge->blkcg_css)
		css_put(charge->blkcg_css);
	if (charge->memcg_css)
		css_put(charge->memcg_css);
	charge->blkcg_css = NULL;
	charge->memcg_css = NULL;
}
EXPORT_SYMBOL_CGBLK(cgblk_charge_put);

/**
 * cgblk_charge_is_root - whether a charge names the root cgroup
 * @charge: the charge
 *
 * Context: any context.
 * Return: true when the I/O is charged to the root cgroup.
 */
bool cgblk_charge_is_root(const struct cgblk_charge *charge)
{
	return !charge->blkcg_css;
}
EXPORT_SYMBOL_CGBLK(cgblk_charge_is_root);

/**
 * cgblk_bio_associate - associate a new or cloned bio with a charge's blkcg
 * @bio: the bio; its device must already be set
 * @charge: the charge (the zero charge associates with the root blkcg)
 *
 * Context: process context; may sleep.  Creating a blkg may allocate, and
 * kernels with the blkcg_mutex rework take a mutex here, so never call it
 * under a spinlock, with preemption off or from a completion.
 */
void cgblk_bio_associate(struct bio *bio, const struct cgblk_charge *charge)
{
	might_sleep();
	bio_associate_blkg_from_css(bio, charge->blkcg_css ?: blkcg_root_css);
}
EXPORT_SYMBOL_CGBLK(cgblk_bio_associate);

/**
 * cgblk_bio_set_dev - remap a bio to a device, keeping the cgroup that issued it
 * @bio: a bio the stacking driver was given (a dm target's clone, say)
 * @bdev: the device it goes to now
 *
 * bio_set_dev() keeps the bio's blkcg association when it has one, and
 * otherwise associates it with the current task's cgroup.  From 6.0,
 * device-mapper hands a target's ->map a clone with no association: dm
 * copies the original bio's association onto the clone only when it submits
 * it, after ->map returned (dm_submit_bio_remap()).  Inside ->map, then,
 * bio_set_dev() charges whoever submits: for written-back page cache that is
 * the flusher or the task that called sync, not the cgroup that dirtied the
 * pages.  So a bio that comes without an association and carries pages
 * under writeback is associated as cgroup writeback (and swap) associate
 * such bios: with the io css of the cgroup of the pages' memcg.  Any other
 * bio gets bio_set_dev()'s association.  This reads the cgroup from the
 * first page, where writeback reads it from the inode's wb: the two differ
 * for pages another cgroup dirtied (writeback then charges the inode's
 * owner) and for a direct write from a mapped page that is being written
 * back at the same time (charged to the page's cgroup, not the writer's).
 * A target that takes the issuer's cgroup from the bio in ->map
 * (cgblk_charge_from_bio()) calls this first.
 *
 * Context: the submitter's, e.g. a dm target's ->map; not under a spinlock
 * and not from a completion (associating a blkg may allocate).
 */
void cgblk_bio_set_dev(struct bio *bio, struct block_device *bdev)
{
	struct cgroup_subsys_state *memcg_css = NULL, *css;

	if (!bio->bi_blkg)
		memcg_css = compat_bio_writeback_memcg_css(bio);
	bio_set_dev(bio, bdev);
	if (!memcg_css)
		return;
	css = cgroup_get_e_css(memcg_css->cgroup, &io_cgrp_subsys);
	css_put(memcg_css);
	bio_associate_blkg_from_css(bio, css);
	css_put(css);
}
EXPORT_SYMBOL_CGBLK(cgblk_bio_set_dev);

/**
 * cgblk_charge_enter - issue the following I/O and allocations under a charge
 * @charge: the charge to enter
 * @scope: saved state, for cgblk_charge_exit()
 *
 * Until cgblk_charge_exit(): bios the calling kernel thread submits are
 * associated with the charge's blkcg (kthread_associate_blkcg()), memory it
 * charges (page cache, __GFP_ACCOUNT) goes to the charge's memcg, and its
 * allocations are GFP_NOIO, since the I/O being issued may be what reclaim
 * waits for.  The scope holds its own references, so the caller may release
 * the charge inside it.  Scopes do not nest.
 *
 * Context: task context of a kernel thread (e.g. a workqueue worker); may
 * sleep.
 */
void cgblk_charge_enter(const struct cgblk_charge *charge,
			struct cgblk_charge_scope *scope)
{
	might_sleep();
	scope->blkcg_css = charge->blkcg_css;
	scope->memcg_css = charge->memcg_css;
	if (scope->blkcg_css)
		css_get(scope->blkcg_css);
	kthread_associate_blkcg(scope->blkcg_css);
#ifdef CONFIG_MEMCG
	if (scope->memcg_css)
		css_get(scope->memcg_css);
	scope->old_memcg = set_active_memcg(scope->memcg_css ?
					    mem_cgroup_from_css(scope->memcg_css) :
					    NULL);
#endif
	scope->noio_flags = memalloc_noio_save();
}
EXPORT_SYMBOL_CGBLK(cgblk_charge_enter);

/**
 * cgblk_charge_exit - leave the scope of cgblk_charge_enter()
 * @scope: the state cgblk_charge_enter() saved
 *
 * Context: the task that entered the scope.
 */
void cgblk_charge_exit(struct cgblk_charge_scope *scope)
{
	memalloc_noio_restore(scope->noio_flags);
#ifdef CONFIG_MEMCG
	set_active_memcg(scope->old_memcg);
	if (scope->memcg_css)
		css_put(scope->memcg_css);
#endif
	kthread_associate_blkcg(NULL);
	if (scope->blkcg_css)
		css_put(scope->blkcg_css);
}
EXPORT_SYMBOL_CGBLK(cgblk_charge_exit);
