// SPDX-License-Identifier: GPL-2.0
/*
 * cgblk_test_warn - the harness self-test: loading it prints one WARN.
 *
 * tests/selftest/warn_is_caught.sh loads it from a script that exits 0;
 * the harness must still fail that test.  Never installed.
 */
#include <linux/bug.h>
#include <linux/init.h>
#include <linux/module.h>

static int __init cgblk_test_warn_init(void)
{
	WARN(1, "cgblk_test_warn: deliberate warning for the harness self-test\n");
	return 0;
}

static void __exit cgblk_test_warn_exit(void)
{
}

module_init(cgblk_test_warn_init);
module_exit(cgblk_test_warn_exit);

MODULE_DESCRIPTION("cgblk harness self-test: emits one WARN on load");
MODULE_LICENSE("GPL");
