#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# mkdeb.sh TOP OUTDIR - `make deb`: dist/cgblk-dkms_<version>_all.deb from
# the tree at TOP, built with dpkg-deb alone (no debhelper): the DKMS source
# in /usr/src/cgblk-<version>, README and copyright in
# /usr/share/doc/cgblk-dkms, and the maintainer scripts of this folder.
set -eu
top=$1
out=$2
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$top/dkms.conf")
[ -n "$version" ] || { echo "mkdeb: no PACKAGE_VERSION in dkms.conf" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
src=$stage/usr/src/cgblk-$version
doc=$stage/usr/share/doc/cgblk-dkms
mkdir -p "$src" "$doc" "$stage/DEBIAN" "$out"
chmod 0755 "$stage" "$stage/DEBIAN"
# The files DKMS builds from, as `make dkms-install` copies them: tracked
# files only (no build products, no results).
(cd "$top" && git ls-files -z dkms.conf Kbuild Makefile src include |
	xargs -0 tar -cf -) | tar -C "$src" -xf -
cp "$top/README.md" "$doc/"
cat > "$doc/copyright" <<COPY
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: cgblk
Files: *
License: GPL-2.0
 On Debian systems, the full text of the GNU General Public License
 version 2 can be found in /usr/share/common-licenses/GPL-2.
COPY
sed "s/@VERSION@/$version/g" "$here/control.in" > "$stage/DEBIAN/control"
echo "Installed-Size: $(du -sk "$stage/usr" | cut -f1)" >> "$stage/DEBIAN/control"
for f in postinst prerm; do
	sed "s/@VERSION@/$version/g" "$here/$f" > "$stage/DEBIAN/$f"
	chmod 0755 "$stage/DEBIAN/$f"
done
find "$stage/usr" -type d -exec chmod 0755 {} +
find "$stage/usr" -type f -exec chmod 0644 {} +
deb=$out/cgblk-dkms_${version}_all.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" > /dev/null
echo "$deb"
