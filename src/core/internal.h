/* SPDX-License-Identifier: GPL-2.0 */
/*
 * internal.h - what the files of cgblk_core share and nobody else sees.
 */
#ifndef _CGBLK_CORE_INTERNAL_H
#define _CGBLK_CORE_INTERNAL_H

/* pool.c: the workers' slab cache, made at module init */
int cgblk_pool_init(void);
void cgblk_pool_exit(void);

#endif /* _CGBLK_CORE_INTERNAL_H */
