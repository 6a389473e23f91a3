/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cgblk/offload.h - bio completions in task context (cgblk_offload.ko).
 *
 * Some bi_end_io handlers must sleep (take a mutex, write metadata), but
 * bio_endio() is often called from hard or soft IRQ context.  Linux 7.3
 * added BIO_COMPLETE_IN_TASK for this; cgblk_offload gives the same service
 * on every kernel cgblk supports, and uses the kernel's own where it exists
 * (module parameter native=1, the default).
 *
 * Two ways in, as upstream:
 *
 *  - dynamic: a bi_end_io that finds it needs task context calls
 *    cgblk_bio_complete_in_task(bio) first and returns when it says true;
 *    bi_end_io is called again later, from task context.
 *
 *  - static: a submitter that knows the completion needs task context calls
 *    cgblk_bio_set_complete_in_task() (per-bio context from the caller) or
 *    cgblk_bio_offload() (context from a mempool) before submit_bio(); the
 *    bio's bi_end_io then always runs in task context.
 *
 * Deferred completions go on a per-CPU batch and run from a per-CPU work
 * item of a WQ_MEM_RECLAIM workqueue, in order, at most max_per_run per
 * run.  CPU hotplug drains a departing CPU's batch.  A user module must
 * not unload before every bio it set up, or deferred, has had its bi_end_io
 * called (as any block driver waits for its bios): then cgblk_offload, which
 * it keeps loaded, has nothing of it left when it unloads in turn.
 *
 * The rule for every bi_end_io run this way: it may sleep, but it must
 * never wait for I/O admission — submit a bio to a queue that may be out
 * of tags, or throttled by wbt, iocost or blk-throttle — nor for other I/O
 * to complete.  The work item that runs it is shared by every deferred
 * completion of its CPU, of every cgroup and device: while it waits,
 * they all wait, and when the I/O it waits for completes through
 * cgblk_offload too (a cgloop with complete_in_task=1 below), it waits for
 * itself.  Hand such work to a worker of one's own (dm-cgsnap queues the
 * copy back on its cgroup's cgblk_core worker).
 */
#ifndef _CGBLK_OFFLOAD_H
#define _CGBLK_OFFLOAD_H

#include <linux/blk_types.h>
#include <linux/gfp.h>

/**
 * struct cgblk_offload_ctx - per-bio context of the static way
 * @end_io: the bio's own bi_end_io, restored before it is called
 * @private: the bio's own bi_private, restored with it
 * @flags: internal
 *
 * Embed it in the submitter's per-bio data; it must live until @end_io
 * has been called.  Its contents are private to cgblk_offload.
 */
struct cgblk_offload_ctx {
	bio_end_io_t *end_io;
	void *private;
	unsigned int flags;
};

bool cgblk_bio_complete_in_task(struct bio *bio);
void cgblk_bio_set_complete_in_task(struct bio *bio,
				    struct cgblk_offload_ctx *ctx);
int cgblk_bio_offload(struct bio *bio, gfp_t gfp);
bool cgblk_offload_in_atomic(void);
bool cgblk_offload_native(void);

#endif /* _CGBLK_OFFLOAD_H */
