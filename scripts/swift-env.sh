# Sourced by the scripts: puts the Swift toolchain on PATH when a non-login shell (CI) lacks it.
if ! command -v swift >/dev/null 2>&1; then
    for candidate in /opt/swift/usr/bin /usr/share/swift/usr/bin; do
        if [[ -x $candidate/swift ]]; then export PATH=$candidate:$PATH; break; fi
    done
fi
command -v swift >/dev/null 2>&1 || { echo "swift toolchain not found (expected /opt/swift/usr/bin)" >&2; exit 1; }
