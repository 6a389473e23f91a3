/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compat.h - glue between cgblk and the kernels it supports (5.10 to 7.3).
 *
 * Force-included into every object by Kbuild.  Every difference between
 * kernels is decided here from the COMPAT_* probe results of probes.mk,
 * so the rest of the tree is written against one API (the newest kernel's
 * names) and never tests LINUX_VERSION_CODE.
 *
 * Where a helper replaces a kernel function of the same name, the header
 * that declares the original is included first, so that the renaming macro
 * touches only our own code.
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

/*
 * The blkcg css a bio is associated with (NULL when none).  Before 6.0 the
 * blkg and blkcg structures were public and bio_blkcg() returned the blkcg.
 */
#ifndef COMPAT_HAS_BIO_BLKCG_CSS
#include <linux/blk-cgroup.h>
static inline struct cgroup_subsys_state *compat_bio_blkcg_css(struct bio *bio)
{
	struct blkcg *blkcg = bio_blkcg(bio);

	return blkcg ? &blkcg->css : NULL;
}
#define bio_blkcg_css compat_bio_blkcg_css
#endif

/*
 * cgroup_get_e_css() is exported from 5.14.  Before it, walk up from the
 * cgroup to the first ancestor with a css of the subsystem, as
 * cgroup_e_css_by_mask() does, and take a reference on it.
 */
#ifndef COMPAT_HAS_CGROUP_GET_E_CSS
#include <linux/cgroup.h>
static inline struct cgroup_subsys_state *
compat_cgroup_get_e_css(struct cgroup *cgrp, struct cgroup_subsys *ss)
{
	struct cgroup_subsys_state *css;

	rcu_read_lock();
	for (;;) {
		css = rcu_dereference(cgrp->subsys[ss->id]);
		if (css && css_tryget(css))
			break;
		if (!cgroup_parent(cgrp)) {
			/* the root css is never released */
			css = rcu_dereference(cgrp->subsys[ss->id]);
			css_get(css);
			break;
		}
		cgrp = cgroup_parent(cgrp);
	}
	rcu_read_unlock();
	return css;
}
#define cgroup_get_e_css compat_cgroup_get_e_css
#endif

/*
 * set_active_memcg() references int_active_memcg for its interrupt branch,
 * which is not exported before 5.14.  Our callers are always tasks, so the
 * task branch is all that is needed there.
 */
#if defined(CONFIG_MEMCG) && !defined(COMPAT_HAS_INT_ACTIVE_MEMCG)
#include <linux/sched/mm.h>	/* before the macro: it declares the original */
static inline struct mem_cgroup *compat_set_active_memcg(struct mem_cgroup *memcg)
{
	struct mem_cgroup *old = current->active_memcg;

	current->active_memcg = memcg;
	return old;
}
#define set_active_memcg compat_set_active_memcg
#endif

#endif /* _CGBLK_COMPAT_H */
