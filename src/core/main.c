// SPDX-License-Identifier: GPL-2.0
/*
 * cgblk_core - the shared library of the cgblk modules.
 *
 * main.c: the module, and the debugfs root every cgblk module hangs its
 * files under (/sys/kernel/debug/cgblk/<module>/).  What cgloop and
 * dm-cgsnap share lives in the other files of this directory: the
 * blkcg/memcg charges in charge.c, the per-cgroup worker pool in pool.c.
 */
#include <linux/debugfs.h>
#include <linux/init.h>
#include <linux/module.h>

#include <cgblk/core.h>

#include "internal.h"

static struct dentry *cgblk_debugfs_root;

/**
 * cgblk_debugfs_dir - the debugfs directory of the cgblk modules
 *
 * User modules create their own directory below it, named after the module.
 * The directory lives as long as cgblk_core is loaded, which a user module
 * guarantees by its symbol dependency.
 *
 * Context: any context.
 * Return: the dentry of /sys/kernel/debug/cgblk, or an ERR_PTR or NULL when
 * debugfs is unavailable; debugfs_create_*() accept either as a parent.
 */
struct dentry *cgblk_debugfs_dir(void)
{
	return cgblk_debugfs_root;
}
EXPORT_SYMBOL_CGBLK(cgblk_debugfs_dir);

static int __init cgblk_core_init(void)
{
	int ret = cgblk_pool_init();

	if (ret)
		return ret;
	cgblk_debugfs_root = debugfs_create_dir("cgblk", NULL);
	return 0;
}

static void __exit cgblk_core_exit(void)
{
	debugfs_remove_recursive(cgblk_debugfs_root);
	cgblk_pool_exit();
}

module_init(cgblk_core_init);
module_exit(cgblk_core_exit);

MODULE_AUTHOR("The cgblk authors");
MODULE_DESCRIPTION("cgblk core: per-cgroup I/O workers and cgroup association helpers");
MODULE_LICENSE("GPL");
