// SPDX-License-Identifier: GPL-2.0
/*
 * device.c - a cgloop device: its backing, its disk and its I/O path.
 *
 * ->queue_rq captures the cgroups a request is charged to (from its first
 * bio) and hands it to the device's cgblk_core pool, which runs it on that
 * cgroup's worker: the backing I/O is then issued with the issuer's blkcg
 * associated and its memcg active, so io.max, io.weight and memory.max of
 * the issuing cgroup apply to it, and a throttled cgroup stalls only its
 * own worker.  Over a block device, the worker clones the request's bios
 * onto it (a stacking driver: no page cache, no file layer), associates
 * each clone with the issuer's blkcg and submits it; the request completes
 * with the last clone.  Over a file, reads and writes use direct I/O when
 * the backing allows it,
 * submitted asynchronously (as loop does), so that a worker does not hold
 * the backing file system's locks while its cgroup is throttled; buffered
 * I/O, flushes (vfs_fsync()) and discard/write zeroes (vfs_fallocate()) are
 * synchronous in the worker.  Requests complete through ->complete.
 */
#include <linux/debugfs.h>
#include <linux/falloc.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/namei.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uio.h>

#include "cgloop.h"

static DEFINE_IDA(cgloop_ida);

/*
 * Backing I/O, in the worker.
 *
 * ->read_iter and ->write_iter are called directly, as the in-tree loop
 * does, with freeze protection taken here for writes (file_start_write(),
 * kiocb_start_write()): vfs_iter_write() and vfs_iocb_iter_write() take it
 * themselves from 6.7 but leave it to their caller before, a change inside
 * fs/read_write.c that no header shows, so no probe can tell which a
 * kernel (or a backport) does, and holding it twice deadlocks against a
 * freeze that starts between the two.  What their rw_verify_area() checks
 * holds by construction: every position is inside the backing's window.
 */

/* Whether a read that stopped at backing position @end hit the file's end. */
static bool cgloop_at_eof(struct file *file, loff_t end)
{
	return end >= i_size_read(file_inode(file));
}

static ssize_t cgloop_rw_bvec(struct cgloop_device *cl, unsigned int dir,
			      struct bio_vec *bv, loff_t pos)
{
	struct file *file = cl->file;
	struct iov_iter iter;
	struct kiocb kiocb;
	ssize_t ret;

	iov_iter_bvec(&iter, dir, bv, 1, bv->bv_len);
	init_sync_kiocb(&kiocb, file);
	kiocb.ki_pos = pos;
	if (cl->direct_io)
		kiocb.ki_flags |= IOCB_DIRECT;
	if (dir == WRITE) {
		/* ->write_iter wants freeze protection from its caller */
		file_start_write(file);
		ret = file->f_op->write_iter(&kiocb, &iter);
		file_end_write(file);
		return ret;
	}
	ret = file->f_op->read_iter(&kiocb, &iter);
	/*
	 * Cut short by the end of the backing file (truncated since): zeroes
	 * past it.  Cut short anywhere else: an error, as on the direct path.
	 */
	if (ret >= 0 && ret < bv->bv_len) {
		if (!cgloop_at_eof(file, pos + ret))
			return -EIO;
		iov_iter_zero(bv->bv_len - ret, &iter);
	}
	return ret < 0 ? ret : bv->bv_len;
}

/* Buffered (or fallback) I/O: one bvec at a time, synchronously. */
static blk_status_t cgloop_rw(struct cgloop_device *cl, struct request *rq,
			      unsigned int dir, loff_t pos)
{
	struct req_iterator it;
	struct bio_vec bv;
	ssize_t ret;

	rq_for_each_bvec(bv, rq, it) {
		ret = cgloop_rw_bvec(cl, dir, &bv, pos);
		if (ret != bv.bv_len) {
			pr_err_ratelimited("%s: %s at %lld: %zd\n",
					   cl->disk->disk_name,
					   dir == WRITE ? "write" : "read", pos, ret);
			return BLK_STS_IOERR;
		}
		pos += bv.bv_len;
	}
	return BLK_STS_OK;
}

/*
 * The last reference ends the backing I/O: a write drops the freeze
 * protection its submission took (kiocb_start_write()), in whatever context
 * this runs, as the in-tree loop does.  Return: whether it was the last;
 * its holder then ends the request.
 */
static bool cgloop_aio_put(struct cgloop_cmd *cmd)
{
	struct request *rq = blk_mq_rq_from_pdu(cmd);

	if (!atomic_dec_and_test(&cmd->ref))
		return false;
	kfree(cmd->bvec);
	cmd->bvec = NULL;
	if (req_op(rq) == REQ_OP_WRITE)
		kiocb_end_write(&cmd->iocb);
	return true;
}

/* Zero a request's data from byte @done on.  Any context. */
static void cgloop_zero_tail(struct request *rq, unsigned int done)
{
	struct req_iterator it;
	struct bio_vec bv;
	unsigned int off = 0, skip;

	rq_for_each_segment(bv, rq, it) {
		if (off + bv.bv_len > done) {
			skip = done > off ? done - off : 0;
			memzero_page(bv.bv_page, bv.bv_offset + skip,
				     bv.bv_len - skip);
		}
		off += bv.bv_len;
	}
}

