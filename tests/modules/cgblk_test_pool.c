// SPDX-License-Identifier: GPL-2.0
/*
 * cgblk_test_pool - drives the cgblk_core worker pool from user space, for
 * tests/guest/core_pool_workers.sh.  Never installed.
 *
 * /sys/kernel/debug/cgblk/cgblk_test_pool/
 *   queue    write "N", "N block" or "N block G": queue N items charged to
 *            the writer's cgroup; "block" items wait in ->run until their
 *            gate G (0 to TP_GATES - 1; 0 when not given) is opened
 *   open     write "G": open gate G: the items blocked on it finish
 *   release  write anything: open every gate
 *   note     write anything: cgblk_pool_note_current() for the writer
 *   stats    "queued Q done D wrong W blocked B workers N"
 *   workers  cgblk_pool_show()
 *
 * An open releases the items queued on the gate before it; items queued
 * after it block until the next.  Gates let a test hold some workers
 * blocked and release others, to put the pool and its workqueue in a
 * chosen state (core_pool_note_pending.sh).
 *
 * Each item checks, in ->run, that it runs in task context (preemptible,
 * where the kernel counts preemption) with its own memcg active and NOIO
 * allocations; a failed check counts in "wrong".
 */
#include <linux/cgroup.h>
#include <linux/debugfs.h>
#include <linux/memcontrol.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#include <cgblk/core.h>

static unsigned int max_workers;
module_param(max_workers, uint, 0444);
MODULE_PARM_DESC(max_workers, "per-cgroup workers at most (default 0: no limit)");
static unsigned int idle_ms = 1000;
module_param(idle_ms, uint, 0444);
MODULE_PARM_DESC(idle_ms, "idle worker lifetime in ms (default 1000)");

#define TP_GATES	8

struct tp_item {
	struct cgblk_work work;
	bool block;
	unsigned int gate;
	unsigned int gen;	/* of its gate when queued */
};

static struct cgblk_pool *tp_pool;
static struct dentry *tp_dir;
static atomic_t tp_queued, tp_done, tp_wrong, tp_blocked;
static DECLARE_WAIT_QUEUE_HEAD(tp_release_wq);
static atomic_t tp_gen[TP_GATES];	/* each open of gate G adds one */

static bool tp_run(struct cgblk_pool *pool, struct cgblk_work *work)
{
	struct tp_item *it = container_of(work, struct tp_item, work);
#ifdef CONFIG_MEMCG
	struct mem_cgroup *want = work->charge.memcg_css ?
				  mem_cgroup_from_css(work->charge.memcg_css) : NULL;

	if (current->active_memcg != want)
		atomic_inc(&tp_wrong);
#endif
	if (!(current->flags & PF_MEMALLOC_NOIO) || !in_task())
		atomic_inc(&tp_wrong);
	/* Without preempt counting (Debian's 5.10) preemptible() is always 0. */
	if (IS_ENABLED(CONFIG_PREEMPT_COUNT) && !preemptible())
		atomic_inc(&tp_wrong);
	if (it->block) {
		atomic_inc(&tp_blocked);
		/* Idle: the hung-task detector must not see a test's wait. */
		wait_event_idle(tp_release_wq,
				atomic_read(&tp_gen[it->gate]) != it->gen);
		atomic_dec(&tp_blocked);
	}
	cgblk_charge_put(&work->charge);
	kfree(it);
	atomic_inc(&tp_done);
	return false;
}

static const struct cgblk_pool_ops tp_ops = {
	.run = tp_run,
};

/* The charge of the current task: its blkcg and its memcg, NULL for root. */
static void tp_charge_current(struct cgblk_charge *charge)
{
	charge->blkcg_css = task_get_css(current, io_cgrp_id);
	if (!charge->blkcg_css->parent) {
		css_put(charge->blkcg_css);
		charge->blkcg_css = NULL;
	}
	charge->memcg_css = NULL;
#ifdef CONFIG_MEMCG
	if (charge->blkcg_css)
		charge->memcg_css = task_get_css(current, memory_cgrp_id);
#endif
}

