// SPDX-License-Identifier: GPL-2.0
/*
 * configfs.c - /sys/kernel/config/cgloop/<name>/, in the style of null_blk.
 *
 *   mkdir /sys/kernel/config/cgloop/vm1          a device, not yet enabled
 *   echo /images/vm1.img > .../vm1/backing         configure it
 *   echo 1 > .../vm1/enable                        /dev/cgloop<index>
 *   echo 0 > .../vm1/enable                        remove the block device
 *   rmdir .../vm1                                  remove it altogether
 *
 * Attributes other than enable refuse changes while the device is enabled
 * (-EBUSY); a value that does not parse is -EINVAL; each refusal prints one
 * line.  While the block device is open its item is pinned with
 * configfs_depend_item_unlocked(), so rmdir fails with -EBUSY.  Devices made
 * by the backing= parameter appear here too, as groups the module owns:
 * they cannot be removed with rmdir (-EPERM), only with rmmod.
 */
#include <linux/configfs.h>
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "cgloop.h"

static struct cgloop_device *to_cgloop(struct config_item *item)
{
	return container_of(to_config_group(item), struct cgloop_device, group);
}

/*
 * Run @apply on the configuration under ctl_mutex, unless the device is
 * enabled.  Return: @count or the error.
 */
static ssize_t cgloop_configure(struct config_item *item, const char *attr,
				const char *page, size_t count,
				int (*apply)(struct cgloop_config *, const char *))
{
	struct cgloop_device *cl = to_cgloop(item);
	int ret;

	mutex_lock(&cl->ctl_mutex);
	if (cl->state != CGLOOP_OFF) {
		pr_err("%s: cannot change %s while enabled\n",
		       config_item_name(item), attr);
		ret = -EBUSY;
	} else {
		ret = apply(&cl->config, page);
		if (ret == -EINVAL)
			pr_err("%s: bad %s value '%.*s'\n", config_item_name(item),
			       attr, (int)strcspn(page, "\n"), page);
	}
	mutex_unlock(&cl->ctl_mutex);
	return ret ?: count;
}

static int apply_backing(struct cgloop_config *c, const char *page)
{
	return cgloop_config_set_backing(c, page);
}

static int apply_loff(loff_t *field, const char *page)
{
	long long v;

	if (kstrtoll(page, 0, &v) || v < 0)
		return -EINVAL;
	*field = v;
	return 0;
}

static int apply_offset(struct cgloop_config *c, const char *page)
{
	return apply_loff(&c->offset, page);
}

static int apply_size(struct cgloop_config *c, const char *page)
{
	return apply_loff(&c->size, page);
}

static int apply_read_only(struct cgloop_config *c, const char *page)
{
	return kstrtobool(page, &c->read_only) ? -EINVAL : 0;
}

static int apply_direct_io(struct cgloop_config *c, const char *page)
{
	return kstrtobool(page, &c->direct_io) ? -EINVAL : 0;
}

static int apply_logical_block_size(struct cgloop_config *c, const char *page)
{
	unsigned int v;

	if (kstrtouint(page, 0, &v) || (v && v != 512 && v != 4096))
		return -EINVAL;
	c->logical_block_size = v;
	return 0;
}