/* Where @rq starts in the backing. */
static loff_t cgloop_rq_pos(struct cgloop_device *cl, struct request *rq)
{
	return ((loff_t)blk_rq_pos(rq) << SECTOR_SHIFT) + cl->config.offset;
}

/* Whether a read of @rq that got @done bytes stopped at the file's end. */
static bool cgloop_read_past_eof(struct cgloop_device *cl, struct request *rq,
				 long done)
{
	return cgloop_at_eof(cl->file, cgloop_rq_pos(cl, rq) + done);
}

/*
 * Any context: may be called from the backing's I/O completion.  A read
 * cut short by the end of the backing file (truncated since) reads as
 * zeroes past it, as on the synchronous path; cut short anywhere else, it
 * fails.
 */
static void cgloop_aio_complete(COMPAT_KI_COMPLETE_ARGS)
{
	struct cgloop_cmd *cmd = container_of(iocb, struct cgloop_cmd, iocb);
	struct request *rq = blk_mq_rq_from_pdu(cmd);
	struct cgloop_device *cl = rq->q->queuedata;

	if (ret >= 0 && ret < blk_rq_bytes(rq) && req_op(rq) == REQ_OP_READ &&
	    cgloop_read_past_eof(cl, rq, ret)) {
		cgloop_zero_tail(rq, ret);
	} else if (ret != blk_rq_bytes(rq)) {
		pr_err_ratelimited("%s: direct %s at %lld: %ld of %u bytes\n",
				   cl->disk->disk_name,
				   op_is_write(req_op(rq)) ? "write" : "read",
				   iocb->ki_pos, ret, blk_rq_bytes(rq));
		cmd->status = BLK_STS_IOERR;
	}
	if (cgloop_aio_put(cmd))
		blk_mq_complete_request(rq);
}

enum cgloop_aio {
	CGLOOP_AIO_FALLBACK,	/* not submitted: do it synchronously */
	CGLOOP_AIO_QUEUED,	/* its completion ends the request */
	CGLOOP_AIO_DONE,	/* done already: the caller ends the request */
};

/*
 * Direct I/O of a whole request, asynchronously.  Return: how it went; when
 * the backing completed it during the submission, the worker holds the last
 * reference and ends the request outside the charge (cgloop_finish()).
 */
static enum cgloop_aio cgloop_rw_aio(struct cgloop_device *cl,
				     struct request *rq, unsigned int dir,
				     loff_t pos)
{
	struct cgloop_cmd *cmd = blk_mq_rq_to_pdu(rq);
	struct bio *bio = rq->bio;
	struct req_iterator it;
	struct iov_iter iter;
	struct bio_vec tmp;
	unsigned int nr = 0;
	ssize_t ret;

	rq_for_each_bvec(tmp, rq, it)
		nr++;
	if (rq->bio != rq->biotail) {
		/* No bvec array: synchronous I/O still makes progress. */
		cmd->bvec = kmalloc_array(nr, sizeof(*cmd->bvec),
					  GFP_NOIO | __GFP_NOWARN);
		if (!cmd->bvec)
			return CGLOOP_AIO_FALLBACK;
		nr = 0;
		rq_for_each_bvec(tmp, rq, it)
			cmd->bvec[nr++] = tmp;
		iov_iter_bvec(&iter, dir, cmd->bvec, nr, blk_rq_bytes(rq));
	} else {
		/* One bio: iterate its own bvecs, from where it starts. */
		const struct bio_vec *first = __bvec_iter_bvec(bio->bi_io_vec,
							       bio->bi_iter);

		iov_iter_bvec(&iter, dir, first, nr, blk_rq_bytes(rq));
		iter.iov_offset = mp_bvec_iter_offset(bio->bi_io_vec, bio->bi_iter) -
				  first->bv_offset;
	}

	init_sync_kiocb(&cmd->iocb, cl->file);
	cmd->iocb.ki_pos = pos;
	cmd->iocb.ki_flags |= IOCB_DIRECT;
	cmd->iocb.ki_ioprio = req_get_ioprio(rq);
	cmd->iocb.ki_complete = cgloop_aio_complete;
	atomic_set(&cmd->ref, 2);
	if (dir == WRITE) {
		/*
		 * ->write_iter wants freeze protection from its caller, held
		 * until the write completes: a frozen backing file system makes
		 * the worker wait here for the thaw.
		 */
		kiocb_start_write(&cmd->iocb);
		ret = cl->file->f_op->write_iter(&cmd->iocb, &iter);
	} else {
		ret = cl->file->f_op->read_iter(&cmd->iocb, &iter);
	}
	if (ret != -EIOCBQUEUED)
		cgloop_aio_complete(&cmd->iocb, ret
#ifdef COMPAT_KI_COMPLETE_RET2
				    , 0
#endif
				    );
	return cgloop_aio_put(cmd) ? CGLOOP_AIO_DONE : CGLOOP_AIO_QUEUED;
}

static blk_status_t cgloop_fallocate(struct cgloop_device *cl, int mode,
				     loff_t pos, loff_t len)
{
	int ret;

	if (!cl->discard)
		return BLK_STS_NOTSUPP;
	ret = vfs_fallocate(cl->file, mode | FALLOC_FL_KEEP_SIZE, pos, len);
	if (ret == -EOPNOTSUPP || ret == -EINVAL)
		return BLK_STS_NOTSUPP;
	return errno_to_blk_status(ret);
}

