// SPDX-License-Identifier: GPL-2.0
/*
 * cgblk_offload - bio completions in task context, on every kernel.
 *
 * A completion that must run in task context is put on the batch of the
 * CPU it arrived on (a bio_list under a spinlock taken with interrupts
 * off) and the CPU's work item is queued on a per-CPU WQ_MEM_RECLAIM
 * workqueue: its rescuer keeps completions flowing when no new worker can
 * be forked under memory pressure.  The work item runs at most max_per_run
 * completions, oldest first, and queues itself again when more are waiting.
 *
 * CPU hotplug: when a CPU starts going down (CPUHP_AP_ONLINE_DYN teardown,
 * on that CPU) its batch is marked offline and its work item cancelled;
 * completions that still arrive there stay on the batch.  Once the CPU is
 * dead (CPUHP_BP_PREPARE_DYN teardown) its batch is moved to the batch of
 * the CPU doing the hotplug, whose work item runs it: nothing is lost,
 * nothing runs twice, nothing is left on an offline CPU's batch.
 *
 * On kernels with BIO_COMPLETE_IN_TASK (7.3+) and native=1 (the default),
 * both calls hand the bio to the kernel's own infrastructure instead.
 */
#include <linux/bio.h>
#include <linux/cpuhotplug.h>
#include <linux/debugfs.h>
#include <linux/init.h>
#include <linux/ktime.h>
#include <linux/mempool.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/percpu.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

#include <cgblk/core.h>
#include <cgblk/offload.h>

/* Parameters. */

static unsigned int offload_delay;
static int offload_set_delay(const char *val, const struct kernel_param *kp)
{
	return cgblk_param_set_range(val, kp, 0, HZ);
}

static const struct kernel_param_ops offload_delay_ops = {
	.set = offload_set_delay,
	.get = param_get_uint,
};

module_param_cb(delay_jiffies, &offload_delay_ops, &offload_delay, 0644);
MODULE_PARM_DESC(delay_jiffies,
		 "Let a batch gather this long before it runs, in jiffies (0-HZ, default 0: no added latency)");

static unsigned int offload_max_per_run = 256;
static int offload_set_max_per_run(const char *val, const struct kernel_param *kp)
{
	return cgblk_param_set_range(val, kp, 1, 65536);
}

static const struct kernel_param_ops offload_max_per_run_ops = {
	.set = offload_set_max_per_run,
	.get = param_get_uint,
};

module_param_cb(max_per_run, &offload_max_per_run_ops, &offload_max_per_run, 0644);
MODULE_PARM_DESC(max_per_run,
		 "Completions one run of a CPU's work item makes before it queues itself again (1-65536, default 256)");

static bool offload_use_native = true;
module_param_named(native, offload_use_native, bool, 0444);
MODULE_PARM_DESC(native,
		 "Use the kernel's BIO_COMPLETE_IN_TASK where it has it (7.3+) (default Y)");

/* State. */

#define OFFLOAD_HIST	22	/* defer-to-run latency, log2 buckets of us */

struct offload_cpu_stats {
	u64 deferred;		/* put on a batch */
	u64 inline_run;		/* asked in task context: not deferred */
	u64 run;		/* run by a work item */
	u64 hotplug;		/* moved off a dead CPU's batch */
	u64 runs;		/* work item runs */
	u64 requeued;		/* runs that stopped at max_per_run */
	u64 native;		/* handed to BIO_COMPLETE_IN_TASK */
	u64 hist[OFFLOAD_HIST];
};

struct offload_batch {
	spinlock_t lock;	/* list, nr, max, online, first_ns; irqs off */
	struct bio_list list;
	unsigned int nr;
	unsigned int max;	/* the longest this batch has been */
	bool online;
	u64 first_ns;		/* when the oldest bio was added, 0: unknown */
	struct delayed_work work;
	unsigned int cpu;
};

#define OFFLOAD_CTX_POOL	1U	/* the ctx came from offload_ctx_pool */

static struct offload_batch __percpu *offload_batches;
static struct offload_cpu_stats __percpu *offload_stats;
static struct workqueue_struct *offload_wq;
static struct kmem_cache *offload_ctx_cache;
static mempool_t *offload_ctx_pool;
static struct dentry *offload_debugfs;
static int offload_state_online;
static int offload_state_dead;
static bool offload_native_active;

static void offload_work_fn(struct work_struct *w);

/* True in our work item: there, run, don't defer. */
static bool offload_in_runner(void)
{
	struct work_struct *w = current_work();

	return w && w->func == offload_work_fn;
}

