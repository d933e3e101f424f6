#!/usr/bin/env bash
# Builds the Debian package lttng-rs_<version>_amd64.deb from the workspace.
#
#   scripts/build-deb.sh                      # release build, package in target/deb/
#   scripts/build-deb.sh --out DIR            # package in DIR
#   scripts/build-deb.sh --profile debug --no-build   # package what target/debug holds
#
# It holds: the binaries in /usr/bin, the C headers in /usr/include/lttng, the C
# library in /usr/lib/x86_64-linux-gnu with its pkg-config file, privd's commented
# configuration as /etc/lttng-rs/privd.conf (a conffile), the systemd units (privd's
# system unit, sessiond's user unit), and the documentation. The maintainer scripts
# (scripts/deb/) create the tracing group and divert the paths LTTng's own packages
# also use.
set -euo pipefail
cd "$(dirname "$0")/.."
PROG=build-deb
die() { echo "$PROG: error: $*" >&2; exit 1; }

profile=release
out=target/deb
build=1
while [ $# -gt 0 ]; do
	case $1 in
	--profile) profile=${2:?--profile needs release or debug}; shift 2 ;;
	--out) out=${2:?--out needs a directory}; shift 2 ;;
	--no-build) build=0; shift ;;
	*) die "unknown argument '$1' (see the top of $0)" ;;
	esac
done
case $profile in release | debug) ;; *) die "--profile must be release or debug" ;; esac
command -v dpkg-deb >/dev/null || die "dpkg-deb is missing (apt-get install dpkg)"

bins="lttng lttng-sessiond lttng-consumerd-ust lttng-consumerd-kernel lttng-privd"
if [ "$build" = 1 ]; then
	flag=$([ "$profile" = release ] && echo --release || true)
	cargo build $flag -p lttng -p sessiond -p consumer-ust -p consumer-kernel -p privd -p libust-c
fi
t=target/$profile
for b in $bins liblttng_ust_rs.so liblttng_ust_rs.a; do
	[ -f "$t/$b" ] || die "$t/$b is missing: build it first (or drop --no-build)"
done

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
arch_lib=usr/lib/x86_64-linux-gnu
# Paths LTTng's packages (lttng-tools, liblttng-ust-dev) also own.
diverted="/usr/bin/lttng /usr/bin/lttng-sessiond"
for h in tracepoint.h tracepoint-event.h tracef.h tracelog.h; do
	diverted="$diverted /usr/include/lttng/$h"
done
diverted="$diverted /$arch_lib/pkgconfig/lttng-ust.pc"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
install -d "$stage/DEBIAN" "$stage/usr/bin" "$stage/usr/include/lttng" \
	"$stage/$arch_lib/pkgconfig" "$stage/etc/lttng-rs" "$stage/lib/systemd/system" \
	"$stage/usr/lib/systemd/user" "$stage/usr/share/doc/lttng-rs"
for b in $bins; do
	install -m 0755 "$t/$b" "$stage/usr/bin/$b"
done
install -m 0644 libust-c/include/lttng/*.h "$stage/usr/include/lttng/"
install -m 0644 "$t/liblttng_ust_rs.so" "$stage/$arch_lib/liblttng_ust_rs.so"
install -m 0644 "$t/liblttng_ust_rs.a" "$stage/$arch_lib/liblttng_ust_rs.a"
cat >"$stage/$arch_lib/pkgconfig/lttng-ust.pc" <<PC
prefix=/usr
includedir=\${prefix}/include
libdir=\${prefix}/lib/x86_64-linux-gnu

Name: lttng-ust
Description: LTTng-UST 2.13's tracepoint API, recorded by lttng-rs (liblttng_ust_rs $version)
Version: 2.13.0
Cflags: -I\${includedir}
Libs: -L\${libdir} -llttng_ust_rs -ldl
Libs.private: -lpthread -lm -lrt -lgcc_s
PC
install -m 0644 privd/privd.conf "$stage/etc/lttng-rs/privd.conf"
install -m 0644 privd/lttng-privd.service "$stage/lib/systemd/system/"
install -m 0644 sessiond/lttng-sessiond.service "$stage/usr/lib/systemd/user/"
install -m 0644 README.md SECURITY.md "$stage/usr/share/doc/lttng-rs/"

sed "s/@VERSION@/$version/" scripts/deb/control >"$stage/DEBIAN/control"
echo /etc/lttng-rs/privd.conf >"$stage/DEBIAN/conffiles"
for s in preinst postinst prerm postrm; do
	sed "s|@DIVERTED@|$diverted|" "scripts/deb/$s" >"$stage/DEBIAN/$s"
	chmod 0755 "$stage/DEBIAN/$s"
done
installed_kb=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
echo "Installed-Size: $installed_kb" >>"$stage/DEBIAN/control"

mkdir -p "$out"
deb="$out/lttng-rs_${version}_amd64.deb"
# Debug builds (tests) are large and short-lived: fast compression for them.
compress=$([ "$profile" = release ] && echo "-Zxz" || echo "-Zgzip -z1")
dpkg-deb --root-owner-group $compress --build "$stage" "$deb" >/dev/null
echo "$deb"