/* Remapping onto a block device backing. */

/*
 * End a request: ->complete (softirq or the completing context), or
 * directly from task context with complete_in_task.
 */
static void cgloop_complete_rq(struct request *rq)
{
	struct cgloop_cmd *cmd = blk_mq_rq_to_pdu(rq);

	cgblk_charge_put(&cmd->work.charge);
	blk_mq_end_request(rq, cmd->status);
}

/*
 * End a request once its work is done: through ->complete normally; with
 * complete_in_task, right here, so that the upper layer's bi_end_io runs
 * in the task context this is called from (the worker, outside the
 * issuer's charge, or cgblk_offload's work item).
 */
static void cgloop_end(struct cgloop_device *cl, struct cgloop_cmd *cmd)
{
	struct request *rq = blk_mq_rq_from_pdu(cmd);

	if (cl->complete_in_task)
		cgloop_complete_rq(rq);
	else
		blk_mq_complete_request(rq);
}

/* A clone's completion: the last reference ends the request. */
static void cgloop_remap_put(struct cgloop_device *cl, struct cgloop_cmd *cmd)
{
	if (atomic_dec_and_test(&cmd->ref))
		cgloop_end(cl, cmd);
}

/*
 * The lower device's completion: any context, or task context only when
 * the clone was submitted with complete_in_task.
 */
static void cgloop_remap_endio(struct bio *clone)
{
	struct cgloop_cmd *cmd = clone->bi_private;
	struct request *rq = blk_mq_rq_from_pdu(cmd);

	if (clone->bi_status)
		cmd->status = clone->bi_status;
	bio_put(clone);
	cgloop_remap_put(rq->q->queuedata, cmd);
}

static void cgloop_remap_submit(struct cgloop_device *cl,
				struct cgloop_cmd *cmd, struct bio *clone)
{
	clone->bi_private = cmd;
	clone->bi_end_io = cgloop_remap_endio;
	if (cl->complete_in_task) {
		struct cgloop_clone *c = container_of(clone, struct cgloop_clone, bio);

		cgblk_bio_set_complete_in_task(clone, &c->offload);
	}
	/* In the worker, no lock held: association may sleep. */
	cgblk_bio_associate(clone, &cmd->work.charge);
	atomic_inc(&cmd->ref);
	submit_bio_noacct(clone);
}

/*
 * Clone the request's bios onto the lower device, shifted by the offset;
 * a flush without data becomes an empty REQ_PREFLUSH bio.  The clones come
 * from the device's bio_set: with GFP_NOIO they wait for one of ours to
 * complete rather than fail.  The request completes with the last clone.
 *
 * Return: true when every clone completed already (brd, a cgloop with
 * complete_in_task below): the caller holds the last reference and ends
 * the request, outside the charge (cgloop_finish()).
 */
static bool cgloop_remap(struct cgloop_device *cl, struct request *rq)
{
	struct cgloop_cmd *cmd = blk_mq_rq_to_pdu(rq);
	sector_t shift = cl->config.offset >> SECTOR_SHIFT;
	struct bio *bio, *clone;

	atomic_set(&cmd->ref, 1);
	if (!rq->bio) {
		clone = compat_bio_alloc_empty(cl->bdev, REQ_OP_WRITE | REQ_PREFLUSH,
					       GFP_NOIO, &cl->bioset);
		cgloop_remap_submit(cl, cmd, clone);
	}
	__rq_for_each_bio(bio, rq) {
		clone = compat_bio_alloc_clone(cl->bdev, bio, GFP_NOIO,
					       &cl->bioset);
		clone->bi_iter.bi_sector += shift;
		/*
		 * blk-mq ran the flush sequence for this queue already and
		 * cleared from the request what it did (a flush request
		 * before, one after for FUA: cgloop has no FUA), leaving the
		 * bios' flags: the lower device must not flush again.  What
		 * the request still carries (a request inserted past that
		 * machinery, as request-based dm does) goes down, FUA on
		 * each clone, a preflush on the first.  A write that was a
		 * flush stays a sync one, as blk-mq makes it.
		 */
		if (op_is_flush(clone->bi_opf)) {
			clone->bi_opf &= ~(REQ_PREFLUSH | REQ_FUA);
			clone->bi_opf |= REQ_SYNC | (rq->cmd_flags & REQ_FUA);
			if (bio == rq->bio)
				clone->bi_opf |= rq->cmd_flags & REQ_PREFLUSH;
		}
		cgloop_remap_submit(cl, cmd, clone);
	}
	return atomic_dec_and_test(&cmd->ref);
}

/*
 * Return: the status, or BLK_STS_OK with *async set when it was submitted
 * and completes on its own.
 */
static blk_status_t cgloop_do_request(struct cgloop_device *cl,
				      struct request *rq, bool *async)
{
	struct cgloop_cmd *cmd = blk_mq_rq_to_pdu(rq);
	loff_t pos = cgloop_rq_pos(cl, rq);
	loff_t len = blk_rq_bytes(rq);
	unsigned int dir = READ;

