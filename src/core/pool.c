// SPDX-License-Identifier: GPL-2.0
/*
 * pool.c - per-cgroup worker pool.
 *
 * One worker per blkcg that has I/O in flight, so that an issuer throttled
 * by its cgroup (io.max, io.latency, memory.high) blocks only its own
 * worker, and a shared fallback worker for the root cgroup and for the
 * times a worker cannot be had.  Workers are work items on the pool's
 * WQ_MEM_RECLAIM workqueue: the rescuer guarantees progress when kworkers
 * cannot be created under memory pressure.
 *
 * Locking: pool->lock (irq-safe: items may be queued from any context)
 * protects the tree of workers, the idle list, nr_workers, dying, and every
 * worker's item list, state (scheduled, idle_entry, mm) and statistics;
 * see the comments on the structures.
 *
 * States of a worker, each changed only under pool->lock:
 *   scheduled  its work is queued or running (worker->scheduled): set, with
 *              the one queue_work(), by the first cgblk_pool_queue() that
 *              finds it unscheduled; cleared by the work function when it
 *              finds the item list empty.  Items queued meanwhile are run
 *              by the same run of the work function, so the work is never
 *              queued twice and never runs with nothing to do.
 *   idle       on pool->idle, unscheduled, no items.  The work function
 *              puts it there as it clears scheduled; cgblk_pool_queue()
 *              takes it off before scheduling it.
 *   new        neither: made by cgblk_pool_note_current(), which puts it
 *              on the idle list at once.
 * The fallback worker is never idle and never freed before the pool.
 *
 * Lifetime of a worker: it is created by cgblk_pool_queue() (or
 * cgblk_pool_note_current()) and holds a reference on its blkcg css, and on
 * 5.10 possibly one on an mm of its cgroup (mmgrab()).  Only the reaper
 * frees workers, and only idle ones (removed from the tree and the idle
 * list under pool->lock, so no queue can find them): an idle worker is
 * unscheduled, so its work is neither pending nor running but for the
 * return of a work function that cleared scheduled and touches nothing of
 * the worker after unlocking.  The reaper timer only queues reap_work:
 * freeing drops css and mm references, and mmdrop() must not run in softirq
 * context.
 *
 * Concurrency: a workqueue runs at most max_active of its work items at
 * once; the others wait, inactive, until one of those returns.  A worker
 * blocked in submission (iocost, blk-throttle, memory.max reclaim) holds its
 * slot, so with the default max_active (256) 256 blocked cgroups would stall
 * every other cgroup's worker.  The pool's workqueue therefore gets the
 * most an unbound workqueue may have, WQ_UNBOUND_MAX_ACTIVE (512 on 5.10 to
 * 6.12, and before 6.9 4 per possible CPU past 128 CPUs; 2048 on 7.3), and a
 * pool keeps at most WQ_UNBOUND_MAX_ACTIVE - 1 per-cgroup workers
 * (cgblk_pool_create() caps max_workers): each has at most one work item
 * queued or running (but for
 * the instant between a run clearing scheduled and returning), the
 * fallback one more, so every scheduled worker runs at once.  Cgroups past
 * the cap share the fallback worker, as past max_workers.  From 6.9 an
 * unbound workqueue divides max_active among NUMA nodes in proportion to
 * their CPUs: on a multi-node machine the guarantee holds for the workers
 * queued from one node up to that node's share.
 */
#include <linux/jiffies.h>
#include <linux/cgroup.h>
#include <linux/rbtree.h>
#include <linux/blk-cgroup.h>
#include <linux/kthread.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/timer.h>
#include <linux/workqueue.h>

#include <cgblk/core.h>

#include "internal.h"

/*
 * A worker.  "L" fields are protected by pool->lock; "I" fields are set
 * at creation and constant after.
 */
