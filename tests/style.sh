#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# style.sh - `make style`: checkpatch (from Debian's linux-source-6.1, which
# ships it) over every C file and header, and sparse over a 6.1 build.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
: "${CGBLK_CACHE:=/var/cache/cgblk}"
. "$TOP/tests/lib/kernels.sh"

cp_dir=$CGBLK_CACHE/checkpatch
if [ ! -x "$cp_dir/scripts/checkpatch.pl" ]; then
	dpkg-query -W -f '${Status}' linux-source-6.1 2>/dev/null | grep -q 'ok installed' ||
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends linux-source-6.1
	mkdir -p "$cp_dir"
	tar -C "$cp_dir" --strip-components=1 -xf /usr/src/linux-source-6.1.tar.xz \
		--wildcards '*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
		'*/scripts/const_structs.checkpatch'
fi
command -v sparse > /dev/null ||
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends sparse

rc=0
files=$(cd "$TOP" && git ls-files '*.c' '*.h')
for f in $files; do
	"$cp_dir/scripts/checkpatch.pl" --no-tree --strict --terse --show-types \
		--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG -f "$TOP/$f" || rc=1
done

kernel_setup 6.1
b=$(mktemp -d)
tar -C "$TOP" -cf - Kbuild Makefile dkms.conf src include | tar -C "$b" -xf -
make -C "$b" KDIR="$KDIR" C=2 CHECK="sparse -Wno-decl" modules 2>&1 | tee "$b/sparse.log" | grep -E 'warning:|error:' && rc=1
rm -rf "$b"
[ $rc -eq 0 ] && echo "style: clean"
exit $rc
