#!/usr/bin/python3
"""fail_nth_enable.py CFG BDEV FILE FULL STRIDE: the fault-injection sweep
of cgloop_enable_fail_nth.sh.  CFG is a cgloop configfs directory.  For
N = 1, 2, ... (every N below FULL, then every STRIDE-th) enable CFG over
BDEV with the Nth fault-injection point of this task failing
(/proc/self/fail-nth), until one enable makes fewer than N; after each, the
device must be enabled exactly when the write succeeded (and read what BDEV
holds when it was), and an enable over FILE must then write to FILE and not
to BDEV.  Every file descriptor the injection window uses is opened before
it, so the count runs out only inside the enable write.  Prints one line per 50 points and a summary
"points N failed F coped C"; exits 1 with a line on the first wrong
outcome."""
import mmap
import os
import sys

cfg, bdev, fimg, full, stride = sys.argv[1:4] + [int(a) for a in sys.argv[4:6]]


def put(name, val):
    fd = os.open(os.path.join(cfg, name), os.O_WRONLY)
    try:
        os.write(fd, val.encode())
    finally:
        os.close(fd)


def get(name):
    with open(os.path.join(cfg, name)) as f:
        return f.read().strip()


def bad(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


idx = get("index")
dev, sysblk = "/dev/cgloop" + idx, "/sys/block/cgloop" + idx
pat = os.urandom(8192)
zero = bytes(1 << 20)
rbuf = mmap.mmap(-1, 65536)	# page-aligned, for O_DIRECT reads
n, step, failed, coped = 0, 1, 0, 0
while True:
    n += step
    if n >= full:
        step = stride
    put("backing", bdev)
    en = os.open(os.path.join(cfg, "enable"), os.O_WRONLY)
    nth = os.open("/proc/self/fail-nth", os.O_RDWR)
    os.write(nth, b"%d" % n)
    err = 0
    try:
        os.write(en, b"1")
    except OSError as e:
        err = e.errno
    left = int(os.pread(nth, 32, 0))
    os.write(nth, b"0")
    os.close(nth)
    os.close(en)
    enabled = get("enable") == "1"
    if err and left:
        bad("enable %d failed (%s) with no fault injected" % (n, os.strerror(err)))
    if err:
        failed += 1
        if enabled or os.path.exists(sysblk):
            bad("enable %d failed (%s) but left cgloop%s" % (n, os.strerror(err), idx))
    else:
        if not enabled:
            bad("enable %d succeeded but the device is not enabled" % n)
        # A fault the enable coped with must leave a device that works:
        # read through it (direct, past the page cache) what BDEV holds.
        fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
        try:
            if os.preadv(fd, [rbuf], (n % 64) * 65536) != 65536 or rbuf[:] != zero[:65536]:
                bad("after point %d the enabled device read wrong data" % n)
        finally:
            os.close(fd)
        put("enable", "0")
        if left:
            break		# enable made fewer than n: every point tried
        coped += 1
    # The next enable, over the file, must be a file device.
    put("backing", fimg)
    put("enable", "1")
    off = (n % 512) * 8192
    fd = os.open(dev, os.O_WRONLY)
    os.pwrite(fd, pat, off)
    os.fsync(fd)
    os.close(fd)
    put("enable", "0")
    with open(fimg, "rb") as f:
        f.seek(off)
        if f.read(8192) != pat:
            bad("after point %d the data did not land in %s" % (n, fimg))
    with open(bdev, "rb") as f:
        # a clone remapped to BDEV would bypass its page cache: drop it
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            if b != zero[:len(b)]:
                bad("after point %d a write over the file reached %s" % (n, bdev))
    if n % 50 == 0:
        print("point %d: %d failed enable, %d coped with" % (n, failed, coped), flush=True)
print("points %d failed %d coped %d" % (n, failed, coped), flush=True)