struct cgblk_worker {
	struct rb_node node;			/* L: in pool->tree */
	struct work_struct work;		/* queued only by cgblk_worker_schedule() */
	struct list_head items;			/* L: cgblk_work.entry */
	struct list_head idle_entry;		/* L: in pool->idle iff idle */
	struct cgblk_pool *pool;		/* I */
	struct cgroup_subsys_state *css;	/* I: key; NULL for the fallback */
	unsigned long last_active;		/* L: jiffies */
	struct mm_struct *mm;			/* L: see cgblk_pool_note_current() */
	unsigned int queued;			/* L: queued or running items */
	bool scheduled;				/* L: work queued or running */
	u64 done;				/* L */
	u64 bytes;				/* L */
};

/* A pool.  "L": protected by lock; "I": set by cgblk_pool_create(). */
struct cgblk_pool {
	spinlock_t lock;		/* see "Locking" above */
	struct rb_root tree;		/* L: workers by css */
	struct list_head idle;		/* L: idle workers, oldest first */
	unsigned int nr_workers;	/* L: in tree (READ_ONCE() to peek) */
	bool dying;			/* L: the reaper stops re-arming */
	u64 nr_overflow;		/* L: items sent to the fallback */
	struct cgblk_worker fallback;
	struct timer_list reaper;
	struct work_struct reap_work;
	struct workqueue_struct *wq;	/* I */
	const struct cgblk_pool_ops *ops;	/* I */
	struct cgblk_pool_params params;	/* I: max_workers capped */
	void *private;			/* I */
};

static void cgblk_worker_fn(struct work_struct *work);

static void cgblk_worker_init(struct cgblk_worker *worker,
			      struct cgblk_pool *pool,
			      struct cgroup_subsys_state *css)
{
	RB_CLEAR_NODE(&worker->node);
	INIT_WORK(&worker->work, cgblk_worker_fn);
	INIT_LIST_HEAD(&worker->items);
	INIT_LIST_HEAD(&worker->idle_entry);
	worker->pool = pool;
	worker->css = css;
	worker->last_active = jiffies;
}

static unsigned long cgblk_pool_idle_jiffies(struct cgblk_pool *pool)
{
	return msecs_to_jiffies(pool->params.idle_ms);
}

/*
 * Workers come from a cache of their own ("cgblk_worker" in /proc/slabinfo,
 * and a target for failslab on the debug kernel).
 */
static struct kmem_cache *cgblk_worker_cache;

int __init cgblk_pool_init(void)
{
	cgblk_worker_cache = KMEM_CACHE(cgblk_worker, 0);
	return cgblk_worker_cache ? 0 : -ENOMEM;
}

void cgblk_pool_exit(void)
{
	kmem_cache_destroy(cgblk_worker_cache);
}

/*
 * The worker for @css, created if need be; the fallback for the root (NULL)
 * and when none can be had (the caller counts an item sent there).
 */
static struct cgblk_worker *cgblk_pool_worker(struct cgblk_pool *pool,
					      struct cgroup_subsys_state *css)
{
	struct rb_node **link = &pool->tree.rb_node, *parent = NULL;
	struct cgblk_worker *worker;

	lockdep_assert_held(&pool->lock);
	if (!css)
		return &pool->fallback;
	while (*link) {
		parent = *link;
		worker = rb_entry(parent, struct cgblk_worker, node);
		if (css == worker->css)
			return worker;
		link = (uintptr_t)css < (uintptr_t)worker->css ?
		       &parent->rb_left : &parent->rb_right;
	}
	if (pool->params.max_workers &&
	    pool->nr_workers >= pool->params.max_workers)
		return &pool->fallback;
	/* May be called in atomic context: never sleep, never warn. */
	worker = kmem_cache_zalloc(cgblk_worker_cache, GFP_NOWAIT | __GFP_NOWARN);
	if (!worker)
		return &pool->fallback;
	cgblk_worker_init(worker, pool, css);
	css_get(css);
	rb_link_node(&worker->node, parent, link);
	rb_insert_color(&worker->node, &pool->tree);
	pool->nr_workers++;
	return worker;
}