	if (op_is_write(req_op(rq)) && cl->read_only)
		return BLK_STS_IOERR;
	if (cl->bdev) {
		if (cgloop_remap(cl, rq))
			return cmd->status;
		*async = true;	/* a clone's completion ends it */
		return BLK_STS_OK;
	}
	switch (req_op(rq)) {
	case REQ_OP_WRITE:
		dir = WRITE;
		fallthrough;
	case REQ_OP_READ:
		switch (cl->direct_io ? cgloop_rw_aio(cl, rq, dir, pos) :
					CGLOOP_AIO_FALLBACK) {
		case CGLOOP_AIO_QUEUED:
			*async = true;
			return BLK_STS_OK;
		case CGLOOP_AIO_DONE:
			return cmd->status;
		case CGLOOP_AIO_FALLBACK:
			break;
		}
		return cgloop_rw(cl, rq, dir, pos);
	case REQ_OP_FLUSH:
		return errno_to_blk_status(vfs_fsync(cl->file, 0));
	case REQ_OP_DISCARD:
		return cgloop_fallocate(cl, FALLOC_FL_PUNCH_HOLE, pos, len);
	case REQ_OP_WRITE_ZEROES:
		/* Keep the space allocated only when asked to. */
		return cgloop_fallocate(cl, rq->cmd_flags & REQ_NOUNMAP ?
					FALLOC_FL_ZERO_RANGE :
					FALLOC_FL_PUNCH_HOLE, pos, len);
	default:
		return BLK_STS_NOTSUPP;
	}
}

/*
 * cgblk_pool ->run: on the issuing cgroup's worker, under its charge.  A
 * request done here is ended by cgloop_finish(), once the charge is left.
 */
static bool cgloop_run(struct cgblk_pool *pool, struct cgblk_work *work)
{
	struct cgloop_cmd *cmd = container_of(work, struct cgloop_cmd, work);
	struct request *rq = blk_mq_rq_from_pdu(cmd);
	struct cgloop_device *cl = cgblk_pool_private(pool);
	bool async = false;
	blk_status_t status;

	status = cgloop_do_request(cl, rq, &async);
	if (async)
		return false;	/* the request may be gone already */
	cmd->status = status;
	return true;
}

/* cgblk_pool ->finish: the same worker, as itself. */
static void cgloop_finish(struct cgblk_pool *pool, struct cgblk_work *work)
{
	struct cgloop_cmd *cmd = container_of(work, struct cgloop_cmd, work);
	struct cgloop_device *cl = cgblk_pool_private(pool);

	cgloop_end(cl, cmd);
}

static const struct cgblk_pool_ops cgloop_pool_ops = {
	.run = cgloop_run,
	.finish = cgloop_finish,
};

static blk_status_t cgloop_queue_rq(struct blk_mq_hw_ctx *hctx,
				    const struct blk_mq_queue_data *bd)
{
	struct request *rq = bd->rq;
	struct cgloop_cmd *cmd = blk_mq_rq_to_pdu(rq);
	struct cgloop_device *cl = hctx->queue->queuedata;

	blk_mq_start_request(rq);
	cmd->status = BLK_STS_OK;
	cmd->bvec = NULL;
	/* May be atomic here: capture the charge, don't associate. */
	cgblk_charge_from_bio(&cmd->work.charge, rq->bio);
	cmd->work.bytes = blk_rq_bytes(rq);
	cgblk_pool_queue(cl->pool, &cmd->work);
	return BLK_STS_OK;
}

static const struct blk_mq_ops cgloop_mq_ops = {
	.queue_rq = cgloop_queue_rq,
	.complete = cgloop_complete_rq,
};

/* The block device. */

static int cgloop_open(COMPAT_BDOPS_OPEN_ARGS)
{
	struct cgloop_device *cl = COMPAT_BDOPS_OPEN_DISK->private_data;
	int ret = 0;

	/* While open, its configfs item cannot be removed. */
	if (cgloop_configfs_pin(cl))
		return -ENXIO;
	spin_lock(&cl->state_lock);
	if (cl->state == CGLOOP_LIVE)
		cl->open_count++;
	else
		ret = -ENXIO;
	spin_unlock(&cl->state_lock);
	if (ret) {
		cgloop_configfs_unpin(cl);
		return ret;
	}
	/* Open, the device cannot be disabled: the pool stays. */
	cgblk_pool_note_current(cl->pool);
	return 0;
}

static void cgloop_release(COMPAT_BDOPS_RELEASE_ARGS)
{
	struct cgloop_device *cl = disk->private_data;

	spin_lock(&cl->state_lock);
	cl->open_count--;
	spin_unlock(&cl->state_lock);
	cgloop_configfs_unpin(cl);
}

static const struct block_device_operations cgloop_fops = {
	.owner = THIS_MODULE,
	.open = cgloop_open,
	.release = cgloop_release,
};

/* /sys/block/cgloopN/cgloop/ */

static struct cgloop_device *dev_to_cgloop(struct device *dev)
{
	return dev_to_disk(dev)->private_data;
}

static ssize_t backing_file_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", dev_to_cgloop(dev)->config.backing);
}

static ssize_t offset_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	return sysfs_emit(buf, "%lld\n", dev_to_cgloop(dev)->config.offset);
}

static ssize_t size_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	return sysfs_emit(buf, "%lld\n", dev_to_cgloop(dev)->size);
}