static ssize_t tp_queue_write(struct file *file, const char __user *ubuf,
			      size_t len, loff_t *ppos)
{
	unsigned int i, n, gate = 0;
	char buf[32] = {};
	char *word, *count;
	struct tp_item *it;
	bool block = false;

	if (len >= sizeof(buf) || copy_from_user(buf, ubuf, len))
		return -EINVAL;
	word = strim(buf);
	count = strsep(&word, " ");
	if (kstrtouint(count, 10, &n) || n > 100000)
		return -EINVAL;
	if (word) {
		word = strim(word);
		if (strcmp(strsep(&word, " "), "block"))
			return -EINVAL;
		block = true;
		if (word && (kstrtouint(strim(word), 10, &gate) || gate >= TP_GATES))
			return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		it = kzalloc(sizeof(*it), GFP_KERNEL);
		if (!it)
			return -ENOMEM;
		it->block = block;
		it->gate = gate;
		it->gen = atomic_read(&tp_gen[gate]);
		it->work.bytes = 4096;
		tp_charge_current(&it->work.charge);
		atomic_inc(&tp_queued);
		cgblk_pool_queue(tp_pool, &it->work);
	}
	return len;
}

static void tp_open_gates(unsigned long gates)
{
	unsigned int g;

	for_each_set_bit(g, &gates, TP_GATES)
		atomic_inc(&tp_gen[g]);
	wake_up_all(&tp_release_wq);
}

static ssize_t tp_open_write(struct file *file, const char __user *ubuf,
			     size_t len, loff_t *ppos)
{
	unsigned int gate;
	int ret;

	ret = kstrtouint_from_user(ubuf, len, 10, &gate);
	if (ret)
		return ret;
	if (gate >= TP_GATES)
		return -EINVAL;
	tp_open_gates(BIT(gate));
	return len;
}

static ssize_t tp_release_write(struct file *file, const char __user *ubuf,
				size_t len, loff_t *ppos)
{
	tp_open_gates(GENMASK(TP_GATES - 1, 0));
	return len;
}

static ssize_t tp_note_write(struct file *file, const char __user *ubuf,
			     size_t len, loff_t *ppos)
{
	cgblk_pool_note_current(tp_pool);
	return len;
}

static int tp_stats_show(struct seq_file *m, void *v)
{
	seq_printf(m, "queued %d done %d wrong %d blocked %d workers %u\n",
		   atomic_read(&tp_queued), atomic_read(&tp_done),
		   atomic_read(&tp_wrong), atomic_read(&tp_blocked),
		   cgblk_pool_nr_workers(tp_pool));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(tp_stats);

static int tp_workers_show(struct seq_file *m, void *v)
{
	cgblk_pool_show(m, tp_pool);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(tp_workers);

static const struct file_operations tp_queue_fops = {
	.owner = THIS_MODULE,
	.write = tp_queue_write,
};

static const struct file_operations tp_open_fops = {
	.owner = THIS_MODULE,
	.write = tp_open_write,
};

static const struct file_operations tp_release_fops = {
	.owner = THIS_MODULE,
	.write = tp_release_write,
};

static const struct file_operations tp_note_fops = {
	.owner = THIS_MODULE,
	.write = tp_note_write,
};

static int __init tp_init(void)
{
	struct cgblk_pool_params params = {
		.max_workers = max_workers,
		.idle_ms = idle_ms,
	};

	tp_pool = cgblk_pool_create("cgblk_test_pool", &tp_ops, &params, NULL);
	if (IS_ERR(tp_pool))
		return PTR_ERR(tp_pool);
	tp_dir = debugfs_create_dir(KBUILD_MODNAME, cgblk_debugfs_dir());
	debugfs_create_file("queue", 0200, tp_dir, NULL, &tp_queue_fops);
	debugfs_create_file("open", 0200, tp_dir, NULL, &tp_open_fops);
	debugfs_create_file("release", 0200, tp_dir, NULL, &tp_release_fops);
	debugfs_create_file("note", 0200, tp_dir, NULL, &tp_note_fops);
	debugfs_create_file("stats", 0444, tp_dir, NULL, &tp_stats_fops);
	debugfs_create_file("workers", 0444, tp_dir, NULL, &tp_workers_fops);
	return 0;
}

static void __exit tp_exit(void)
{
	debugfs_remove_recursive(tp_dir);
	tp_open_gates(GENMASK(TP_GATES - 1, 0));
	cgblk_pool_destroy(tp_pool);
}

module_init(tp_init);
module_exit(tp_exit);

MODULE_DESCRIPTION("cgblk test: drives the cgblk_core worker pool");
MODULE_LICENSE("GPL");
CGBLK_IMPORT_NS();
