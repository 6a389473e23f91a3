// SPDX-License-Identifier: GPL-2.0
/*
 * dm-cgsnap - a copy-on-write snapshot target whose copies are charged to
 * the cgroup that caused them.
 *
 * This is the module's frame: it registers its debugfs directory under the
 * cgblk_core root.  The "cgsnap" target itself is not registered yet (see
 * README.md, "Status"), so no table can name it.
 */
#include <linux/debugfs.h>
#include <linux/init.h>
#include <linux/module.h>

#include <cgblk/core.h>

static struct dentry *cgsnap_debugfs;

static int __init dm_cgsnap_init(void)
{
	cgsnap_debugfs = debugfs_create_dir(KBUILD_MODNAME, cgblk_debugfs_dir());
	return 0;
}

static void __exit dm_cgsnap_exit(void)
{
	debugfs_remove_recursive(cgsnap_debugfs);
}

module_init(dm_cgsnap_init);
module_exit(dm_cgsnap_exit);

MODULE_AUTHOR("The cgblk authors");
MODULE_DESCRIPTION("device-mapper cgsnap: cgroup-charged copy-on-write snapshots");
MODULE_LICENSE("GPL");
CGBLK_IMPORT_NS();