/*
 * IRQs off: append @n bios to this CPU's batch, and kick its work if the
 * batch was empty.  @first_ns is when the oldest of them was deferred (0:
 * now).
 */
static void offload_enqueue(struct bio_list *list, unsigned int n,
			    u64 first_ns, unsigned long delay)
{
	struct offload_batch *b = this_cpu_ptr(offload_batches);
	bool kick;

	lockdep_assert_irqs_disabled();
	spin_lock(&b->lock);
	kick = bio_list_empty(&b->list);
	if (kick)
		b->first_ns = first_ns ?: ktime_get_ns();
	bio_list_merge(&b->list, list);
	b->nr += n;
	b->max = max(b->max, b->nr);
	kick = kick && b->online;
	spin_unlock(&b->lock);
	if (kick)
		queue_delayed_work_on(b->cpu, offload_wq, &b->work, delay);
}

/* Any context: put @bio on this CPU's batch. */
static void offload_defer(struct bio *bio)
{
	struct bio_list one = BIO_EMPTY_LIST;
	unsigned long flags;

	bio_list_add(&one, bio);
	local_irq_save(flags);
	offload_enqueue(&one, 1, 0, READ_ONCE(offload_delay));
	this_cpu_inc(offload_stats->deferred);
	local_irq_restore(flags);
}

static void offload_hist_add(u64 start_ns)
{
	u64 us = div_u64(ktime_get_ns() - start_ns, NSEC_PER_USEC);
	unsigned int i = min_t(unsigned int, fls64(us), OFFLOAD_HIST - 1);

	this_cpu_inc(offload_stats->hist[i]);
}

static void offload_work_fn(struct work_struct *w)
{
	struct offload_batch *b = container_of(to_delayed_work(w),
					       struct offload_batch, work);
	unsigned int budget = READ_ONCE(offload_max_per_run), n = 0;
	struct bio_list list;
	struct bio *bio;
	bool more;
	u64 first;

	bio_list_init(&list);
	spin_lock_irq(&b->lock);
	while (n < budget && (bio = bio_list_pop(&b->list))) {
		bio_list_add(&list, bio);
		n++;
	}
	b->nr -= n;
	first = b->first_ns;
	b->first_ns = 0;	/* the age of what is left is not known */
	spin_unlock_irq(&b->lock);

	while ((bio = bio_list_pop(&list))) {
		if (first) {
			offload_hist_add(first);
			first = 0;
		}
		bio->bi_end_io(bio);
	}
	this_cpu_add(offload_stats->run, n);
	this_cpu_inc(offload_stats->runs);

	spin_lock_irq(&b->lock);
	more = !bio_list_empty(&b->list) && b->online;
	spin_unlock_irq(&b->lock);
	if (more) {
		this_cpu_inc(offload_stats->requeued);
		queue_delayed_work_on(b->cpu, offload_wq, &b->work, 0);
	}
}

/**
 * cgblk_offload_in_atomic - whether a bi_end_io may not sleep here
 *
 * Context: any.
 * Return: true in hard or soft IRQ context, with preemption or interrupts
 * disabled, inside a preemptible-RCU read-side section, and always on a
 * kernel without preempt counting (CONFIG_PREEMPT_COUNT=n, e.g. Debian's
 * 5.10), where atomic context cannot be told from task context.
 */
bool cgblk_offload_in_atomic(void)
{
	if (!IS_ENABLED(CONFIG_PREEMPT_COUNT))
		return true;
	if (IS_ENABLED(CONFIG_PREEMPT_RCU) && rcu_preempt_depth())
		return true;
	return !preemptible();
}
EXPORT_SYMBOL_CGBLK(cgblk_offload_in_atomic);

/**
 * cgblk_offload_native - whether the kernel's BIO_COMPLETE_IN_TASK is used
 *
 * Context: any.
 * Return: true when completions in task context are handed to the kernel's
 * BIO_COMPLETE_IN_TASK (a kernel that has it, and native=Y), false when
 * cgblk_offload's own per-CPU batches run them.
 */
bool cgblk_offload_native(void)
{
	return offload_native_active;
}
EXPORT_SYMBOL_CGBLK(cgblk_offload_native);