/* Queue the worker's work, unless it is queued or running already. */
static void cgblk_worker_schedule(struct cgblk_pool *pool,
				  struct cgblk_worker *worker)
{
	lockdep_assert_held(&pool->lock);
	if (worker->scheduled)
		return;		/* its running work function will see the items */
	worker->scheduled = true;
	list_del_init(&worker->idle_entry);
	/* Unscheduled, the work was neither pending nor running. */
	WARN_ON_ONCE(!queue_work(pool->wq, &worker->work));
}

/**
 * cgblk_pool_queue - run a work item on the worker of its cgroup
 * @pool: the pool
 * @work: the item; its ->charge and ->bytes set by the caller
 *
 * Never fails: without a worker for the cgroup (allocation failure,
 * max_workers reached) the item runs on the fallback worker, still under
 * its own charge.
 *
 * Context: any context, including hard interrupts; does not sleep.
 */
void cgblk_pool_queue(struct cgblk_pool *pool, struct cgblk_work *work)
{
	struct cgblk_worker *worker;
	unsigned long flags;

	spin_lock_irqsave(&pool->lock, flags);
	worker = cgblk_pool_worker(pool, work->charge.blkcg_css);
	if (worker == &pool->fallback && work->charge.blkcg_css)
		pool->nr_overflow++;	/* no worker of its own */
	list_add_tail(&work->entry, &worker->items);
	worker->queued++;
	cgblk_worker_schedule(pool, worker);
	spin_unlock_irqrestore(&pool->lock, flags);
}
EXPORT_SYMBOL_CGBLK(cgblk_pool_queue);

/*
 * Borrow the cgroup's mm for an item, so that the page cache it allocates is
 * charged to the mm owner's memcg (kernels before 5.14; see
 * cgblk_pool_note_current()).  Return: whether the mm is in use.
 */
static bool cgblk_use_mm(struct mm_struct *mm)
{
	if (!mmget_not_zero(mm))
		return false;	/* its last user is gone: charge as before */
	kthread_use_mm(mm);
	return true;
}

static void cgblk_unuse_mm(struct mm_struct *mm)
{
	kthread_unuse_mm(mm);
	mmput(mm);
}

static void cgblk_worker_free(struct cgblk_worker *worker)
{
	css_put(worker->css);
	if (worker->mm)
		mmdrop(worker->mm);
	kmem_cache_free(cgblk_worker_cache, worker);
}

/*
 * Put an unscheduled worker with nothing to do at the end of the idle list
 * (taking it off first if it is there), for the reaper.
 */
static void cgblk_worker_idle(struct cgblk_pool *pool,
			      struct cgblk_worker *worker)
{
	lockdep_assert_held(&pool->lock);
	WARN_ON_ONCE(worker->scheduled || !list_empty(&worker->items) ||
		     worker == &pool->fallback);
	worker->last_active = jiffies;
	list_move_tail(&worker->idle_entry, &pool->idle);
	if (!pool->dying)
		timer_reduce(&pool->reaper,
			     jiffies + cgblk_pool_idle_jiffies(pool));
}

static void cgblk_worker_fn(struct work_struct *work)
{
	struct cgblk_worker *worker = container_of(work, struct cgblk_worker, work);
	struct cgblk_pool *pool = worker->pool;
	unsigned int throttle = current->flags & PF_LOCAL_THROTTLE;
	struct cgblk_charge_scope scope;
	struct mm_struct *mm;
	struct cgblk_work *item;
	unsigned int bytes;
	bool finish;

	/* Like loop: dirty throttling against the backing bdi only. */
	current->flags |= PF_LOCAL_THROTTLE;
	spin_lock_irq(&pool->lock);
	while (!list_empty(&worker->items)) {
		item = list_first_entry(&worker->items, struct cgblk_work, entry);
		list_del_init(&item->entry);
		bytes = item->bytes;
		mm = worker->mm;
		if (mm)
			mmgrab(mm);	/* note_current() may replace it */
		spin_unlock_irq(&pool->lock);

		if (mm && !cgblk_use_mm(mm)) {
			mmdrop(mm);
			mm = NULL;
		}
		cgblk_charge_enter(&item->charge, &scope);
		finish = pool->ops->run(pool, item);	/* false: may be freed */
		cgblk_charge_exit(&scope);
		if (mm) {
			cgblk_unuse_mm(mm);
			mmdrop(mm);
		}
		if (finish && !WARN_ON_ONCE(!pool->ops->finish))
			pool->ops->finish(pool, item);	/* outside the charge */
		cond_resched();

		spin_lock_irq(&pool->lock);
		worker->queued--;
		worker->done++;
		worker->bytes += bytes;
		worker->last_active = jiffies;
	}
	/* Items queued from here on schedule the worker again. */
	worker->scheduled = false;
	if (worker != &pool->fallback)
		cgblk_worker_idle(pool, worker);
	spin_unlock_irq(&pool->lock);
	/* The reaper may free an idle worker from here on: don't touch it. */
	current->flags = (current->flags & ~PF_LOCAL_THROTTLE) | throttle;
}

