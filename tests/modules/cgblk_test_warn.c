// SPDX-License-Identifier: GPL-2.0
/*
 * cgblk_test_warn - the harness self-tests: loading it makes the kernel
 * report one bug, which the harness must catch.
 *
 *   bug=warn (default)   one WARN (every kernel)
 *   bug=leak             128 bytes allocated and lost (kmemleak, debug kernel)
 *   bug=atomic_sleep     might_sleep() under a spinlock (DEBUG_ATOMIC_SLEEP)
 *   bug=lock_order       two mutexes taken in both orders (lockdep)
 *   bug=use_after_free   a byte read after kfree() (KASAN)
 *
 * The tests/selftest/ scripts named <bug>_is_caught load it and exit 0; the
 * harness must still fail those tests.  Never installed.
 */
#include <linux/bug.h>
#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>

static char *bug = "warn";
module_param(bug, charp, 0444);
MODULE_PARM_DESC(bug, "The bug to make: warn, leak, atomic_sleep, lock_order, use_after_free");

static DEFINE_SPINLOCK(test_lock);
static DEFINE_MUTEX(test_mutex_a);
static DEFINE_MUTEX(test_mutex_b);

static noinline void test_leak(void)
{
	char *p = kmalloc(128, GFP_KERNEL);

	if (p)
		memset(p, 0x5a, 128);
	pr_info("cgblk_test_warn: leaking 128 bytes\n");
}

static noinline void test_use_after_free(void)
{
	char *p = kmalloc(64, GFP_KERNEL);

	if (!p)
		return;
	kfree(p);
	pr_info("cgblk_test_warn: read after free: %d\n", READ_ONCE(p[8]));
}

static int __init cgblk_test_warn_init(void)
{
	if (!strcmp(bug, "leak")) {
		test_leak();
	} else if (!strcmp(bug, "atomic_sleep")) {
		spin_lock(&test_lock);
		might_sleep();
		spin_unlock(&test_lock);
	} else if (!strcmp(bug, "lock_order")) {
		mutex_lock(&test_mutex_a);
		mutex_lock(&test_mutex_b);
		mutex_unlock(&test_mutex_b);
		mutex_unlock(&test_mutex_a);
		mutex_lock(&test_mutex_b);
		mutex_lock(&test_mutex_a);
		mutex_unlock(&test_mutex_a);
		mutex_unlock(&test_mutex_b);
	} else if (!strcmp(bug, "use_after_free")) {
		test_use_after_free();
	} else {
		WARN(1, "cgblk_test_warn: deliberate warning for the harness self-test\n");
	}
	return 0;
}

static void __exit cgblk_test_warn_exit(void)
{
}

module_init(cgblk_test_warn_init);
module_exit(cgblk_test_warn_exit);

MODULE_DESCRIPTION("cgblk harness self-test: makes one bug the kernel reports on load");
MODULE_LICENSE("GPL");
