#!/bin/bash
# Proves: the DKMS-installed modules (tests/run ran `make dkms-install` for
# this kernel on the host, or `make check-deb` installed the package) load
# with plain modprobe, dependencies resolved by depmod, and unload with
# modprobe -r.
# kernels: 6.1 6.12
# tier: edges
# timeout: 90
. "$CGBLK_TOP/tests/lib/guest-lib.sh"

dir=/lib/modules/$(uname -r)/updates/dkms
for m in $CGBLK_MODULES; do
	p=$(modinfo -n "$m") || fail "modinfo does not find $m"
	[ "${p#"$dir"/}" != "$p" ] || fail "$m resolves to $p, not to DKMS's $dir"
done
for m in $CGBLK_USERS; do
	modprobe "$m"
	is_loaded "$m" || fail "modprobe $m did not load it"
	is_loaded cgblk_core || fail "modprobe $m did not pull in cgblk_core"
	log "modprobe $m: loaded $(modinfo -n "$m") with $(cat /sys/module/cgblk_core/refcnt) user(s) on cgblk_core"
done
# In reverse dependency order (modprobe -r refuses a module in use; it may
# take a dependency left unused along, hence the check before each).
for m in $CGBLK_UNLOAD; do
	if is_loaded "$m"; then modprobe -r "$m"; fi
	is_loaded "$m" && fail "modprobe -r $m left it loaded"
done
log "modprobe -r removed all of them"