static void cgblk_pool_reap_timer(struct timer_list *timer)
{
	struct cgblk_pool *pool = container_of(timer, struct cgblk_pool, reaper);

	queue_work(system_unbound_wq, &pool->reap_work);
}

static void cgblk_pool_reap(struct work_struct *work)
{
	struct cgblk_pool *pool = container_of(work, struct cgblk_pool, reap_work);
	unsigned long idle = cgblk_pool_idle_jiffies(pool);
	struct cgblk_worker *worker, *next;
	LIST_HEAD(dead);

	spin_lock_irq(&pool->lock);
	list_for_each_entry_safe(worker, next, &pool->idle, idle_entry) {
		if (time_before(jiffies, worker->last_active + idle))
			break;
		rb_erase(&worker->node, &pool->tree);
		pool->nr_workers--;
		list_move(&worker->idle_entry, &dead);
	}
	if (!list_empty(&pool->idle) && !pool->dying) {
		worker = list_first_entry(&pool->idle, struct cgblk_worker,
					  idle_entry);
		timer_reduce(&pool->reaper, worker->last_active + idle);
	}
	spin_unlock_irq(&pool->lock);

	list_for_each_entry_safe(worker, next, &dead, idle_entry)
		cgblk_worker_free(worker);
}

/**
 * cgblk_pool_create - create a worker pool
 * @name: name of its workqueue (shown by ps for its rescuer)
 * @ops: what the workers run
 * @params: tunables, copied
 * @private: the user's pointer, returned by cgblk_pool_private()
 *
 * Context: process context; may sleep.
 * Return: the pool, or an ERR_PTR.
 */
struct cgblk_pool *cgblk_pool_create(const char *name,
				     const struct cgblk_pool_ops *ops,
				     const struct cgblk_pool_params *params,
				     void *private)
{
	/* See "Concurrency" above. */
	int max_active = WQ_UNBOUND_MAX_ACTIVE;
	struct cgblk_pool *pool;

	pool = kzalloc(sizeof(*pool), GFP_KERNEL);
	if (!pool)
		return ERR_PTR(-ENOMEM);
	pool->wq = alloc_workqueue("%s", WQ_UNBOUND | WQ_MEM_RECLAIM, max_active,
				   name);
	if (!pool->wq) {
		kfree(pool);
		return ERR_PTR(-ENOMEM);
	}
	spin_lock_init(&pool->lock);
	pool->tree = RB_ROOT;
	INIT_LIST_HEAD(&pool->idle);
	cgblk_worker_init(&pool->fallback, pool, NULL);
	timer_setup(&pool->reaper, cgblk_pool_reap_timer, TIMER_DEFERRABLE);
	INIT_WORK(&pool->reap_work, cgblk_pool_reap);
	pool->ops = ops;
	pool->params = *params;
	pool->params.max_workers = min_not_zero(params->max_workers,
						(unsigned int)max_active - 1);
	pool->private = private;
	return pool;
}
EXPORT_SYMBOL_CGBLK(cgblk_pool_create);

/**
 * cgblk_pool_destroy - run what is queued, then free the pool
 * @pool: the pool; nothing may queue on it any more
 *
 * Context: process context; may sleep (waits for queued items).
 */
