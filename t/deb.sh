#!/bin/sh
# make deb-test: builds the Debian package, checks it with lintian,
# installs it, checks what it put where, purges it and checks that nothing
# of it is left.  Installing a package needs root: otherwise it is skipped.
# The other tests run ./superd from the tree, so the installed package
# does not change what they test; without systemd running (CI) its
# postinst starts nothing either.
# usage: t/deb.sh  (from the top of the tree; MAKE may name make)
make=${MAKE:-make}
failed=0
installed=

if [ "$(id -u)" != 0 ]; then
	echo "deb-test: skipped: installing a package needs root"
	exit 0
fi

fail() {
	echo "deb-test: FAIL: $*"
	failed=1
}

# What superd's package and postinst may leave: its files, its user.
leftovers() {
	find /etc /var/lib/systemd /var/lib/dpkg/info -name '*superd*' \
	    2>/dev/null
	getent passwd superd
	getent group superd
}

purge() {
	if [ -n "$installed" ] &&
	    dpkg-query -W -f='${db:Status-Status}' superd 2>/dev/null |
	    grep -qv '^not-installed$'; then
		dpkg --purge superd || fail "dpkg --purge superd"
	fi
	installed=
}

# A package, a user or files of superd's already there are someone's:
# this test would replace them and then purge them.
if dpkg-query -W -f='${db:Status-Status}' superd 2>/dev/null |
    grep -qv '^not-installed$'; then
	echo "deb-test: FAIL: the superd package is installed already"
	exit 1
fi
if [ -n "$(leftovers)" ]; then
	echo "deb-test: FAIL: superd's files or user are here already:"
	leftovers
	exit 1
fi

trap 'purge' EXIT
trap 'exit 1' INT TERM HUP

$make deb || { echo "deb-test: FAIL: make deb"; exit 1; }
version=$(dpkg-parsechangelog -S Version)
arch=$(dpkg --print-architecture)
deb=build/deb/superd_${version}_${arch}.deb
changes=build/deb/superd_${version}_${arch}.changes
[ -f "$deb" ] || { echo "deb-test: FAIL: no $deb"; exit 1; }

# Source and binary package; warnings are listed in debian/README.source.
lintian --display-info "$changes" > build/deb/lintian.txt 2>&1 ||
    fail "lintian exits $?"
cat build/deb/lintian.txt
if grep -q '^E:' build/deb/lintian.txt; then
	fail "lintian reports errors"
fi

installed=1
dpkg -i "$deb" || { echo "deb-test: FAIL: dpkg -i $deb"; exit 1; }
/usr/sbin/superd -t -c /etc/superd/superd.conf ||
    fail "superd -t on the installed file"
# /lib/systemd/system on Debian 12, /usr/lib/systemd/system later.
units=$(dpkg -L superd | sed -n 's|/superd.service$||p')

for f in /usr/sbin/superd /etc/superd/superd.conf \
    /usr/share/superd/services/echo.lua /usr/share/superd/services/chat.lua \
    /usr/share/superd/services/status.lua \
    /usr/share/superd/services/lib/redis.lua /usr/share/superd/quotes.txt \
    /usr/share/man/man8/superd.8.gz /usr/share/man/man5/superd.conf.5.gz \
    /usr/share/man/man7/superd-lua.7.gz /usr/share/doc/superd/copyright \
    "$units/superd.service" "$units/superd.socket"; do
	[ -f "$f" ] || fail "$f is not installed"
done
[ -d /etc/superd/conf.d ] || fail "/etc/superd/conf.d is not installed"
dpkg-query -W -f='${Conffiles}\n' superd | grep -q ' /etc/superd/superd.conf ' ||
    fail "/etc/superd/superd.conf is not a conffile"
grep -q '^user *= "superd";' /etc/superd/superd.conf ||
    fail "superd.conf does not serve as superd"
grep -q '^include_dir *= "conf.d";' /etc/superd/superd.conf ||
    fail "superd.conf reads no conf.d"
grep -q '^script_dir *= "/usr/share/superd/services";' \
    /etc/superd/superd.conf || fail "superd.conf's script_dir"
getent passwd superd >/dev/null || fail "no user superd"
getent group superd >/dev/null || fail "no group superd"
# Enabled, but not started (no systemd here) and the socket left alone.
[ -L /etc/systemd/system/multi-user.target.wants/superd.service ] ||
    fail "superd.service is not enabled"
if [ -e /etc/systemd/system/sockets.target.wants/superd.socket ]; then
	fail "superd.socket is enabled"
fi

files=$(dpkg -L superd)
purge
for f in $files; do
	# Shared directories (/usr/sbin, /etc) stay; superd's own go.
	if [ -d "$f" ] && [ "${f#*superd}" = "$f" ]; then
		continue
	fi
	if [ -e "$f" ] || [ -L "$f" ]; then
		fail "$f is left after the purge"
	fi
done
if [ -n "$(leftovers)" ]; then
	fail "left after the purge:"
	leftovers
fi

if [ "$failed" = 0 ]; then
	echo "deb-test: $deb passed"
fi
exit "$failed"