/**
 * cgblk_bio_complete_in_task - run this bi_end_io again, in task context
 * @bio: the bio whose bi_end_io is running
 *
 * Called at the top of a bi_end_io that needs task context: when the
 * caller is atomic (see cgblk_offload_in_atomic()) the bio is put on the
 * CPU's batch and true is returned; bi_end_io must then return at once,
 * without touching @bio: it is called again, from a work item in task
 * context, where this call returns false.  Never allocates, never fails.
 *
 * Context: any, including hard IRQ.
 * Return: true when the completion was deferred.
 */
bool cgblk_bio_complete_in_task(struct bio *bio)
{
	bool atomic;

#ifdef COMPAT_HAS_BIO_COMPLETE_IN_TASK
	if (offload_native_active) {
		/* The kernel's flag marks a bio already deferred once. */
		if (bio_flagged(bio, BIO_COMPLETE_IN_TASK))
			return false;
		if (bio_complete_in_task(bio)) {
			this_cpu_inc(offload_stats->native);
			return true;
		}
		this_cpu_inc(offload_stats->inline_run);
		return false;
	}
#endif
	atomic = cgblk_offload_in_atomic();
	/*
	 * Our own runner calls bi_end_io in task context, but what that
	 * completes may be atomic there (a stacked driver ending its parent
	 * under a lock): then it is deferred again.  Without preempt counting
	 * (Debian's 5.10) a spinlock cannot be seen, but interrupts off and
	 * bottom halves off (preempt_count()) can: in the runner, outside
	 * those, it runs, or it would be deferred again for ever.
	 */
	if (offload_in_runner() && !irqs_disabled() && !preempt_count() &&
	    (!atomic || !IS_ENABLED(CONFIG_PREEMPT_COUNT)))
		return false;
	if (!atomic) {
		this_cpu_inc(offload_stats->inline_run);
		return false;
	}
	offload_defer(bio);
	return true;
}
EXPORT_SYMBOL_CGBLK(cgblk_bio_complete_in_task);

/* The bi_end_io of a bio set up by cgblk_bio_set_complete_in_task(). */
static void offload_ctx_end_io(struct bio *bio)
{
	struct cgblk_offload_ctx *ctx = bio->bi_private;

	if (cgblk_bio_complete_in_task(bio))
		return;
	bio->bi_end_io = ctx->end_io;
	bio->bi_private = ctx->private;
	if (ctx->flags & OFFLOAD_CTX_POOL)
		mempool_free(ctx, offload_ctx_pool);
	/*
	 * No module reference is dropped here: the submitter's module keeps
	 * this one loaded (it uses our symbols) and is not unloaded before
	 * its bios complete.  A module_put() after this call would let the
	 * module go while its own code still runs.  Nothing may follow the
	 * call: once the submitter may have seen its bio end, only this
	 * function's return is left in our text.  For the runner, exit's
	 * cancel_delayed_work_sync() waits for it; for an atomic caller,
	 * free_module()'s RCU grace period; a preemptible task caller
	 * preempted on the return leaves the window every stacking driver's
	 * bi_end_io has (two rmmods would have to fit into it).
	 */
	bio->bi_end_io(bio);
}

static void offload_wrap(struct bio *bio, struct cgblk_offload_ctx *ctx,
			 unsigned int flags)
{
	ctx->end_io = bio->bi_end_io;
	ctx->private = bio->bi_private;
	ctx->flags = flags;
	bio->bi_end_io = offload_ctx_end_io;
	bio->bi_private = ctx;
}

/**
 * cgblk_bio_set_complete_in_task - make a bio's bi_end_io run in task context
 * @bio: a bio about to be submitted, its bi_end_io and bi_private set
 * @ctx: per-bio context that lives until bi_end_io has been called
 *
 * On kernels with BIO_COMPLETE_IN_TASK this sets the flag and @ctx is not
 * used.  Elsewhere bi_end_io and bi_private are saved in @ctx and replaced
 * by cgblk_offload's own, which defers the completion when it arrives in
 * atomic context and restores both before calling the original.  The
 * submitter must not change bi_end_io or bi_private until then, and must
 * not let its module be unloaded before bi_end_io has been called (as any
 * block driver waits for its bios): its use of this function keeps
 * cgblk_offload loaded, no per-bio reference is taken.
 *
 * Context: any.  Never allocates, never fails.
 */
void cgblk_bio_set_complete_in_task(struct bio *bio,
				    struct cgblk_offload_ctx *ctx)
{
#ifdef COMPAT_HAS_BIO_COMPLETE_IN_TASK
	if (offload_native_active) {
		bio_set_flag(bio, BIO_COMPLETE_IN_TASK);
		return;
	}
#endif
	offload_wrap(bio, ctx, 0);
}
EXPORT_SYMBOL_CGBLK(cgblk_bio_set_complete_in_task);