void cgblk_pool_destroy(struct cgblk_pool *pool)
{
	struct cgblk_worker *worker, *next;

	destroy_workqueue(pool->wq);	/* runs every queued item */
	spin_lock_irq(&pool->lock);
	pool->dying = true;		/* the reaper stops re-arming */
	spin_unlock_irq(&pool->lock);
	timer_delete_sync(&pool->reaper);
	cancel_work_sync(&pool->reap_work);
	rbtree_postorder_for_each_entry_safe(worker, next, &pool->tree, node)
		cgblk_worker_free(worker);
	kfree(pool);
}
EXPORT_SYMBOL_CGBLK(cgblk_pool_destroy);

/**
 * cgblk_pool_flush - wait until every item queued so far has run
 * @pool: the pool
 *
 * A worker's run takes the items queued while it runs, so this also waits
 * for those: while a cgroup keeps queueing onto its running worker, it
 * keeps waiting.  Callers stop queueing first (a frozen or dying queue).
 *
 * Context: process context; may sleep.  Not from a pool's own ->run.
 */
void cgblk_pool_flush(struct cgblk_pool *pool)
{
	flush_workqueue(pool->wq);
}
EXPORT_SYMBOL_CGBLK(cgblk_pool_flush);

/**
 * cgblk_pool_note_current - let the current task's cgroup charge page cache
 * @pool: the pool the current task is about to issue I/O through
 *
 * Kernels before 5.14 charge page cache only to the memcg of the owner of
 * current->mm, never to the active memcg of a kernel thread, so a worker's
 * buffered writes (a backing file on tmpfs, say) would be charged to the
 * root memcg.  There this remembers the current task's mm (mmgrab()) for
 * the worker of its cgroup, which then borrows it (kthread_use_mm()) while
 * it runs that cgroup's items; once every user of the mm is gone, the
 * worker charges as before.  A driver calls it where a task of the cgroup
 * comes by, such as its ->open.  On later kernels it does nothing.
 *
 * Context: process context; may sleep.
 */
void cgblk_pool_note_current(struct cgblk_pool *pool)
{
#ifdef COMPAT_MEMCG_CHARGES_MM_OWNER
	struct mm_struct *old = NULL;
	struct cgroup_subsys_state *css;
	struct cgblk_worker *worker;

	might_sleep();
	if (!current->mm || (current->flags & PF_KTHREAD))
		return;
	css = task_get_css(current, io_cgrp_id);
	if (css == blkcg_root_css)
		goto out;
	spin_lock_irq(&pool->lock);
	worker = cgblk_pool_worker(pool, css);
	if (worker == &pool->fallback)
		goto unlock;
	if (worker->mm != current->mm) {
		old = worker->mm;
		mmgrab(current->mm);
		worker->mm = current->mm;
	}
	/*
	 * A new worker must still be reaped, and an idle one lives idle_ms
	 * from now, to lend the mm to the I/O that follows the open.  A
	 * scheduled worker (its work queued or running, whatever its item
	 * count) is its work function's: it goes idle by itself.
	 */
	if (!worker->scheduled)
		cgblk_worker_idle(pool, worker);
unlock:
	spin_unlock_irq(&pool->lock);
	if (old)
		mmdrop(old);
out:
	css_put(css);
#endif
}
EXPORT_SYMBOL_CGBLK(cgblk_pool_note_current);

/**
 * cgblk_pool_private - the pointer given to cgblk_pool_create()
 * @pool: the pool
 *
 * Context: any context.
 * Return: the user's pointer.
 */
void *cgblk_pool_private(struct cgblk_pool *pool)
{
	return pool->private;
}
EXPORT_SYMBOL_CGBLK(cgblk_pool_private);

/**
 * cgblk_pool_nr_workers - how many per-cgroup workers exist
 * @pool: the pool
 *
 * The fallback worker is not counted.
 *
 * Context: any context.
 * Return: the number of workers, a snapshot.
 */
