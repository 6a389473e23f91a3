# SPDX-License-Identifier: GPL-2.0
#
# Feature probes of the target kernel, in the way of wireguard-linux-compat:
# look at the headers and the export list of the kernel we build against,
# never at its version number (Debian's stable kernels backport APIs).
# Each probe that fires adds one -DCOMPAT_* define; include/compat/compat.h
# turns the defines into helpers.  Included by every Kbuild file of the tree
# after it sets $(cgblk_top); it sets $(cgblk_ccflags).
#
# $(srctree) is the kernel source (Debian: linux-headers-*-common), $(objtree)
# the build tree with Module.symvers.

# (make splits arguments at commas outside parentheses: keep the strings'
# parentheses balanced, or write an unbalanced one as $(lparen))
lparen := (
compat_src_has = $(shell grep -qsF -- '$(2)' $(srctree)/$(1) && echo y)
compat_exported = $(shell grep -qsP '\t$(1)\t' $(objtree)/Module.symvers && echo y)

# 6.13 made symbol namespaces string literals:
#   MODULE_IMPORT_NS("NS") instead of MODULE_IMPORT_NS(NS).
ifeq ($(call compat_src_has,include/linux/module.h,MODULE_INFO(import_ns, ns)),y)
COMPAT_CFLAGS += -DCOMPAT_NS_IS_STRING
endif

# bio_blkcg_css() (6.0+); before it, bio_blkcg() and a public struct blkcg.
ifeq ($(call compat_src_has,include/linux/blk-cgroup.h,bio_blkcg_css(struct bio *bio)),y)
COMPAT_CFLAGS += -DCOMPAT_HAS_BIO_BLKCG_CSS
endif

# cgroup_get_e_css() and int_active_memcg are exported from 5.14, with the
# change that made page cache charge the active memcg of a task without an
# mm.  Without them (5.10) the effective memcg is found by hand and the
# active memcg is set on current directly.
ifeq ($(call compat_exported,cgroup_get_e_css),y)
COMPAT_CFLAGS += -DCOMPAT_HAS_CGROUP_GET_E_CSS
endif
ifeq ($(call compat_exported,int_active_memcg),y)
COMPAT_CFLAGS += -DCOMPAT_HAS_INT_ACTIVE_MEMCG
endif

# Disk allocation: blk_mq_alloc_disk() (5.14+), with queue_limits (6.9+),
# queue features in the limits (6.11+); before 6.0 the queue is torn down
# with blk_cleanup_queue().
ifeq ($(call compat_src_has,include/linux/blk-mq.h,blk_mq_alloc_disk(set, lim, queuedata)),y)
COMPAT_CFLAGS += -DCOMPAT_BLK_MQ_ALLOC_DISK_LIM
else ifeq ($(call compat_src_has,include/linux/blk-mq.h,blk_mq_alloc_disk(set, queuedata)),y)
COMPAT_CFLAGS += -DCOMPAT_BLK_MQ_ALLOC_DISK
endif
ifeq ($(call compat_src_has,include/linux/blkdev.h,BLK_FEAT_WRITE_CACHE),y)
COMPAT_CFLAGS += -DCOMPAT_HAS_BLK_FEAT
endif
ifeq ($(call compat_src_has,include/linux/blkdev.h,void blk_cleanup_queue),y)
COMPAT_CFLAGS += -DCOMPAT_HAS_BLK_CLEANUP_QUEUE
endif
# BLK_MQ_F_SHOULD_MERGE is gone from 6.14: merging is the default.
ifeq ($(call compat_src_has,include/linux/blk-mq.h,BLK_MQ_F_SHOULD_MERGE),y)
COMPAT_CFLAGS += -DCOMPAT_HAS_BLK_MQ_F_SHOULD_MERGE
endif
# BLK_MQ_F_NO_SCHED_BY_DEFAULT (5.16+; an enum member, so probed): a
# single-queue device gets no I/O scheduler unless the user picks one.
ifeq ($(call compat_src_has,include/linux/blk-mq.h,BLK_MQ_F_NO_SCHED_BY_DEFAULT),y)
COMPAT_CFLAGS += -DCOMPAT_HAS_BLK_MQ_F_NO_SCHED_BY_DEFAULT
endif
# add_disk() returns an error from 5.15.
ifeq ($(call compat_src_has,include/linux/blkdev.h,int __must_check device_add_disk),y)
COMPAT_CFLAGS += -DCOMPAT_ADD_DISK_RETURNS_INT
endif
# block_device_operations.open takes the gendisk from 6.5.
ifeq ($(call compat_src_has,include/linux/blkdev.h,int (*open)(struct gendisk *disk, blk_mode_t mode)),y)
COMPAT_CFLAGS += -DCOMPAT_BDOPS_OPEN_GENDISK
endif

# kiocb.ki_complete lost its third argument in 5.16.
ifeq ($(call compat_src_has,include/linux/fs.h,(*ki_complete)(struct kiocb *iocb, long ret, long ret2)),y)
COMPAT_CFLAGS += -DCOMPAT_KI_COMPLETE_RET2
endif

# kiocb_start_write()/kiocb_end_write() (6.6+, backported to Debian's 6.1):
# freeze protection for an asynchronous write, taken at submission and
# dropped at completion.  Before them, compat.h builds them from
# sb_start_write() and the lockdep hand-over of __sb_writers_release/acquired.
ifeq ($(call compat_src_has,include/linux/fs.h,static inline void kiocb_start_write(struct kiocb *iocb)),y)
COMPAT_CFLAGS += -DCOMPAT_HAS_KIOCB_START_WRITE
endif

# bio_alloc_bioset() and bio_alloc_clone() take the block device from 5.18
# (before: bio_clone_fast() and bio_set_dev()); bdev_max_discard_sectors()
# from 5.19.
ifeq ($(call compat_src_has,include/linux/bio.h,bio_alloc_clone$(lparen)struct block_device *bdev),y)
COMPAT_CFLAGS += -DCOMPAT_HAS_BIO_ALLOC_CLONE
endif
ifeq ($(call compat_src_has,include/linux/blkdev.h,bdev_max_discard_sectors(struct block_device *bdev)),y)
COMPAT_CFLAGS += -DCOMPAT_HAS_BDEV_MAX_DISCARD_SECTORS
endif

# bio_clear_polled() (with REQ_POLLED, which was REQ_HIPRI before it).
ifeq ($(call compat_src_has,include/linux/bio.h,void bio_clear_polled(struct bio *bio)),y)
COMPAT_CFLAGS += -DCOMPAT_HAS_BIO_CLEAR_POLLED
endif

# blk_opf_t (6.0+, a sparse __bitwise type) for a bio's operation and flags.
ifeq ($(call compat_src_has,include/linux/blk_types.h,__bitwise blk_opf_t;),y)
COMPAT_CFLAGS += -DCOMPAT_HAS_BLK_OPF_T
endif

# Task-context bio completion (BIO_COMPLETE_IN_TASK, __bio_complete_in_task(),
# 7.3+): cgblk_offload delegates to it.  WQ_PERCPU (7.x) asks for a per-CPU
# workqueue explicitly now that unbound is becoming the default.
ifeq ($(call compat_src_has,include/linux/blk_types.h,BIO_COMPLETE_IN_TASK),y)
ifeq ($(call compat_exported,__bio_complete_in_task),y)
COMPAT_CFLAGS += -DCOMPAT_HAS_BIO_COMPLETE_IN_TASK
endif
endif
# memzero_page() (5.12+); zero_user() before it (gone by 7.3).
ifeq ($(call compat_src_has,include/linux/highmem.h,static inline void memzero_page$(lparen)struct page *page),y)
COMPAT_CFLAGS += -DCOMPAT_HAS_MEMZERO_PAGE
endif
ifeq ($(call compat_src_has,include/linux/workqueue.h,WQ_PERCPU),y)
COMPAT_CFLAGS += -DCOMPAT_HAS_WQ_PERCPU
endif

# bdev_nr_sectors() (5.15+); before it, the size of the bdev inode.
ifeq ($(call compat_src_has,include/linux/blkdev.h,sector_t bdev_nr_sectors(struct block_device *bdev)),y)
COMPAT_CFLAGS += -DCOMPAT_HAS_BDEV_NR_SECTORS
else ifeq ($(call compat_src_has,include/linux/genhd.h,sector_t bdev_nr_sectors(struct block_device *bdev)),y)
COMPAT_CFLAGS += -DCOMPAT_HAS_BDEV_NR_SECTORS
endif
# blk_mode_t and BLK_OPEN_* (6.5+) replace fmode_t for opening block devices.
ifeq ($(call compat_src_has,include/linux/blkdev.h,define BLK_OPEN_READ),y)
COMPAT_CFLAGS += -DCOMPAT_HAS_BLK_OPEN_READ
endif
# device-mapper targets that accept REQ_NOWAIT bios (5.12+).
ifeq ($(call compat_src_has,include/linux/device-mapper.h,define DM_TARGET_NOWAIT),y)
COMPAT_CFLAGS += -DCOMPAT_HAS_DM_TARGET_NOWAIT
endif
# folio_memcg() (5.16+): the memcg of a page under writeback, for a bio that
# device-mapper hands a target without its issuer's association (6.0+).
ifeq ($(call compat_src_has,include/linux/memcontrol.h,struct mem_cgroup *folio_memcg(struct folio *folio)),y)
COMPAT_CFLAGS += -DCOMPAT_HAS_FOLIO_MEMCG
endif

cgblk_ccflags := -I$(cgblk_top)/include \
		 -include $(cgblk_top)/include/compat/compat.h \
		 -D'pr_fmt(fmt)=KBUILD_MODNAME ": " fmt' \
		 $(COMPAT_CFLAGS)
