#!/bin/bash
# Proves: the four modules load and unload in dependency order, the users
# hold cgblk_core (which refuses to unload under them), cgloop holds
# cgblk_offload (likewise) and each user gets
# its debugfs directory from the core; twice, to catch unload leftovers.
# tier: core
# timeout: 120
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

dbg=/sys/kernel/debug/cgblk
is_loaded dm_mod || modprobe dm-mod	# dm-cgsnap is a device-mapper target
for round in 1 2; do
	insmod "$(ko cgblk_core)"
	[ -d $dbg ] || fail "cgblk_core did not create $dbg"
	for m in $CGBLK_USERS; do
		insmod "$(ko "$m")"
		is_loaded "$m" || fail "$m not loaded"
		[ -d "$dbg/$(kname "$m")" ] || fail "$m has no debugfs directory $dbg/$(kname "$m")"
	done
	refs=$(cat /sys/module/cgblk_core/refcnt)
	[ "$refs" -eq 3 ] || fail "cgblk_core refcnt is $refs with three users loaded"
	holders=$(ls /sys/module/cgblk_core/holders | sort | tr '\n' ' ')
	[ "$holders" = "cgblk_offload cgloop dm_cgsnap " ] ||
		fail "cgblk_core holders are '$holders'"
	grep -q ' cgloop$' /proc/devices || fail "no cgloop block major in /proc/devices"
	expect_fail rmmod cgblk_core
	is_loaded cgblk_core || fail "cgblk_core unloaded under its users"
	ls /sys/module/cgblk_offload/holders | grep -qx cgloop ||
		fail "cgloop does not hold cgblk_offload"
	expect_fail rmmod cgblk_offload
	is_loaded cgblk_offload || fail "cgblk_offload unloaded under cgloop"
	for m in ${CGBLK_UNLOAD% cgblk_core}; do
		rmmod "$(kname "$m")"
		is_loaded "$m" && fail "$m still loaded after rmmod"
		[ ! -e "$dbg/$(kname "$m")" ] || fail "$m left $dbg/$(kname "$m") behind"
	done
	grep -q ' cgloop$' /proc/devices && fail "cgloop block major left registered"
	rmmod cgblk_core
	[ ! -e $dbg ] || fail "cgblk_core left $dbg behind"
	log "round $round: loaded and unloaded $CGBLK_MODULES"
done
