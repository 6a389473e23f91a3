/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cgblk/core.h - the cgblk core library (cgblk_core.ko).
 *
 * Shared by cgloop, cgblk_offload and dm-cgsnap.  Every symbol is exported
 * GPL-only in the CGBLK namespace: a user module says CGBLK_IMPORT_NS()
 * once.  The context rule of each function is in its kernel-doc.
 *
 * Two pieces:
 *
 * Charges.  A struct cgblk_charge names the cgroups (blkcg and memcg) one
 * piece of I/O is charged to.  It is captured where the I/O enters the
 * driver (cgblk_charge_from_bio(), any context), carried with it, and
 * entered by whoever issues the lower I/O on its behalf (cgblk_charge_enter(),
 * task context), or stamped on a new bio (cgblk_bio_associate(), may sleep).
 * A bio remapped to another device with cgblk_bio_set_dev() keeps the
 * cgroup that issued it, also where device-mapper gave it none (6.0+).
 *
 * Worker pool.  A struct cgblk_pool runs work items in task context on one
 * worker per blkcg, so that an issuer throttled by its cgroup blocks only
 * its own worker.  Queueing never sleeps and never fails: when a worker
 * cannot be allocated, or the pool has max_workers already, the item runs
 * on the pool's shared fallback worker, still under its own charge.  Idle
 * workers are freed after idle_ms.
 */
#ifndef _CGBLK_CORE_H
#define _CGBLK_CORE_H

#include <linux/list.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/printk.h>
#include <linux/string.h>
#include <linux/types.h>

struct bio;
struct cgroup_subsys_state;
struct dentry;
struct mem_cgroup;
struct seq_file;

/* Export from cgblk_core / import into a user module. */
#define EXPORT_SYMBOL_CGBLK(sym)	COMPAT_EXPORT_SYMBOL_NS_GPL(sym, CGBLK)
#define CGBLK_IMPORT_NS()		COMPAT_MODULE_IMPORT_NS(CGBLK)

struct dentry *cgblk_debugfs_dir(void);

/**
 * struct cgblk_charge - the cgroups one piece of I/O is charged to
 * @blkcg_css: io controller css, referenced; NULL for the root cgroup
 * @memcg_css: memory controller css, referenced; NULL for the root cgroup
 *	(the root memcg's css when memory is not on the blkcg's hierarchy)
 *
 * Zero-initialised it means "the root cgroup".
 */
struct cgblk_charge {
	struct cgroup_subsys_state *blkcg_css;
	struct cgroup_subsys_state *memcg_css;
};

/**
 * struct cgblk_charge_scope - saved state of cgblk_charge_enter()
 * @old_memcg: the active memcg before the scope
 * @noio_flags: saved memalloc_noio_save() state
 * @blkcg_css: reference held on the blkcg for the scope
 * @memcg_css: reference held on the memcg for the scope
 */
struct cgblk_charge_scope {
	struct mem_cgroup *old_memcg;
	unsigned int noio_flags;
	struct cgroup_subsys_state *blkcg_css;
	struct cgroup_subsys_state *memcg_css;
};

void cgblk_charge_from_bio(struct cgblk_charge *charge, struct bio *bio);
void cgblk_charge_from_current(struct cgblk_charge *charge);
void cgblk_charge_put(struct cgblk_charge *charge);
bool cgblk_charge_is_root(const struct cgblk_charge *charge);
void cgblk_bio_associate(struct bio *bio, const struct cgblk_charge *charge);
void cgblk_bio_set_dev(struct bio *bio, struct block_device *bdev);
void cgblk_charge_enter(const struct cgblk_charge *charge,
			struct cgblk_charge_scope *scope);
void cgblk_charge_exit(struct cgblk_charge_scope *scope);

struct cgblk_pool;

/**
 * struct cgblk_work - one item of work for a struct cgblk_pool
 * @entry: the pool's list linkage; owned by the pool while queued
 * @charge: whom the work is charged to; set by the caller before
 *	cgblk_pool_queue() and released by the caller (typically in ->run)
 * @bytes: size of the I/O it stands for, for the statistics
 */
struct cgblk_work {
	struct list_head entry;
	struct cgblk_charge charge;
	unsigned int bytes;
};

/**
 * struct cgblk_pool_ops - what a pool runs
 * @run: called once per queued item, in task context that may sleep, on the
 *	worker of the item's blkcg with the item's charge entered (blkcg
 *	associated, memcg active, NOIO allocations).  Return false when the
 *	pool is done with the item (@run may have freed it: the pool does not
 *	touch it afterwards); true to have @finish called for it.
 * @finish: optional; called on the same worker right after @run returned
 *	true, once the item's charge is left: for what must not run as the
 *	issuer, such as ending the request the item stands for (its
 *	bi_end_io would otherwise run with the issuer's memcg active, its
 *	blkcg associated and NOIO set).  May free the item.
 */
struct cgblk_pool_ops {
	bool (*run)(struct cgblk_pool *pool, struct cgblk_work *work);
	void (*finish)(struct cgblk_pool *pool, struct cgblk_work *work);
};

/**
 * struct cgblk_pool_params - tunables of a pool
 * @max_workers: per-cgroup workers at most (0: as many as the pool can run
 *	at once); past it, items run on the shared fallback worker.  Capped
 *	at WQ_UNBOUND_MAX_ACTIVE - 1, so that no worker waits for a workqueue
 *	slot while others are blocked (see src/core/pool.c, "Concurrency")
 * @idle_ms: a worker idle this long is freed
 */
struct cgblk_pool_params {
	unsigned int max_workers;
	unsigned int idle_ms;
};

struct cgblk_pool *cgblk_pool_create(const char *name,
				     const struct cgblk_pool_ops *ops,
				     const struct cgblk_pool_params *params,
				     void *private);
void cgblk_pool_destroy(struct cgblk_pool *pool);
void cgblk_pool_queue(struct cgblk_pool *pool, struct cgblk_work *work);
void cgblk_pool_flush(struct cgblk_pool *pool);
void cgblk_pool_note_current(struct cgblk_pool *pool);
void *cgblk_pool_private(struct cgblk_pool *pool);
unsigned int cgblk_pool_nr_workers(struct cgblk_pool *pool);
void cgblk_pool_show(struct seq_file *m, struct cgblk_pool *pool);

/**
 * cgblk_param_set_range - set an unsigned int module parameter, in range
 * @val: the value written
 * @kp: the parameter; kp->arg points to an unsigned int
 * @min: smallest value taken
 * @max: largest value taken
 *
 * For a kernel_param_ops .set: a value that is not a number from @min to
 * @max is refused with one kernel message naming the parameter.  Inline,
 * so that the message carries the caller's module name.
 *
 * Context: task context (module load or a sysfs write).
 * Return: 0, or -EINVAL (the parameter keeps its value).
 */
static inline int cgblk_param_set_range(const char *val,
					const struct kernel_param *kp,
					unsigned int min, unsigned int max)
{
	unsigned int n;
	int ret = kstrtouint(val, 0, &n);

	if (ret || n < min || n > max) {
		pr_err("%s=%.*s: expected a number from %u to %u\n", kp->name,
		       (int)strcspn(val, "\n"), val, min, max);
		return -EINVAL;
	}
	*(unsigned int *)kp->arg = n;
	return 0;
}

#endif /* _CGBLK_CORE_H */
