# SPDX-License-Identifier: GPL-2.0
#
# cgblk - front end.  Kbuild (the file next to this one) says what is built.
#
#   make                      build the four modules for the running kernel
#   make KVER=<release>       ... for another installed kernel (or KDIR=<dir>)
#   make W=1                  ... with extra warnings (the tree is W=1 clean)
#   make install              install into /lib/modules/<release>/updates
#   make dkms-install         register this tree with DKMS and install it
#   make dkms-remove          undo dkms-install
#   make deb                  dist/cgblk-dkms_<version>_all.deb (packaging/deb)
#   make check-deb            install it here, modprobe in two guests, remove it
#   make check                build and run the guest test suite under qemu
#   make check KERNELS="5.10 6.1 6.12 7.3" TESTS="name ..."
#   make check-ci             what CI runs: the CI tier of the suite (each test's
#                             "# tier:" header) over the four kernels, <= 45 min
#   make check-debug          the same suite on the debug kernel (lockdep, KASAN,
#                             kmemleak, atomic-sleep...); builds it once (~30 min)
#   make bench [KERNEL=7.3]   benchmarks in the guest (tests/bench), figures in
#                             results/bench
#   make demo [DEMO_KERNEL=5.10] what cgblk does, in a few screens (minutes)
#   make style                checkpatch and sparse over the sources

KVER	?= $(shell uname -r)
KDIR	?= /lib/modules/$(KVER)/build
VERSION	:= $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' $(CURDIR)/dkms.conf)
DKMS_SRC := /usr/src/cgblk-$(VERSION)

KERNELS	?= 6.1
CI_KERNELS := 5.10 6.1 6.12 7.3
TESTS	?=
RESULTS	?= $(CURDIR)/results

all: modules

modules:
	@test -f $(KDIR)/Makefile || { echo "no kernel build tree at $(KDIR): install the headers of $(KVER) or set KVER=/KDIR="; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

# Not kbuild's clean: for an external module it deletes build products in
# every directory below M=, results/ included.
clean:
	rm -f $(addprefix $(CURDIR)/,*.ko *.o *.mod *.mod.c .*.cmd .*.d \
		Module.symvers modules.order) \
	      $(addprefix $(CURDIR)/src/*/,*.o .*.cmd .*.d) \
	      $(addprefix $(CURDIR)/tests/modules/,*.ko *.o *.mod *.mod.c .*.cmd .*.d \
		Module.symvers modules.order)
	rm -rf $(CURDIR)/.tmp_versions

install: modules
	$(MAKE) -C $(KDIR) M=$(CURDIR) INSTALL_MOD_DIR=updates modules_install
	depmod -a $(KVER)

dkms-install:
	rm -rf $(DKMS_SRC)
	mkdir -p $(DKMS_SRC)
	cp -a $(CURDIR)/dkms.conf $(CURDIR)/Kbuild $(CURDIR)/Makefile \
	      $(CURDIR)/src $(CURDIR)/include $(DKMS_SRC)/
	dkms add cgblk/$(VERSION)
	dkms build cgblk/$(VERSION) -k $(KVER)
	dkms install cgblk/$(VERSION) -k $(KVER)

dkms-remove:
	-dkms remove cgblk/$(VERSION) --all
	rm -rf $(DKMS_SRC)

check:
	$(CURDIR)/tests/run --kernels "$(KERNELS)" --tests "$(TESTS)" --results $(RESULTS)

check-ci:
	$(CURDIR)/tests/run --tier ci --kernels "$(CI_KERNELS)" --tests "$(TESTS)" --results $(RESULTS)

check-debug:
	$(CURDIR)/tests/run --kernels debug --tests "$(TESTS)" --results $(RESULTS)

KERNEL	?= 6.1
bench:
	$(CURDIR)/tests/run --kernels "$(KERNEL)" --suites bench --tests "$(TESTS)" \
		--results $(RESULTS)/bench; rc=$$?; \
	$(CURDIR)/tests/lib/bench-chart.sh $(RESULTS)/bench || rc=1; exit $$rc

# make demo [DEMO_KERNEL=5.10]: the demonstration, in a few screens of text.
DEMO_KERNEL ?= 5.10
demo:
	$(CURDIR)/tests/run --kernels "$(DEMO_KERNEL)" --suites demo --no-selftest \
		--results $(RESULTS)/demo; rc=$$?; \
	cat $(RESULTS)/demo/*/demo/demo/output.log; exit $$rc

style:
	$(CURDIR)/tests/style.sh

# The Debian package of the DKMS source (packaging/deb/mkdeb.sh); installed
# with `apt install ./dist/cgblk-dkms_<version>_all.deb`.
deb:
	$(CURDIR)/packaging/deb/mkdeb.sh $(CURDIR) $(CURDIR)/dist

# The package on this host: install, modprobe in the 6.1 and 6.12 guests,
# remove (tests/host/deb.sh; it installs and removes packages here).
check-deb:
	$(CURDIR)/tests/host/deb.sh

.PHONY: all modules clean install dkms-install dkms-remove check check-ci check-debug bench demo style deb check-deb