static ssize_t direct_io_show(struct device *dev, struct device_attribute *attr,
			      char *buf)
{
	return sysfs_emit(buf, "%d\n", dev_to_cgloop(dev)->direct_io);
}

static ssize_t read_only_show(struct device *dev, struct device_attribute *attr,
			      char *buf)
{
	return sysfs_emit(buf, "%d\n", dev_to_cgloop(dev)->read_only);
}

static ssize_t nr_workers_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n",
			  cgblk_pool_nr_workers(dev_to_cgloop(dev)->pool));
}

static ssize_t complete_in_task_show(struct device *dev,
				     struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", dev_to_cgloop(dev)->complete_in_task);
}

static DEVICE_ATTR_RO(backing_file);
static DEVICE_ATTR_RO(offset);
static DEVICE_ATTR_RO(size);
static DEVICE_ATTR_RO(direct_io);
static DEVICE_ATTR_RO(read_only);
static DEVICE_ATTR_RO(nr_workers);
static DEVICE_ATTR_RO(complete_in_task);

static struct attribute *cgloop_disk_attrs[] = {
	&dev_attr_backing_file.attr,
	&dev_attr_offset.attr,
	&dev_attr_size.attr,
	&dev_attr_direct_io.attr,
	&dev_attr_read_only.attr,
	&dev_attr_nr_workers.attr,
	&dev_attr_complete_in_task.attr,
	NULL,
};

static const struct attribute_group cgloop_disk_group = {
	.name = CGLOOP_NAME,
	.attrs = cgloop_disk_attrs,
};

const struct attribute_group *cgloop_disk_groups[] = {
	&cgloop_disk_group,
	NULL,
};

