/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compat.h - glue between cgblk and the kernels it supports (5.10 to 7.3).
 *
 * Force-included into every object by Kbuild.  Every difference between
 * kernels is decided here from the COMPAT_* probe results of probes.mk,
 * so the rest of the tree is written against one API and never tests
 * LINUX_VERSION_CODE.
 */
#ifndef _CGBLK_COMPAT_H
#define _CGBLK_COMPAT_H

#include <linux/export.h>
#include <linux/module.h>

/*
 * Symbol namespaces: before 6.13 the namespace is a bare identifier that the
 * kernel's macros stringify (5.10 with a plain #ns, which does not expand
 * macros, so pass the identifier itself), from 6.13 a string literal.
 */
#ifdef COMPAT_NS_IS_STRING
#define COMPAT_EXPORT_SYMBOL_NS_GPL(sym, ns)	EXPORT_SYMBOL_NS_GPL(sym, #ns)
#define COMPAT_MODULE_IMPORT_NS(ns)		MODULE_IMPORT_NS(#ns)
#else
#define COMPAT_EXPORT_SYMBOL_NS_GPL(sym, ns)	EXPORT_SYMBOL_NS_GPL(sym, ns)
#define COMPAT_MODULE_IMPORT_NS(ns)		MODULE_IMPORT_NS(ns)
#endif

#endif /* _CGBLK_COMPAT_H */