/**
 * cgblk_bio_offload - cgblk_bio_set_complete_in_task() with a pooled context
 * @bio: a bio about to be submitted, its bi_end_io and bi_private set
 * @gfp: how the context may be allocated
 *
 * The context comes from a mempool and goes back to it before the bio's own
 * bi_end_io is called.  With a @gfp that may sleep (GFP_NOIO) this cannot
 * fail: it waits for a context to be freed by a completion.
 *
 * Context: task context if @gfp may sleep, else any.
 * Return: 0, or -ENOMEM when @gfp does not allow waiting and the pool is
 * empty (the bio is then unchanged).
 */
int cgblk_bio_offload(struct bio *bio, gfp_t gfp)
{
	struct cgblk_offload_ctx *ctx;

#ifdef COMPAT_HAS_BIO_COMPLETE_IN_TASK
	if (offload_native_active) {
		bio_set_flag(bio, BIO_COMPLETE_IN_TASK);
		return 0;
	}
#endif
	ctx = mempool_alloc(offload_ctx_pool, gfp);
	if (!ctx)
		return -ENOMEM;
	offload_wrap(bio, ctx, OFFLOAD_CTX_POOL);
	return 0;
}
EXPORT_SYMBOL_CGBLK(cgblk_bio_offload);

/* CPU hotplug. */

/* On @cpu, as it comes online: let its work item run the batch again. */
static int offload_cpu_online(unsigned int cpu)
{
	struct offload_batch *b = per_cpu_ptr(offload_batches, cpu);
	bool kick;

	spin_lock_irq(&b->lock);
	b->online = true;
	kick = !bio_list_empty(&b->list);
	spin_unlock_irq(&b->lock);
	if (kick)
		queue_delayed_work_on(cpu, offload_wq, &b->work, 0);
	return 0;
}

/* On @cpu, as it starts going down: stop its work item for good. */
static int offload_cpu_down_prep(unsigned int cpu)
{
	struct offload_batch *b = per_cpu_ptr(offload_batches, cpu);

	spin_lock_irq(&b->lock);
	b->online = false;
	spin_unlock_irq(&b->lock);
	/* Waits for a running instance; it does not queue itself again. */
	cancel_delayed_work_sync(&b->work);
	return 0;
}

/* On the CPU doing the hotplug, @cpu dead: move its batch here. */
static int offload_cpu_dead(unsigned int cpu)
{
	struct offload_batch *dead = per_cpu_ptr(offload_batches, cpu);
	struct bio_list list;
	unsigned int n;
	u64 first;

	spin_lock_irq(&dead->lock);
	list = dead->list;
	bio_list_init(&dead->list);
	n = dead->nr;
	dead->nr = 0;
	first = dead->first_ns;
	dead->first_ns = 0;
	spin_unlock_irq(&dead->lock);
	if (!n)
		return 0;

	local_irq_disable();
	offload_enqueue(&list, n, first, 0);
	this_cpu_add(offload_stats->hotplug, n);
	local_irq_enable();
	return 0;
}

/* debugfs: stats. */