/* show and store of a configuration attribute */
#define CGLOOP_CONFIG_ATTR(_name, _fmt, _field)				\
static ssize_t cgloop_config_##_name##_show(struct config_item *item,	\
					    char *page)			\
{									\
	struct cgloop_device *cl = to_cgloop(item);			\
	ssize_t ret;							\
									\
	mutex_lock(&cl->ctl_mutex);					\
	ret = snprintf(page, PAGE_SIZE, _fmt "\n", cl->config._field);	\
	mutex_unlock(&cl->ctl_mutex);					\
	return ret;							\
}									\
static ssize_t cgloop_config_##_name##_store(struct config_item *item,	\
					     const char *page,		\
					     size_t count)		\
{									\
	return cgloop_configure(item, #_name, page, count,		\
				apply_##_name);				\
}									\
CONFIGFS_ATTR(cgloop_config_, _name)

static ssize_t cgloop_config_backing_show(struct config_item *item, char *page)
{
	struct cgloop_device *cl = to_cgloop(item);
	ssize_t ret;

	mutex_lock(&cl->ctl_mutex);
	ret = snprintf(page, PAGE_SIZE, "%s\n", cl->config.backing ?: "");
	mutex_unlock(&cl->ctl_mutex);
	return ret;
}

static ssize_t cgloop_config_backing_store(struct config_item *item,
					   const char *page, size_t count)
{
	return cgloop_configure(item, "backing", page, count, apply_backing);
}
CONFIGFS_ATTR(cgloop_config_, backing);

CGLOOP_CONFIG_ATTR(offset, "%lld", offset);
CGLOOP_CONFIG_ATTR(size, "%lld", size);
CGLOOP_CONFIG_ATTR(read_only, "%d", read_only);
CGLOOP_CONFIG_ATTR(direct_io, "%d", direct_io);
CGLOOP_CONFIG_ATTR(logical_block_size, "%u", logical_block_size);

static ssize_t cgloop_config_enable_show(struct config_item *item, char *page)
{
	return snprintf(page, PAGE_SIZE, "%d\n",
			cgloop_dev_is_live(to_cgloop(item)));
}

static ssize_t cgloop_config_enable_store(struct config_item *item,
					  const char *page, size_t count)
{
	struct cgloop_device *cl = to_cgloop(item);
	bool enable;
	int ret;

	if (kstrtobool(page, &enable)) {
		pr_err("%s: bad enable value '%.*s'\n", config_item_name(item),
		       (int)strcspn(page, "\n"), page);
		return -EINVAL;
	}
	if (enable) {
		ret = cgloop_dev_enable(cl);
		if (ret == -EBUSY)
			pr_err("%s: already enabled\n", config_item_name(item));
	} else {
		ret = cgloop_dev_disable(cl);
		if (ret == -EBUSY)
			pr_err("%s: cannot disable cgloop%d while it is open\n",
			       config_item_name(item), cl->index);
	}
	return ret ?: count;
}
CONFIGFS_ATTR(cgloop_config_, enable);

static ssize_t cgloop_config_index_show(struct config_item *item, char *page)
{
	return snprintf(page, PAGE_SIZE, "%d\n", to_cgloop(item)->index);
}
CONFIGFS_ATTR_RO(cgloop_config_, index);

static ssize_t cgloop_config_dev_show(struct config_item *item, char *page)
{
	struct cgloop_device *cl = to_cgloop(item);

	if (!cgloop_dev_is_live(cl))
		return snprintf(page, PAGE_SIZE, "\n");
	return snprintf(page, PAGE_SIZE, "%d:%d\n", cgloop_major, cl->index);
}
CONFIGFS_ATTR_RO(cgloop_config_, dev);

static struct configfs_attribute *cgloop_config_attrs[] = {
	&cgloop_config_attr_backing,
	&cgloop_config_attr_offset,
	&cgloop_config_attr_size,
	&cgloop_config_attr_read_only,
	&cgloop_config_attr_direct_io,
	&cgloop_config_attr_logical_block_size,
	&cgloop_config_attr_enable,
	&cgloop_config_attr_index,
	&cgloop_config_attr_dev,
	NULL,
};

static void cgloop_config_release(struct config_item *item)
{
	cgloop_dev_destroy(to_cgloop(item));
}

static struct configfs_item_operations cgloop_config_item_ops = {
	.release = cgloop_config_release,
};

static const struct config_item_type cgloop_config_type = {
	.ct_item_ops = &cgloop_config_item_ops,
	.ct_attrs = cgloop_config_attrs,
	.ct_owner = THIS_MODULE,
};

/* The subsystem: mkdir and rmdir. */

static struct config_group *cgloop_make_group(struct config_group *group,
					      const char *name)
{
	struct cgloop_device *cl = cgloop_dev_create();

	if (IS_ERR(cl))
		return ERR_CAST(cl);
	config_group_init_type_name(&cl->group, name, &cgloop_config_type);
	return &cl->group;
}

static void cgloop_drop_item(struct config_group *group,
			     struct config_item *item)
{
	/* Not open: configfs refuses rmdir of a pinned item. */
	WARN_ON(cgloop_dev_disable(to_cgloop(item)));
	config_item_put(item);
}

static ssize_t cgloop_features_show(struct config_item *item, char *page)
{
	return snprintf(page, PAGE_SIZE,
			"backing,offset,size,read_only,direct_io,logical_block_size,enable,index,dev\n");
}
CONFIGFS_ATTR_RO(cgloop_, features);

static struct configfs_attribute *cgloop_subsys_attrs[] = {
	&cgloop_attr_features,
	NULL,
};

static struct configfs_group_operations cgloop_group_ops = {
	.make_group = cgloop_make_group,
	.drop_item = cgloop_drop_item,
};

static const struct config_item_type cgloop_subsys_type = {
	.ct_group_ops = &cgloop_group_ops,
	.ct_attrs = cgloop_subsys_attrs,
	.ct_owner = THIS_MODULE,
};

static struct configfs_subsystem cgloop_subsys = {
	.su_group = {
		.cg_item = {
			.ci_namebuf = CGLOOP_NAME,
			.ci_type = &cgloop_subsys_type,
		},
	},
};

/**
 * cgloop_configfs_pin - keep a device's item from rmdir while it is open
 * @cl: the device
 *
 * Only configfs_dirent_lock is taken (the item is in our own subsystem), so
 * this is safe under the disk's open_mutex.  The _unlocked variant skips
 * locking the configfs root because a caller in the target's own subsystem
 * cannot see it unregistered meanwhile; from ->open that holds too: the
 * open pins this module (the disk's fops owner), whose exit is the only
 * place the subsystem is unregistered.  An item being removed is refused
 * (-ENOENT), as from a configfs callback.
 *
 * Return: 0, or -ENOENT when the item is being removed.
 */
int cgloop_configfs_pin(struct cgloop_device *cl)
{
	return configfs_depend_item_unlocked(&cgloop_subsys, &cl->group.cg_item);
}

void cgloop_configfs_unpin(struct cgloop_device *cl)
{
	configfs_undepend_item(&cl->group.cg_item);
}

/**
 * cgloop_configfs_add - show a device made by the backing= parameter
 * @cl: the device
 *
 * Return: 0 or the error of configfs_register_group().
 */
int cgloop_configfs_add(struct cgloop_device *cl)
{
	char name[16];

	snprintf(name, sizeof(name), CGLOOP_NAME "%d", cl->index);
	config_group_init_type_name(&cl->group, name, &cgloop_config_type);
	return configfs_register_group(&cgloop_subsys.su_group, &cl->group);
}

/* Undo cgloop_configfs_add(); the caller then drops the group. */
void cgloop_configfs_remove(struct cgloop_device *cl)
{
	configfs_unregister_group(&cl->group);
}

int cgloop_configfs_init(void)
{
	config_group_init(&cgloop_subsys.su_group);
	mutex_init(&cgloop_subsys.su_mutex);
	return configfs_register_subsystem(&cgloop_subsys);
}

void cgloop_configfs_exit(void)
{
	configfs_unregister_subsystem(&cgloop_subsys);
}
