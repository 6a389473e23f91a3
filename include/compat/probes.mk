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

cgblk_ccflags := -I$(cgblk_top)/include \
		 -include $(cgblk_top)/include/compat/compat.h \
		 -D'pr_fmt(fmt)=KBUILD_MODNAME ": " fmt' \
		 $(COMPAT_CFLAGS)
