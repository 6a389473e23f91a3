// SPDX-License-Identifier: GPL-2.0
/*
 * cgblk_offload - bio completion offload to task context.
 *
 * This is the module's frame: it registers its debugfs directory under the
 * cgblk_core root.  The per-CPU batches, the work items that drain them and
 * the CPU hotplug callbacks are not written yet (see README.md, "Status").
 */
#include <linux/debugfs.h>
#include <linux/init.h>
#include <linux/module.h>

#include <cgblk/core.h>

static struct dentry *offload_debugfs;

static int __init cgblk_offload_init(void)
{
	offload_debugfs = debugfs_create_dir(KBUILD_MODNAME, cgblk_debugfs_dir());
	return 0;
}

static void __exit cgblk_offload_exit(void)
{
	debugfs_remove_recursive(offload_debugfs);
}

module_init(cgblk_offload_init);
module_exit(cgblk_offload_exit);

MODULE_AUTHOR("The cgblk authors");
MODULE_DESCRIPTION("cgblk offload: bio completions run in task context");
MODULE_LICENSE("GPL");
CGBLK_IMPORT_NS();
