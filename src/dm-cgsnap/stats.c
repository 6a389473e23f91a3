// SPDX-License-Identifier: GPL-2.0
/*
 * dm-cgsnap statistics: the per-cgroup COW counters and the debugfs file
 * of each target (<debugfs>/cgblk/dm_cgsnap/<dm-N>@<start>).
 */
#include <linux/cgroup.h>
#include <linux/debugfs.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include "cgsnap.h"

/**
 * cgsnap_stat_get - the statistics entry of a copy's cgroup
 * @s: the snapshot
 * @charge: the copy's charge
 *
 * Made on first use, at most 4096 per snapshot; freed with the target.
 *
 * Context: task context (the worker); allocates with GFP_NOIO.
 * Return: the entry, or NULL (no memory, or the limit reached).
 */
struct cgsnap_cgstat *cgsnap_stat_get(struct cgsnap *s,
				      const struct cgblk_charge *charge)
{
	struct cgroup *cgrp = charge->blkcg_css ? charge->blkcg_css->cgroup :
						  NULL;
	u64 id = cgrp ? cgroup_id(cgrp) : 1;
	struct cgsnap_cgstat *st, *new;
	char path[128] = "/";

	spin_lock(&s->stat_lock);
	list_for_each_entry(st, &s->stats, entry)
		if (st->cgroup_id == id)
			goto out;
	st = NULL;
	if (s->nr_stats >= 4096)
		goto out;
	spin_unlock(&s->stat_lock);

	if (cgrp && cgroup_path(cgrp, path, sizeof(path)) < 0)
		strscpy(path, "?", sizeof(path));
	new = kzalloc(struct_size(new, path, strlen(path) + 1), GFP_NOIO);
	if (!new)
		return NULL;
	new->cgroup_id = id;
	strcpy(new->path, path);

	spin_lock(&s->stat_lock);
	list_for_each_entry(st, &s->stats, entry)
		if (st->cgroup_id == id)
			goto out_free;
	list_add_tail(&new->entry, &s->stats);
	s->nr_stats++;
	st = new;
	new = NULL;
out_free:
	spin_unlock(&s->stat_lock);
	kfree(new);
	return st;
out:
	spin_unlock(&s->stat_lock);
	return st;
}

/**
 * cgsnap_stats_free - free the per-cgroup statistics
 * @s: the snapshot
 *
 * Context: task context, the target being destroyed.
 */
void cgsnap_stats_free(struct cgsnap *s)
{
	struct cgsnap_cgstat *st, *tmp;

	list_for_each_entry_safe(st, tmp, &s->stats, entry)
		kfree(st);
	INIT_LIST_HEAD(&s->stats);
}

/**
 * cgsnap_stats_show - per-cgroup COW statistics for debugfs
 * @m: the seq_file
 * @s: the snapshot
 *
 * Context: task context.
 */
void cgsnap_stats_show(struct seq_file *m, struct cgsnap *s)
{
	struct cgsnap_cgstat *st;
	enum cgsnap_invalid why;
	bool valid, overflowed;
	cgsnap_chunk_t chunk;
	int error;

	spin_lock(&s->lock);
	valid = s->valid;
	overflowed = s->overflowed;
	why = s->invalid_reason;
	error = s->invalid_error;
	chunk = s->invalid_chunk;
	spin_unlock(&s->lock);
	if (s->merge) {
		struct cgsnap_merge *mg = s->merge;
		const char *state;

		spin_lock(&s->lock);
		state = mg->done ? "done" : mg->failed ? "failed" :
			mg->running ? "running" : "stopped";
		spin_unlock(&s->lock);
		seq_printf(m, "merge %s\nmerged_chunks %lld\nmerge_steps %lld\nqueued_writes %lld\ndirtied_chunks %lld\nwaited_steps %lld\nabandoned_steps %lld\n",
			   state, (long long)atomic64_read(&mg->merged),
			   (long long)atomic64_read(&mg->steps),
			   (long long)atomic64_read(&mg->nr_queued),
			   (long long)atomic64_read(&mg->nr_dirty),
			   (long long)atomic64_read(&mg->waited),
			   (long long)atomic64_read(&mg->abandoned));
	}
	seq_printf(m, "state %s\ninvalid_reason %s\ninvalid_error %d\ninvalid_chunk %llu\n",
		   !valid ? "invalid" : overflowed ? "overflow" : "valid",
		   cgsnap_invalid_name(why), error, (unsigned long long)chunk);
	seq_printf(m, "copies %lld\nfull_chunk_writes %lld\nmerged_writes %lld\nwaiters %lld\ncommits %lld\nchunks_allocated %lld\n",
		   (long long)atomic64_read(&s->copies),
		   (long long)atomic64_read(&s->full_writes),
		   (long long)atomic64_read(&s->merged_writes),
		   (long long)atomic64_read(&s->waiters),
		   (long long)atomic64_read(&s->commits),
		   (long long)atomic64_read(&s->cow_allocated));
	seq_printf(m, "shared_reads %lld\n",
		   (long long)atomic64_read(&s->shared_reads));
	seq_printf(m, "buffers_kmalloc %lld\nbuffers_vmalloc %lld\nbuffers_reserve %lld\nbuffer_waits %lld\n",
		   (long long)atomic64_read(&s->buf_kmalloc),
		   (long long)atomic64_read(&s->buf_vmalloc),
		   (long long)atomic64_read(&s->buf_reserve),
		   (long long)atomic64_read(&s->buf_waits));
	seq_puts(m, "cgroup copies bytes waiters\n");
	spin_lock(&s->stat_lock);
	list_for_each_entry(st, &s->stats, entry)
		seq_printf(m, "%s %lld %lld %lld\n", st->path,
			   (long long)atomic64_read(&st->copies),
			   (long long)atomic64_read(&st->bytes),
			   (long long)atomic64_read(&st->waiters));
	spin_unlock(&s->stat_lock);
}

static int stats_show(struct seq_file *m, void *unused)
{
	struct cgsnap *s = m->private;

	cgsnap_stats_show(m, s);
	seq_puts(m, "workers:\n");
	cgblk_pool_show(m, s->pool);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(stats);

/**
 * cgsnap_stats_create - the debugfs file of a target
 * @s: the snapshot, its pool made
 * @name: file name
 * @dir: the module's debugfs directory
 *
 * Context: task context (the constructor).
 * Return: the dentry (debugfs errors are not checked, as debugfs wants).
 */
struct dentry *cgsnap_stats_create(struct cgsnap *s, const char *name,
				   struct dentry *dir)
{
	return debugfs_create_file(name, 0444, dir, s, &stats_fops);
}