unsigned int cgblk_pool_nr_workers(struct cgblk_pool *pool)
{
	return READ_ONCE(pool->nr_workers);
}
EXPORT_SYMBOL_CGBLK(cgblk_pool_nr_workers);

/* One worker's line of cgblk_pool_show(), copied under pool->lock. */
struct cgblk_worker_line {
	struct cgroup_subsys_state *css;	/* a reference; NULL: fallback */
	unsigned int queued;
	u64 done, bytes;
	unsigned int idle_ms;
};

static void cgblk_worker_line(struct cgblk_worker_line *l,
			      struct cgblk_worker *worker)
{
	l->css = worker->css;
	if (l->css)
		css_get(l->css);
	l->queued = worker->queued;
	l->done = worker->done;
	l->bytes = worker->bytes;
	l->idle_ms = list_empty(&worker->idle_entry) ? 0 :
		     jiffies_to_msecs(jiffies - worker->last_active);
}

/* Print a line and drop its reference; no lock held. */
static void cgblk_worker_line_show(struct seq_file *m,
				   struct cgblk_worker_line *l)
{
	char path[128] = "(fallback)";

	if (l->css && cgroup_path(l->css->cgroup, path, sizeof(path)) < 0)
		strscpy(path, "(unknown)", sizeof(path));
	seq_printf(m, "%s queued %u done %llu bytes %llu idle_ms %u\n", path,
		   l->queued, l->done, l->bytes, l->idle_ms);
	if (l->css)
		css_put(l->css);
}

#define CGBLK_SHOW_BATCH	16

/* The first worker whose key (its css pointer) is above @after. */
static struct rb_node *cgblk_pool_first_after(struct cgblk_pool *pool,
					      uintptr_t after)
{
	struct rb_node *node = pool->tree.rb_node, *found = NULL;

	lockdep_assert_held(&pool->lock);
	while (node) {
		struct cgblk_worker *w = rb_entry(node, struct cgblk_worker, node);

		if ((uintptr_t)w->css > after) {
			found = node;
			node = node->rb_left;
		} else {
			node = node->rb_right;
		}
	}
	return found;
}

/**
 * cgblk_pool_show - print one line per worker, for debugfs
 * @m: the seq_file
 * @pool: the pool
 *
 * Each line: the cgroup path (or "(fallback)"), items queued or running,
 * items done, bytes done, and how long the worker has been idle (0 when
 * busy).  A last line gives the count of items that went to the fallback
 * for want of a worker.  Workers are copied CGBLK_SHOW_BATCH at a time
 * under the pool's lock (interrupts off) and printed without it, so a pool
 * of thousands keeps interrupts off for one batch at a time.  A worker made
 * or freed meanwhile may or may not be shown.
 *
 * Context: process context (a seq_file ->show).
 */
void cgblk_pool_show(struct seq_file *m, struct cgblk_pool *pool)
{
	struct cgblk_worker_line lines[CGBLK_SHOW_BATCH], fallback;
	uintptr_t after = 0;
	struct rb_node *node;
	unsigned int n, i;
	u64 overflow;

	do {
		n = 0;
		spin_lock_irq(&pool->lock);
		for (node = cgblk_pool_first_after(pool, after);
		     node && n < CGBLK_SHOW_BATCH; node = rb_next(node))
			cgblk_worker_line(&lines[n++],
					  rb_entry(node, struct cgblk_worker, node));
		spin_unlock_irq(&pool->lock);
		if (n)
			after = (uintptr_t)lines[n - 1].css;	/* a key only */
		for (i = 0; i < n; i++)
			cgblk_worker_line_show(m, &lines[i]);
	} while (n == CGBLK_SHOW_BATCH);

	spin_lock_irq(&pool->lock);
	cgblk_worker_line(&fallback, &pool->fallback);
	overflow = pool->nr_overflow;
	spin_unlock_irq(&pool->lock);
	cgblk_worker_line_show(m, &fallback);
	seq_printf(m, "overflow %llu\n", overflow);
}
EXPORT_SYMBOL_CGBLK(cgblk_pool_show);
