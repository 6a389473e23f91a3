#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# tests/host/deb.sh - `make check-deb`: the Debian package as a user meets
# it, on this host (it installs and removes packages here).
#   1. `make deb` builds dist/cgblk-dkms_<version>_all.deb;
#   2. `apt-get install ./dist/...deb` builds and installs the modules for
#      every kernel of the host that has headers (6.1 and 6.12: tests/run
#      installs both); DKMS says so and modinfo finds them in updates/dkms;
#   3. the 6.1 and 6.12 guests load those modules with plain modprobe
#      (tests/guest/dkms_modprobe.sh, CGBLK_DKMS=installed);
#   4. `apt-get remove cgblk-dkms` leaves no cgblk module in any kernel, no
#      DKMS entry and no /usr/src/cgblk-<version>.
# Exit 0 only if all of it held; one FAIL line says what did not.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/tests/lib/kernels.sh"
. "$TOP/tests/lib/modules.sh"
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$TOP/dkms.conf")
fail() { echo "FAIL: $*"; exit 1; }
step() { echo "== $*"; }

host_packages_ensure || fail "cannot install the host packages"
kvers=
for s in 6.1 6.12; do
	kernel_setup "$s" > /dev/null 2>&1 || fail "cannot get kernel $s"
	kvers="$kvers $KVER"
done
# what DKMS had of cgblk before (make dkms-install, an older package)
! pkg_installed cgblk-dkms || apt-get remove -y -qq cgblk-dkms > /dev/null
make -C "$TOP" --no-print-directory dkms-remove > /dev/null 2>&1

step "make deb"
deb=$(make -C "$TOP" --no-print-directory -s deb | tail -n 1)
[ -f "$deb" ] || fail "make deb wrote no package ($deb)"
dpkg-deb -f "$deb" Package Version Architecture Depends
listing=$(dpkg-deb -c "$deb")
grep -q "\./usr/src/cgblk-$version/dkms.conf$" <<< "$listing" ||
	fail "the package has no /usr/src/cgblk-$version/dkms.conf"

step "apt-get install $deb"
log=$(mktemp)
# a failure from here on takes the package out again
cleanup() {
	! pkg_installed cgblk-dkms ||
		DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq cgblk-dkms > /dev/null 2>&1
	rm -f "$log"
}
trap cleanup EXIT
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$deb" > "$log" 2>&1 ||
	{ tail -n 20 "$log"; fail "apt-get install of the package failed"; }
grep -E 'cgblk-dkms:' "$log" && fail "the package's postinst reported a failed build"
for k in $kvers; do
	dkms status -m cgblk -v "$version" -k "$k" | grep -q ': installed' ||
		fail "DKMS does not say cgblk/$version is installed for $k: $(dkms status -m cgblk)"
	for m in $CGBLK_MODULES; do
		p=$(modinfo -k "$k" -n "$m" 2>/dev/null) || fail "modinfo -k $k finds no $m"
		[[ $p == /lib/modules/$k/updates/dkms/* ]] || fail "$m for $k resolves to $p, not to updates/dkms"
	done
	echo "   $k: $(dkms status -m cgblk -v "$version" -k "$k")"
done

step "modprobe in the 6.1 and 6.12 guests"
CGBLK_DKMS=installed "$TOP/tests/run" --kernels "6.1 6.12" --tests dkms_modprobe \
	--no-selftest --suites guest --results "$TOP/results/deb" ||
	fail "dkms_modprobe failed with the package's modules (results/deb)"

step "apt-get remove cgblk-dkms"
DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq cgblk-dkms > "$log" 2>&1 ||
	{ tail -n 20 "$log"; fail "apt-get remove failed"; }
left=$(for m in $CGBLK_MODULES; do find /lib/modules/*/updates/dkms -name "$m.ko*" 2>/dev/null; done)
[ -z "$left" ] || fail "modules left after the removal: $left"
dkms status -m cgblk | grep -q . && fail "DKMS still has cgblk: $(dkms status -m cgblk)"
[ ! -e "/usr/src/cgblk-$version" ] || fail "/usr/src/cgblk-$version is left after the removal"
echo "PASS: cgblk-dkms $version: built, installed for$kvers, loaded in their guests, removed without a trace"