static int cgloop_workers_show(struct seq_file *m, void *v)
{
	struct cgloop_device *cl = m->private;

	cgblk_pool_show(m, cl->pool);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(cgloop_workers);

/* Life cycle. */

/**
 * cgloop_config_set_backing - set the backing path of a configuration
 * @config: the configuration
 * @path: the path, copied; trailing newlines are dropped
 *
 * Return: 0, or -EINVAL for an empty path, -ENOMEM.
 */
int cgloop_config_set_backing(struct cgloop_config *config, const char *path)
{
	char *copy = kstrdup(path, GFP_KERNEL);

	if (!copy)
		return -ENOMEM;
	strim(copy);
	if (!*copy) {
		kfree(copy);
		return -EINVAL;
	}
	kfree(config->backing);
	config->backing = copy;
	return 0;
}

/**
 * cgloop_dev_create - a new, disabled device with the default configuration
 *
 * Context: process context.
 * Return: the device, or an ERR_PTR.
 */
struct cgloop_device *cgloop_dev_create(void)
{
	struct cgloop_device *cl;
	int index;

	cl = kzalloc(sizeof(*cl), GFP_KERNEL);
	if (!cl)
		return ERR_PTR(-ENOMEM);
	index = ida_alloc_max(&cgloop_ida, MINORMASK, GFP_KERNEL);
	if (index < 0) {
		kfree(cl);
		return ERR_PTR(index);
	}
	cl->index = index;
	mutex_init(&cl->ctl_mutex);
	spin_lock_init(&cl->state_lock);
	cl->state = CGLOOP_OFF;
	cl->config.direct_io = true;
	return cl;
}

/**
 * cgloop_dev_destroy - free a disabled device
 * @cl: the device; it must be disabled
 *
 * Called by the release of its configfs item, once the last reference to
 * the item is gone.
 */
void cgloop_dev_destroy(struct cgloop_device *cl)
{
	if (WARN_ON(cl->state != CGLOOP_OFF))
		return;		/* leak it rather than free a live device */
	ida_free(&cgloop_ida, cl->index);
	kfree(cl->config.backing);
	kfree(cl);
}

/* Enabled: its disk is added (or being removed). */
bool cgloop_dev_is_live(struct cgloop_device *cl)
{
	enum cgloop_state state = READ_ONCE(cl->state);

	return state == CGLOOP_LIVE || state == CGLOOP_DYING;
}

/* The logical block size direct I/O on @file must be aligned to. */
static unsigned int cgloop_dio_align(struct file *file)
{
	struct inode *inode = file->f_mapping->host;

	if (S_ISBLK(inode->i_mode))
		return bdev_logical_block_size(I_BDEV(inode));
	if (inode->i_sb->s_bdev)
		return bdev_logical_block_size(inode->i_sb->s_bdev);
	return SECTOR_SIZE;
}

/*
 * The memory alignment mask direct I/O on regular file @file needs: its file
 * system's disk's (511 when it has no disk of its own).
 */
static unsigned int cgloop_dio_mem_align(struct file *file)
{
	struct super_block *sb = file->f_mapping->host->i_sb;

	if (sb->s_bdev)
		return queue_dma_alignment(bdev_get_queue(sb->s_bdev));
	return SECTOR_SIZE - 1;
}

/*
 * Open the backing and pick the geometry: cl->file, ->read_only, ->lbs,
 * ->direct_io.  On failure cl->file may be set: cgloop_teardown() puts it.
 */
static int cgloop_open_backing(struct cgloop_device *cl)
{
	const struct cgloop_config *c = &cl->config;
	int flags = O_LARGEFILE | (c->read_only ? O_RDONLY : O_RDWR);
	struct file *file;
	struct path path;
	unsigned int align;
	umode_t mode;
	int ret;

	ret = kern_path(c->backing, LOOKUP_FOLLOW, &path);
	if (ret) {
		pr_err("backing %s: cannot find it (%d)\n", c->backing, ret);
		return ret;
	}
	mode = d_inode(path.dentry)->i_mode;
	path_put(&path);
	if (!S_ISREG(mode) && !S_ISBLK(mode)) {
		pr_err("backing %s: not a regular file or block device\n",
		       c->backing);
		return -EINVAL;
	}
	if (S_ISBLK(mode))
		flags |= O_EXCL;	/* claim the block device */

	file = filp_open(c->backing, flags, 0);
	if (IS_ERR(file) && !c->read_only &&
	    (PTR_ERR(file) == -EROFS || PTR_ERR(file) == -EACCES)) {
		pr_info("backing %s: not writable, the device is read-only\n",
			c->backing);
		flags = (flags & ~O_ACCMODE) | O_RDONLY;
		file = filp_open(c->backing, flags, 0);
	}
	if (IS_ERR(file)) {
		pr_err("backing %s: cannot open it (%ld)\n", c->backing,
		       PTR_ERR(file));
		return PTR_ERR(file);
	}
	cl->file = file;	/* from here the caller's teardown puts it */
	cl->read_only = (flags & O_ACCMODE) == O_RDONLY;
	align = max_t(unsigned int, cgloop_dio_align(file), SECTOR_SIZE);
	if (S_ISBLK(mode)) {
		/*
		 * Remapped: each clone goes to the lower device at our sector
		 * plus the offset, as it is, so our blocks must be blocks it
		 * can address.  blk-mq checks that only from 6.11 (EIO); before,
		 * the lower driver misplaces a misaligned clone.  There is no
		 * page cache on this path, so direct_io does not apply.
		 */
		cl->lbs = c->logical_block_size ?: align;
		if (cl->lbs < align) {
			pr_err("backing %s: logical_block_size %u is below the device's %u\n",
			       c->backing, cl->lbs, align);
			return -EINVAL;
		}
		cl->direct_io = true;
		return 0;
	}
	if (!file->f_op->read_iter || (!cl->read_only && !file->f_op->write_iter)) {
		pr_err("backing %s: cannot be read and written with iterators\n",
		       c->backing);
		return -EINVAL;
	}
	/*
	 * Direct I/O when the file supports it and our blocks and offset are
	 * aligned to the backing's logical block size; buffered otherwise.
	 * Not with blocks larger than a page (from 6.15 a disk's can be): the
	 * block layer takes no dma_alignment above PAGE_SIZE - 1, and splits
	 * our segments at pages, shorter than a block the file accepts.
	 * Buffered backing I/O is charged to the issuer's memcg, but the
	 * writeback of the backing file goes to the cgroup that owns its
	 * inode (cgroup writeback), so direct I/O is what charges io exactly.
	 */
	cl->lbs = c->logical_block_size ?: align;
	cl->direct_io = c->direct_io && compat_file_can_direct_io(file) &&
			cl->lbs <= PAGE_SIZE && !(cl->lbs % align) &&
			!(c->offset % align);
	if (!c->logical_block_size && !cl->direct_io)
		cl->lbs = SECTOR_SIZE;
	return 0;
}

/*
 * Undo whatever cgloop_prepare() built, in reverse order; copes with any
 * half-built state and leaves nothing of it (no lower device, bio set, tag
 * set or geometry) for the next enable.  A disk still here was never added
 * (disable releases an added one itself, after del_gendisk()).
 */
static void cgloop_teardown(struct cgloop_device *cl)
{
	lockdep_assert_held(&cl->ctl_mutex);
	if (cl->disk) {
		compat_put_unadded_disk(cl->disk);
		cl->disk = NULL;
	}
	if (cl->tag_set.ops)		/* set only while allocated */
		blk_mq_free_tag_set(&cl->tag_set);
	memset(&cl->tag_set, 0, sizeof(cl->tag_set));
	if (cl->pool)
		cgblk_pool_destroy(cl->pool);
	cl->pool = NULL;
	if (bioset_initialized(&cl->bioset))
		bioset_exit(&cl->bioset);	/* every clone has completed */
	memset(&cl->bioset, 0, sizeof(cl->bioset));
	cl->bdev = NULL;
	if (cl->file)
		fput(cl->file);
	cl->file = NULL;
	cl->direct_io = false;
	cl->read_only = false;
	cl->discard = false;
	cl->complete_in_task = false;
	cl->lbs = 0;
	cl->size = 0;
}

static void cgloop_set_state(struct cgloop_device *cl, enum cgloop_state state)
{
	spin_lock(&cl->state_lock);
	cl->state = state;
	spin_unlock(&cl->state_lock);
}

/* The blk-mq tag set and the disk, not yet added. */
static int cgloop_alloc_disk(struct cgloop_device *cl, const char *name)
{
	struct compat_disk_limits lim = {};
	struct gendisk *disk;
	int ret;

	cl->tag_set.nr_hw_queues = 1;
	cl->tag_set.queue_depth = cgloop_queue_depth;
	cl->tag_set.numa_node = NUMA_NO_NODE;
	cl->tag_set.cmd_size = sizeof(struct cgloop_cmd);
	/*
	 * Like loop: no I/O scheduler by default.  The backing has its own,
	 * and the issuing cgroup's limits hold before our queue; mq-deadline
	 * here halved 4 KiB random reads at queue depth 32 (6.1, TCG).
	 */
	cl->tag_set.flags = COMPAT_BLK_MQ_F_SHOULD_MERGE |
			    COMPAT_BLK_MQ_F_NO_SCHED_BY_DEFAULT;
	cl->tag_set.driver_data = cl;
	cl->tag_set.ops = &cgloop_mq_ops;
	ret = blk_mq_alloc_tag_set(&cl->tag_set);
	if (ret) {
		memset(&cl->tag_set, 0, sizeof(cl->tag_set));
		return ret;
	}

	lim.logical_block_size = cl->lbs;
	/*
	 * Memory alignment.  Direct I/O on a file wants every segment aligned
	 * to the backing device's logical block size in length and to its
	 * dma_alignment in address (iomap: bdev_iter_is_aligned()).  From
	 * 6.0 the block layer takes user buffers aligned to our
	 * dma_alignment only and splits them at page boundaries, so with the
	 * default (511) a 4 KiB O_DIRECT buffer 512 bytes into a page became
	 * segments of 3584 and 512 bytes that the file refused (EIO), or
	 * passed when the pages happened to be contiguous.  lbs - 1 (at least
	 * the backing device's alignment) refuses it up front with EINVAL.
	 * A remapped clone keeps the request's segments: the lower device's
	 * alignment holds for them.
	 */
	if (cl->bdev)
		lim.dma_alignment = queue_dma_alignment(bdev_get_queue(cl->bdev));
	else if (cl->direct_io)
		lim.dma_alignment = max_t(unsigned int, cl->lbs - 1,
					  cgloop_dio_mem_align(cl->file));
	lim.max_hw_sectors = 2048;
	lim.write_cache = true;
	if (cl->bdev && !cl->read_only) {
		/* What the lower device does, we pass down. */
		lim.max_discard_sectors = compat_bdev_max_discard_sectors(cl->bdev);
		lim.max_write_zeroes_sectors = bdev_write_zeroes_sectors(cl->bdev);
	} else if (cl->discard) {
		lim.max_discard_sectors = UINT_MAX >> SECTOR_SHIFT;
		lim.max_write_zeroes_sectors = UINT_MAX >> SECTOR_SHIFT;
	}
	disk = compat_alloc_disk(&cl->tag_set, &lim, cl);
	if (IS_ERR(disk))
		return PTR_ERR(disk);
	disk->major = cgloop_major;
	disk->first_minor = cl->index;
	disk->minors = 1;
	disk->flags |= COMPAT_GENHD_FL_NO_PART;	/* and no partition scan */
	disk->fops = &cgloop_fops;
	disk->private_data = cl;
	strscpy(disk->disk_name, name, sizeof(disk->disk_name));
	set_capacity(disk, cl->size >> SECTOR_SHIFT);
	set_disk_ro(disk, cl->read_only);
	cl->disk = disk;
	return 0;
}

/*
 * Check the configuration and build everything but the added disk: the
 * backing, the pool, the tag set, the disk.  Every refusal prints one line
 * naming the backing and the reason.  On failure nothing is left.
 */
static int cgloop_prepare(struct cgloop_device *cl)
{
	const struct cgloop_config *c = &cl->config;
	struct cgblk_pool_params params = {
		.max_workers = cgloop_max_workers,
		.idle_ms = cgloop_idle_timeout_ms,
	};
	char name[32];
	loff_t bsize;
	int ret;

	lockdep_assert_held(&cl->ctl_mutex);
	if (cl->state != CGLOOP_OFF)
		return -EBUSY;
	if (!c->backing) {
		pr_err("cgloop%d: no backing set\n", cl->index);
		return -EINVAL;
	}
	ret = cgloop_open_backing(cl);
	if (ret)
		goto out_teardown;
	ret = -EINVAL;
	if (c->offset % cl->lbs || c->size % cl->lbs) {
		pr_err("backing %s: offset %lld and size %lld must be multiples of the logical block size %u\n",
		       c->backing, c->offset, c->size, cl->lbs);
		goto out_teardown;
	}

	bsize = i_size_read(cl->file->f_mapping->host);
	if (c->offset >= bsize) {
		pr_err("backing %s: offset %lld is not below its size %lld\n",
		       c->backing, c->offset, bsize);
		goto out_teardown;
	}
	cl->size = bsize - c->offset;
	if (c->size && c->size < cl->size)
		cl->size = c->size;
	cl->size = round_down(cl->size, cl->lbs);
	if (!cl->size) {
		pr_err("backing %s: smaller than one block\n", c->backing);
		goto out_teardown;
	}
	cl->discard = !cl->read_only && cl->file->f_op->fallocate;
	cl->complete_in_task = false;	/* files: see README, "cgloop" */
	if (S_ISBLK(cl->file->f_mapping->host->i_mode)) {
		ret = bioset_init(&cl->bioset, BIO_POOL_SIZE,
				  offsetof(struct cgloop_clone, bio), 0);
		if (ret)
			goto out_teardown;
		cl->bdev = I_BDEV(cl->file->f_mapping->host);
		cl->complete_in_task = cgloop_complete_in_task;
	}

	snprintf(name, sizeof(name), CGLOOP_NAME "%d", cl->index);
	cl->pool = cgblk_pool_create(name, &cgloop_pool_ops, &params, cl);
	if (IS_ERR(cl->pool)) {
		ret = PTR_ERR(cl->pool);
		cl->pool = NULL;
		goto out_teardown;
	}
	ret = cgloop_alloc_disk(cl, name);
	if (ret)
		goto out_teardown;
	cgloop_set_state(cl, CGLOOP_PREPARED);
	return 0;

out_teardown:
	cgloop_teardown(cl);
	return ret;
}

/* Add the prepared disk: from here it can be opened. */
static int cgloop_publish(struct cgloop_device *cl)
{
	const struct cgloop_config *c = &cl->config;
	const char *name = cl->disk->disk_name;
	int ret;

	lockdep_assert_held(&cl->ctl_mutex);
	/* Live before it is added: whoever add_disk() wakes may open it. */
	cgloop_set_state(cl, CGLOOP_LIVE);
	ret = compat_add_disk(cl->disk, cgloop_disk_groups);
	if (ret) {
		pr_err("%s: cannot add the disk: %d\n", name, ret);
		cgloop_set_state(cl, CGLOOP_OFF);
		cgloop_teardown(cl);
		return ret;
	}
	cl->debugfs = debugfs_create_dir(name, cgloop_debugfs_root);
	debugfs_create_file("workers", 0444, cl->debugfs, cl, &cgloop_workers_fops);
	pr_info("%s: %s, %lld bytes at offset %lld, %s%s\n", name, c->backing,
		cl->size, c->offset, cl->direct_io ? "direct I/O" : "buffered",
		cl->read_only ? ", read-only" : "");
	return 0;
}

/**
 * cgloop_dev_prepare - check the configuration and build the device, unadded
 * @cl: the device, disabled
 *
 * Everything but add_disk(): nothing user space can open exists yet, so
 * cgloop_dev_disable() can always undo it.  The configuration is locked as
 * when enabled.  The backing= parameter prepares every entry before it
 * publishes any.
 *
 * Context: process context, may sleep; takes @cl->ctl_mutex.
 * Return: 0, -EBUSY when not disabled, -EINVAL for a configuration that
 * cannot work (with one kernel line), or the error of opening the backing
 * or allocating.
 */
int cgloop_dev_prepare(struct cgloop_device *cl)
{
	int ret;

	mutex_lock(&cl->ctl_mutex);
	ret = cgloop_prepare(cl);
	mutex_unlock(&cl->ctl_mutex);
	return ret;
}

/**
 * cgloop_dev_publish - add the disk of a prepared device: /dev/cgloopN
 * @cl: the device
 *
 * Context: process context, may sleep; takes @cl->ctl_mutex.
 * Return: 0 (also when it was disabled since it was prepared), or the error
 * of add_disk(); then the device is disabled.
 */
int cgloop_dev_publish(struct cgloop_device *cl)
{
	int ret = 0;

	mutex_lock(&cl->ctl_mutex);
	if (cl->state == CGLOOP_PREPARED)
		ret = cgloop_publish(cl);
	mutex_unlock(&cl->ctl_mutex);
	return ret;
}

/**
 * cgloop_dev_enable - create /dev/cgloopN from the configuration
 * @cl: the device
 *
 * Every refusal prints one line naming the backing and the reason.
 *
 * Context: process context, may sleep; takes @cl->ctl_mutex.
 * Return: 0, -EBUSY when already enabled, -EINVAL for a configuration that
 * cannot work, or the error of opening the backing or making the disk.
 */
int cgloop_dev_enable(struct cgloop_device *cl)
{
	int ret;

	mutex_lock(&cl->ctl_mutex);
	ret = cgloop_prepare(cl);
	if (!ret)
		ret = cgloop_publish(cl);
	mutex_unlock(&cl->ctl_mutex);
	return ret;
}

/**
 * cgloop_dev_disable - remove /dev/cgloopN; the configuration stays
 * @cl: the device
 *
 * Context: process context, may sleep (waits for I/O in flight); takes
 * @cl->ctl_mutex.
 * Return: 0 (also when it was not enabled), or -EBUSY while it is open.
 */
int cgloop_dev_disable(struct cgloop_device *cl)
{
	mutex_lock(&cl->ctl_mutex);
	if (cl->state == CGLOOP_LIVE) {
		spin_lock(&cl->state_lock);
		if (cl->open_count) {
			spin_unlock(&cl->state_lock);
			mutex_unlock(&cl->ctl_mutex);
			return -EBUSY;
		}
		cl->state = CGLOOP_DYING;	/* from here on opens fail */
		spin_unlock(&cl->state_lock);

		debugfs_remove_recursive(cl->debugfs);
		cl->debugfs = NULL;
		del_gendisk(cl->disk);		/* waits for requests in flight */
		compat_cleanup_disk(cl->disk);
		cl->disk = NULL;
	}
	if (cl->state != CGLOOP_OFF) {		/* live, or prepared only */
		cgloop_teardown(cl);
		cgloop_set_state(cl, CGLOOP_OFF);
	}
	mutex_unlock(&cl->ctl_mutex);
	return 0;
}
