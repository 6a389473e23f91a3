/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cgloop.h - internal interfaces of the cgloop driver.
 */
#ifndef _CGLOOP_H
#define _CGLOOP_H

#include <linux/blk-mq.h>
#include <linux/configfs.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>

#include <cgblk/core.h>
#include <cgblk/offload.h>

#define CGLOOP_NAME	"cgloop"

/**
 * struct cgloop_config - what a device is made of; set while it is disabled
 * @backing: path of the backing regular file or block device
 * @offset: bytes into the backing where the device starts
 * @size: bytes the device may cover at most; 0 for up to the end
 * @logical_block_size: 512 or 4096; 0 (the default) picks the backing's
 *	direct I/O alignment (at least 512), so that direct I/O is possible
 * @read_only: refuse writes
 * @direct_io: use direct I/O on the backing file when it can
 */
struct cgloop_config {
	char *backing;
	loff_t offset;
	loff_t size;
	unsigned int logical_block_size;
	bool read_only;
	bool direct_io;
};

enum cgloop_state {
	CGLOOP_OFF,		/* not enabled: configurable */
	CGLOOP_PREPARED,	/* built but its disk not added: cannot be opened */
	CGLOOP_LIVE,		/* /dev/cgloopN exists and may be opened */
	CGLOOP_DYING,		/* being disabled: opens fail */
};

/**
 * struct cgloop_device - one /dev/cgloopN
 * @node: on main.c's list of the devices the backing= parameter made
 * @index: the minor number: N of /dev/cgloopN
 * @ctl_mutex: serializes configuration, enable and disable (see "Locking")
 * @state_lock: protects @state and @open_count (see "Locking")
 * @state: off, prepared, live or dying (&enum cgloop_state)
 * @open_count: opens of the block device not yet released
 * @config: what the device is made of, from configfs or backing=; locked
 *	while enabled
 * @group: the configfs directory, /sys/kernel/config/cgloop/<name>
 * @file: live: the open backing, a regular file or block device
 * @bdev: live: the backing block device, whose clones are remapped to it;
 *	NULL over a file
 * @bioset: live: the clones for @bdev
 * @direct_io: live: direct I/O on the backing file (always set over @bdev)
 * @read_only: live: writes are refused
 * @discard: live: writable and the backing has ->fallocate, so discard and
 *	write zeroes are offered (over @bdev the lower device's limits are)
 * @complete_in_task: live: clones complete in task context
 * @lbs: live: the logical block size in use
 * @size: live: the bytes the disk covers
 * @disk: live: the gendisk, allocated by prepare and added by publish
 * @tag_set: live: the blk-mq tag set of @disk
 * @pool: live: the workers, one per issuing cgroup
 * @debugfs: live: the device's debugfs directory, with its workers file;
 *	made by publish
 *
 * Locking:
 * @ctl_mutex serializes every change of configuration and every enable and
 * disable; it is taken outside the block layer's disk->open_mutex (disable
 * calls del_gendisk()).  @state_lock, a spinlock taken inside open_mutex by
 * ->open and ->release, protects @state and @open_count; disable moves the
 * state to CGLOOP_DYING under it only when @open_count is zero, so no open
 * can succeed afterwards.  Everything under "live" is set by prepare (the
 * first half of enable) and cleared by cgloop_teardown() on every failure
 * of enable and by disable, all under @ctl_mutex, and is stable while the
 * state is CGLOOP_LIVE (the I/O path and the sysfs files only run then).
 */
struct cgloop_device {
	struct list_head node;
	int index;
	struct mutex ctl_mutex;		/* see "Locking" above */
	spinlock_t state_lock;		/* see "Locking" above */
	enum cgloop_state state;
	unsigned int open_count;
	struct cgloop_config config;
	struct config_group group;

	/* live */
	struct file *file;
	struct block_device *bdev;
	struct bio_set bioset;
	bool direct_io;
	bool read_only;
	bool discard;
	bool complete_in_task;
	unsigned int lbs;
	loff_t size;
	struct gendisk *disk;
	struct blk_mq_tag_set tag_set;
	struct cgblk_pool *pool;
	struct dentry *debugfs;
};

/**
 * struct cgloop_cmd - per-request data
 * @work: the item the pool runs; its charge is released at completion
 * @iocb: the kiocb of an asynchronous direct I/O
 * @bvec: bvec array of a multi-bio request under async I/O, or NULL
 * @ref: async I/O: the submitter's and the completion's reference; the
 *	request completes when both are gone, because the file system may
 *	still look at the iterator (and so at the bvecs) after ->ki_complete.
 *	Remapping: the submitter's and one per clone in flight.
 * @status: the result, for ->complete
 */
struct cgloop_cmd {
	struct cgblk_work work;
	struct kiocb iocb;
	struct bio_vec *bvec;
	atomic_t ref;
	blk_status_t status;
};

/* A clone for a block device backing, from cgloop_device.bioset. */
struct cgloop_clone {
	struct cgblk_offload_ctx offload;
	struct bio bio;			/* last: bio_set front padding */
};

/* main.c: module parameters and the device list */
extern unsigned int cgloop_idle_timeout_ms;
extern unsigned int cgloop_max_workers;
extern unsigned int cgloop_queue_depth;
extern bool cgloop_complete_in_task;
extern int cgloop_major;
extern struct dentry *cgloop_debugfs_root;

/* configfs.c */
int cgloop_configfs_init(void);
void cgloop_configfs_exit(void);
int cgloop_configfs_add(struct cgloop_device *cl);
void cgloop_configfs_remove(struct cgloop_device *cl);
int cgloop_configfs_pin(struct cgloop_device *cl);
void cgloop_configfs_unpin(struct cgloop_device *cl);

/* device.c */
struct cgloop_device *cgloop_dev_create(void);
void cgloop_dev_destroy(struct cgloop_device *cl);
int cgloop_dev_prepare(struct cgloop_device *cl);
int cgloop_dev_publish(struct cgloop_device *cl);
int cgloop_dev_enable(struct cgloop_device *cl);
int cgloop_dev_disable(struct cgloop_device *cl);
bool cgloop_dev_is_live(struct cgloop_device *cl);
int cgloop_config_set_backing(struct cgloop_config *config, const char *path);
extern const struct attribute_group *cgloop_disk_groups[];

#endif /* _CGLOOP_H */
