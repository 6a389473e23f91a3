// SPDX-License-Identifier: GPL-2.0
/*
 * cgloop - a loop-style stacking block driver whose backing I/O is issued
 * by per-cgroup workers.
 *
 * This is the driver's frame: it reserves the "cgloop" block major and
 * registers its debugfs directory under the cgblk_core root.  Devices,
 * backing files and the workers are not written yet (see README.md,
 * "Status").
 */
#include <linux/blkdev.h>
#include <linux/debugfs.h>
#include <linux/init.h>
#include <linux/module.h>

#include <cgblk/core.h>

static int cgloop_major;
static struct dentry *cgloop_debugfs;

static int __init cgloop_init(void)
{
	cgloop_major = register_blkdev(0, "cgloop");
	if (cgloop_major < 0) {
		pr_err("cannot register a block major: %d\n", cgloop_major);
		return cgloop_major;
	}
	cgloop_debugfs = debugfs_create_dir(KBUILD_MODNAME, cgblk_debugfs_dir());
	return 0;
}

static void __exit cgloop_exit(void)
{
	debugfs_remove_recursive(cgloop_debugfs);
	unregister_blkdev(cgloop_major, "cgloop");
}

module_init(cgloop_init);
module_exit(cgloop_exit);

MODULE_AUTHOR("The cgblk authors");
MODULE_DESCRIPTION("cgloop: loop block devices with per-cgroup I/O workers");
MODULE_LICENSE("GPL");
CGBLK_IMPORT_NS();
