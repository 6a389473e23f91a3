/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cgblk/core.h - the cgblk core library (cgblk_core.ko).
 *
 * Shared by cgloop, cgblk_offload and dm-cgsnap.  Every symbol is exported
 * GPL-only in the CGBLK namespace: a user module says CGBLK_IMPORT_NS()
 * once.  The context rule of each function is in its kernel-doc.
 */
#ifndef _CGBLK_CORE_H
#define _CGBLK_CORE_H

#include <linux/module.h>

struct dentry;

/* Export from cgblk_core / import into a user module. */
#define EXPORT_SYMBOL_CGBLK(sym)	COMPAT_EXPORT_SYMBOL_NS_GPL(sym, CGBLK)
#define CGBLK_IMPORT_NS()	COMPAT_MODULE_IMPORT_NS(CGBLK)

struct dentry *cgblk_debugfs_dir(void);

#endif /* _CGBLK_CORE_H */
