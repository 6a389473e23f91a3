// SPDX-License-Identifier: GPL-2.0
/*
 * dm-cgsnap exception tables: the complete exceptions (a hash table sized
 * for the COW device) and the pending ones (a small fixed one), with the
 * slab caches of both.  Lookups and inserts run under s->lock or before
 * the target is live; the tables are made in the constructor and freed in
 * task context once no bio can reach them.
 */
#include <linux/hash.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "cgsnap.h"

struct kmem_cache *cgsnap_exception_cache;
struct kmem_cache *cgsnap_pe_cache;

static struct hlist_head *complete_bucket(struct cgsnap *s, cgsnap_chunk_t old)
{
	return &s->complete[hash_64(old, s->complete_bits)];
}

static struct hlist_head *pending_bucket(struct cgsnap *s, cgsnap_chunk_t old)
{
	return &s->pending[hash_64(old, ilog2(ARRAY_SIZE(s->pending)))];
}

/**
 * cgsnap_lookup - the complete exception of an origin chunk
 * @s: the snapshot
 * @old: origin chunk
 *
 * Context: under s->lock, or before the target is live.
 * Return: the exception or NULL.
 */
struct cgsnap_exception *cgsnap_lookup(struct cgsnap *s, cgsnap_chunk_t old)
{
	struct cgsnap_exception *e;

	hlist_for_each_entry(e, complete_bucket(s, old), node)
		if (e->old == old)
			return e;
	return NULL;
}

/**
 * cgsnap_lookup_pending - the pending exception of an origin chunk
 * @s: the snapshot
 * @old: origin chunk
 *
 * Context: under s->lock (a plain spinlock: never from hard IRQ).
 * Return: the pe or NULL.
 */
struct cgsnap_pe *cgsnap_lookup_pending(struct cgsnap *s, cgsnap_chunk_t old)
{
	struct cgsnap_pe *pe;

	hlist_for_each_entry(pe, pending_bucket(s, old), node)
		if (pe->e->old == old)
			return pe;
	return NULL;
}

/**
 * cgsnap_add_pending - add a new pending exception to the pending table
 * @s: the snapshot
 * @pe: the pe, its exception's old chunk set
 *
 * Context: under s->lock (a plain spinlock: never from hard IRQ).
 */
void cgsnap_add_pending(struct cgsnap *s, struct cgsnap_pe *pe)
{
	hlist_add_head(&pe->node, pending_bucket(s, pe->e->old));
}

/**
 * cgsnap_add_complete - add a committed exception to the complete table
 * @s: the snapshot
 * @e: the exception, no longer a pe's
 *
 * Context: under s->lock (a plain spinlock: never from hard IRQ).
 */
void cgsnap_add_complete(struct cgsnap *s, struct cgsnap_exception *e)
{
	hlist_add_head(&e->node, complete_bucket(s, e->old));
}

/**
 * cgsnap_insert_exception - add a complete exception read from disk
 * @s: the snapshot, not live yet
 * @old: origin chunk
 * @new: COW chunk
 * @gfp: allocation flags
 *
 * A later entry for the same origin chunk replaces the earlier one, as in
 * dm-snapshot.
 *
 * Context: task context (the constructor).
 * Return: 0 or -ENOMEM.
 */
int cgsnap_insert_exception(struct cgsnap *s, cgsnap_chunk_t old,
			    cgsnap_chunk_t new, gfp_t gfp)
{
	struct cgsnap_exception *e = cgsnap_lookup(s, old);

	if (e) {
		e->new = new;
		return 0;
	}
	e = kmem_cache_alloc(cgsnap_exception_cache, gfp);
	if (!e)
		return -ENOMEM;
	e->old = old;
	e->new = new;
	hlist_add_head(&e->node, complete_bucket(s, old));
	return 0;
}

/**
 * cgsnap_remove_exception - a merged chunk is the origin's again
 * @s: the snapshot
 * @old: origin chunk
 * @new: the COW chunk the merge copied back: an exception that maps @old
 *	elsewhere (a later entry of the store) stays
 *
 * Context: any context, under s->lock.
 */
void cgsnap_remove_exception(struct cgsnap *s, cgsnap_chunk_t old,
			     cgsnap_chunk_t new)
{
	struct cgsnap_exception *e;

	lockdep_assert_held(&s->lock);
	e = cgsnap_lookup(s, old);
	if (!e || e->new != new)
		return;
	hlist_del(&e->node);
	kmem_cache_free(cgsnap_exception_cache, e);
}

/**
 * cgsnap_alloc_tables - allocate the exception tables
 * @s: the snapshot, its chunk size and COW size known
 *
 * Context: task context (the constructor).
 * Return: 0 or -ENOMEM.
 */
int cgsnap_alloc_tables(struct cgsnap *s)
{
	u64 chunks = s->cow_sectors >> s->chunk_shift;
	unsigned int i;

	s->complete_bits = clamp_t(unsigned int, ilog2(max_t(u64, chunks, 1)),
				   6, 17);
	s->complete = kvmalloc_array(1U << s->complete_bits,
				     sizeof(*s->complete), GFP_KERNEL);
	if (!s->complete)
		return -ENOMEM;
	for (i = 0; i < (1U << s->complete_bits); i++)
		INIT_HLIST_HEAD(&s->complete[i]);
	for (i = 0; i < ARRAY_SIZE(s->pending); i++)
		INIT_HLIST_HEAD(&s->pending[i]);
	return 0;
}

/**
 * cgsnap_free_tables - free the exception tables and their exceptions
 * @s: the snapshot, no longer live
 *
 * Context: task context.
 */
void cgsnap_free_tables(struct cgsnap *s)
{
	struct cgsnap_exception *e;
	struct hlist_node *tmp;
	unsigned int i;

	if (!s->complete)
		return;
	for (i = 0; i < (1U << s->complete_bits); i++)
		hlist_for_each_entry_safe(e, tmp, &s->complete[i], node)
			kmem_cache_free(cgsnap_exception_cache, e);
	kvfree(s->complete);
}

/**
 * cgsnap_no_pending - no copy into the snapshot is pending
 * @s: the snapshot
 *
 * Context: under s->lock.
 */
bool cgsnap_no_pending(struct cgsnap *s)
{
	unsigned int i;

	lockdep_assert_held(&s->lock);
	for (i = 0; i < ARRAY_SIZE(s->pending); i++)
		if (!hlist_empty(&s->pending[i]))
			return false;
	return true;
}

/**
 * cgsnap_tables_handover - give a snapshot's exceptions to its new table
 * @src: the old table, no copy pending (cgsnap_no_pending())
 * @dst: the new one, whose own (empty) tables @src frees with itself
 *
 * Context: under both s->lock.
 */
void cgsnap_tables_handover(struct cgsnap *src, struct cgsnap *dst)
{
	lockdep_assert_held(&src->lock);
	lockdep_assert_held(&dst->lock);
	swap(src->complete, dst->complete);
	swap(src->complete_bits, dst->complete_bits);
}