static int offload_stats_show(struct seq_file *m, void *v)
{
	static const char * const names[] = {
		"deferred", "inline", "run", "hotplug_drained", "work_runs",
		"requeued", "native",
	};
	u64 sum[ARRAY_SIZE(names)] = { 0 }, hist[OFFLOAD_HIST] = { 0 };
	unsigned int max = 0, pending = 0, cpu, i;

	for_each_possible_cpu(cpu) {
		struct offload_cpu_stats *s = per_cpu_ptr(offload_stats, cpu);
		struct offload_batch *b = per_cpu_ptr(offload_batches, cpu);

		sum[0] += READ_ONCE(s->deferred);
		sum[1] += READ_ONCE(s->inline_run);
		sum[2] += READ_ONCE(s->run);
		sum[3] += READ_ONCE(s->hotplug);
		sum[4] += READ_ONCE(s->runs);
		sum[5] += READ_ONCE(s->requeued);
		sum[6] += READ_ONCE(s->native);
		for (i = 0; i < OFFLOAD_HIST; i++)
			hist[i] += READ_ONCE(s->hist[i]);
		max = max(max, READ_ONCE(b->max));
		pending += READ_ONCE(b->nr);
	}
	seq_printf(m, "mode %s\n", offload_native_active ? "native" : "cgblk");
	for (i = 0; i < ARRAY_SIZE(names); i++)
		seq_printf(m, "%s %llu\n", names[i], sum[i]);
	seq_printf(m, "pending %u\nmax_batch %u\n", pending, max);
	seq_puts(m, "latency_us");
	for (i = 0; i < OFFLOAD_HIST; i++)
		seq_printf(m, " %s%llu:%llu", i == OFFLOAD_HIST - 1 ? ">=" : "<",
			   i == OFFLOAD_HIST - 1 ? 1ULL << (i - 1) : 1ULL << i,
			   hist[i]);
	seq_putc(m, '\n');
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(offload_stats);

/* Module init and exit. */

static void offload_free(void)
{
	mempool_destroy(offload_ctx_pool);
	kmem_cache_destroy(offload_ctx_cache);
	if (offload_wq)
		destroy_workqueue(offload_wq);
	free_percpu(offload_stats);
	free_percpu(offload_batches);
}

static int __init cgblk_offload_init(void)
{
	unsigned int cpu;
	int ret = -ENOMEM;

#ifdef COMPAT_HAS_BIO_COMPLETE_IN_TASK
	offload_native_active = offload_use_native;
#endif
	offload_batches = alloc_percpu(struct offload_batch);
	offload_stats = alloc_percpu(struct offload_cpu_stats);
	if (!offload_batches || !offload_stats)
		goto fail;
	for_each_possible_cpu(cpu) {
		struct offload_batch *b = per_cpu_ptr(offload_batches, cpu);

		spin_lock_init(&b->lock);
		bio_list_init(&b->list);
		INIT_DELAYED_WORK(&b->work, offload_work_fn);
		b->cpu = cpu;
	}
	offload_wq = alloc_workqueue("cgblk_offload",
				     WQ_MEM_RECLAIM | WQ_HIGHPRI | COMPAT_WQ_PERCPU, 0);
	offload_ctx_cache = KMEM_CACHE(cgblk_offload_ctx, 0);
	if (!offload_wq || !offload_ctx_cache)
		goto fail;
	offload_ctx_pool = mempool_create_slab_pool(64, offload_ctx_cache);
	if (!offload_ctx_pool)
		goto fail;

	ret = cpuhp_setup_state(CPUHP_AP_ONLINE_DYN, "cgblk/offload:online",
				offload_cpu_online, offload_cpu_down_prep);
	if (ret < 0)
		goto fail;
	offload_state_online = ret;
	ret = cpuhp_setup_state_nocalls(CPUHP_BP_PREPARE_DYN, "cgblk/offload:dead",
					NULL, offload_cpu_dead);
	if (ret < 0) {
		cpuhp_remove_state(offload_state_online);
		goto fail;
	}
	offload_state_dead = ret;

	offload_debugfs = debugfs_create_dir(KBUILD_MODNAME, cgblk_debugfs_dir());
	debugfs_create_file("stats", 0444, offload_debugfs, NULL,
			    &offload_stats_fops);
	pr_info("completions in task context: %s\n",
		offload_native_active ? "the kernel's BIO_COMPLETE_IN_TASK" :
		"per-CPU batches");
	return 0;
fail:
	pr_err("cannot set up: %d\n", ret);
	offload_free();
	return ret;
}

static void __exit cgblk_offload_exit(void)
{
	unsigned int cpu;

	debugfs_remove_recursive(offload_debugfs);
	/* No more moves between batches, then no more work items. */
	cpuhp_remove_state_nocalls(offload_state_dead);
	cpuhp_remove_state(offload_state_online);
	for_each_possible_cpu(cpu)
		cancel_delayed_work_sync(&per_cpu_ptr(offload_batches, cpu)->work);
	/*
	 * Every user module is gone, and each waited for its bios, which
	 * includes their deferred completions: the batches are empty.  A bio
	 * still on one belongs to a module that broke that rule and is gone:
	 * its bi_end_io is freed code, so it is left where it is.
	 */
	for_each_possible_cpu(cpu) {
		struct offload_batch *b = per_cpu_ptr(offload_batches, cpu);

		WARN_ONCE(!bio_list_empty(&b->list),
			  "cgblk_offload: %u completions left on CPU %u's batch at unload\n",
			  b->nr, cpu);
	}
	offload_free();
}

module_init(cgblk_offload_init);
module_exit(cgblk_offload_exit);

MODULE_AUTHOR("The cgblk authors");
MODULE_DESCRIPTION("cgblk offload: bio completions run in task context");
MODULE_LICENSE("GPL");
CGBLK_IMPORT_NS();
