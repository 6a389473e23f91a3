// SPDX-License-Identifier: GPL-2.0
/*
 * cgloop - loop block devices whose backing I/O is issued by per-cgroup
 * workers, so that the issuing cgroup's io.max, io.weight and memory.max
 * hold through the device and a throttled cgroup stalls only itself.
 *
 * main.c: module parameters, the list of devices, module init and exit.
 */
#include <linux/debugfs.h>
#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>

#include "cgloop.h"

int cgloop_major;
struct dentry *cgloop_debugfs_root;

static LIST_HEAD(cgloop_devices);	/* devices made by the parameter */

/* Module parameters: read-only defaults, validated when set. */

static int cgloop_set_idle_timeout(const char *val, const struct kernel_param *kp)
{
	return cgblk_param_set_range(val, kp, 1, 24 * 3600 * 1000);
}

static int cgloop_set_max_workers(const char *val, const struct kernel_param *kp)
{
	return cgblk_param_set_range(val, kp, 0, 1 << 20);
}

static int cgloop_set_queue_depth(const char *val, const struct kernel_param *kp)
{
	return cgblk_param_set_range(val, kp, 1, 4096);
}

static const struct kernel_param_ops cgloop_idle_timeout_ops = {
	.set = cgloop_set_idle_timeout,
	.get = param_get_uint,
};

static const struct kernel_param_ops cgloop_max_workers_ops = {
	.set = cgloop_set_max_workers,
	.get = param_get_uint,
};

static const struct kernel_param_ops cgloop_queue_depth_ops = {
	.set = cgloop_set_queue_depth,
	.get = param_get_uint,
};

unsigned int cgloop_idle_timeout_ms = 60000;
module_param_cb(idle_timeout_ms, &cgloop_idle_timeout_ops,
		&cgloop_idle_timeout_ms, 0444);
MODULE_PARM_DESC(idle_timeout_ms,
		 "Free a per-cgroup worker idle this long, in ms (1-86400000, default 60000)");

unsigned int cgloop_max_workers;
module_param_cb(max_workers, &cgloop_max_workers_ops, &cgloop_max_workers, 0444);
MODULE_PARM_DESC(max_workers,
		 "Per-cgroup workers per device at most; more cgroups share the fallback worker (0, the default: the pool's limit, see cgblk_core)");

unsigned int cgloop_queue_depth = 128;
module_param_cb(queue_depth, &cgloop_queue_depth_ops, &cgloop_queue_depth, 0444);
MODULE_PARM_DESC(queue_depth, "Requests in flight per device (1-4096, default 128)");

bool cgloop_complete_in_task;
module_param_named(complete_in_task, cgloop_complete_in_task, bool, 0444);
MODULE_PARM_DESC(complete_in_task,
		 "Over a block device, complete requests in task context through cgblk_offload (default N)");

static char *cgloop_backing;
module_param_named(backing, cgloop_backing, charp, 0444);
MODULE_PARM_DESC(backing,
		 "Comma-separated backing files or block devices; the Nth becomes /dev/cgloopN (default: none)");

/* Remove the devices the parameter made (none is open: see cgloop_exit()). */
static void cgloop_remove_all(void)
{
	struct cgloop_device *cl, *next;

	list_for_each_entry_safe(cl, next, &cgloop_devices, node) {
		list_del(&cl->node);
		WARN_ON(cgloop_dev_disable(cl));
		cgloop_configfs_remove(cl);
		config_group_put(&cl->group);	/* frees it */
	}
}

/*
 * Create one enabled device per entry of the backing= parameter.  Every
 * entry is checked and its device built (cgloop_dev_prepare()) before any
 * disk is added: once a disk is added, udev or blkid may open it, and a
 * failed load cannot remove an open disk (the module is freed under it,
 * and its close would run freed code).  So a bad entry fails the load with
 * nothing added.  Only add_disk() itself can fail after that (memory,
 * sysfs): when it fails for the first disk the load fails with nothing
 * added; for a later one the load goes on with the disks already added and
 * that device left disabled (it can be enabled from configfs).
 */
static int __init cgloop_create_from_param(void)
{
	char *list, *cur, *path;
	struct cgloop_device *cl;
	bool added = false;
	int ret = 0;

	if (!cgloop_backing || !*cgloop_backing)
		return 0;
	list = kstrdup(cgloop_backing, GFP_KERNEL);
	if (!list)
		return -ENOMEM;
	cur = list;
	while ((path = strsep(&cur, ","))) {
		cl = cgloop_dev_create();
		if (IS_ERR(cl)) {
			ret = PTR_ERR(cl);
			break;
		}
		ret = cgloop_configfs_add(cl);
		if (ret) {
			config_group_put(&cl->group);
			break;
		}
		list_add_tail(&cl->node, &cgloop_devices);
		ret = cgloop_config_set_backing(&cl->config, path);
		if (ret) {
			pr_err("backing=%s: empty entry\n", cgloop_backing);
			ret = -EINVAL;
			break;
		}
		ret = cgloop_dev_prepare(cl);
		if (ret)
			break;
	}
	kfree(list);
	if (ret)
		return ret;

	list_for_each_entry(cl, &cgloop_devices, node) {
		ret = cgloop_dev_publish(cl);
		if (!ret) {
			added = true;
			continue;
		}
		if (!added)
			return ret;
		pr_err("cgloop%d: left disabled; the devices before it stay\n",
		       cl->index);
	}
	return 0;
}

static int __init cgloop_init(void)
{
	int ret;

	cgloop_major = register_blkdev(0, CGLOOP_NAME);
	if (cgloop_major < 0) {
		pr_err("cannot register a block major: %d\n", cgloop_major);
		return cgloop_major;
	}
	cgloop_debugfs_root = debugfs_create_dir(KBUILD_MODNAME, cgblk_debugfs_dir());
	ret = cgloop_configfs_init();
	if (ret) {
		pr_err("cannot register the configfs subsystem: %d\n", ret);
		goto out_debugfs;
	}
	ret = cgloop_create_from_param();
	if (ret)
		goto out_remove;
	return 0;

out_remove:
	cgloop_remove_all();
	cgloop_configfs_exit();
out_debugfs:
	debugfs_remove_recursive(cgloop_debugfs_root);
	unregister_blkdev(cgloop_major, CGLOOP_NAME);
	return ret;
}

/*
 * No device is open here (an open device holds the module through its
 * block_device_operations), and no device made with mkdir exists (each
 * configfs item holds the module too).
 */
static void __exit cgloop_exit(void)
{
	cgloop_remove_all();
	cgloop_configfs_exit();
	debugfs_remove_recursive(cgloop_debugfs_root);
	unregister_blkdev(cgloop_major, CGLOOP_NAME);
}

module_init(cgloop_init);
module_exit(cgloop_exit);

MODULE_AUTHOR("The cgblk authors");
MODULE_DESCRIPTION("cgloop: loop block devices with per-cgroup I/O workers");
MODULE_LICENSE("GPL");
CGBLK_IMPORT_NS();
