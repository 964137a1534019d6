# shellcheck shell=bash
#
# base: the images local/debian:bookworm and local/python:3.11-bookworm (the same plus Debian's
# python3 and python3-venv, for the app), made without any registry pull: debootstrap a minbase
# bookworm from the mirror this machine's apt uses, cache it as a tarball, `docker import` it.

BASE_IMAGE=local/debian:bookworm
BASE_TAR=$CACHE_DIR/base/debian-bookworm-minbase.tar
PYTHON_IMAGE=local/python:3.11-bookworm
PYTHON_TAR=$CACHE_DIR/base/debian-bookworm-python3.tar
BASE_ROOTFS=

base_packages() { echo debootstrap docker.io; }
base_where() { echo "$BASE_IMAGE, $PYTHON_IMAGE"; }
base_ready() { docker image inspect "$BASE_IMAGE" "$PYTHON_IMAGE" >/dev/null 2>&1; }

# debian_mirror: EKSKIT_DEBIAN_MIRROR, else the first enabled apt source for bookworm (one-line
# .list files and deb822 .sources files), else deb.debian.org.
debian_mirror() {
  local f uri=
  if [[ -n ${EKSKIT_DEBIAN_MIRROR:-} ]]; then
    echo "$EKSKIT_DEBIAN_MIRROR"
    return
  fi
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    uri=$(awk '$1 == "deb" {
        i = 2; if ($i ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
        if ($(i + 1) == "bookworm" && $i ~ /^(https?|file):/) { print $i; exit }
      }' "$f")
    [[ -z $uri ]] || break
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -z $uri && -f $f ]] || continue
    uri=$(awk 'BEGIN { RS = ""; FS = "\n" }
      {
        types = ""; uris = ""; suites = ""; enabled = "yes"
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^[ \t]*#/ || !match($i, /^[A-Za-z-]+:/)) continue
          key = tolower(substr($i, 1, RLENGTH - 1)); val = " " substr($i, RLENGTH + 1) " "
          if (key == "types") types = val; else if (key == "uris") uris = val
          else if (key == "suites") suites = val; else if (key == "enabled") enabled = val
        }
        if (enabled ~ /no/ || types !~ /[ \t]deb[ \t]/ || suites !~ /[ \t]bookworm[ \t]/) next
        n = split(uris, u, /[ \t]+/)
        for (k = 1; k <= n; k++) if (u[k] ~ /^(https?|file):/) { print u[k]; exit }
      }' "$f")
  done
  echo "${uri:-http://deb.debian.org/debian}"
}

# base_cleanup: unmount whatever debootstrap left mounted in the rootfs, then delete it.
base_cleanup() {
  [[ -n $BASE_ROOTFS && -d $BASE_ROOTFS ]] || return 0
  local m
  awk -v r="$BASE_ROOTFS/" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r |
    while read -r m; do umount -l "$m" || true; done
  rm -rf --one-file-system "$BASE_ROOTFS"
  BASE_ROOTFS=
}

# base_debootstrap TAR [PACKAGES]: a minbase bookworm (plus PACKAGES, comma-separated) as TAR.
base_debootstrap() {
  local tar=$1 include=${2:-} mirror
  mirror=$(debian_mirror)
  mkdir -p "${tar%/*}" "$LOG_DIR"
  BASE_ROOTFS=$(mktemp -d "${tar%/*}/rootfs.XXXXXX")
  trap base_cleanup EXIT
  log "base: debootstrap --variant=minbase bookworm ${include:+with $include }from $mirror (about 30 s)"
  if ! debootstrap --variant=minbase ${include:+--include="$include"} bookworm "$BASE_ROOTFS" "$mirror" \
    >"$LOG_DIR/base.log" 2>&1; then
    log "base: debootstrap failed; last lines of $LOG_DIR/base.log:"
    tail -n 25 "$LOG_DIR/base.log" >&2
    exit 1
  fi
  rm -rf "$BASE_ROOTFS"/var/cache/apt/archives/*.deb "$BASE_ROOTFS"/var/lib/apt/lists/*_Packages
  tar --numeric-owner -C "$BASE_ROOTFS" -cf "$tar.partial" .
  mv -f "$tar.partial" "$tar"
  base_cleanup
  trap - EXIT
}

base_up() {
  [[ -s $BASE_TAR ]] || base_debootstrap "$BASE_TAR"
  [[ -s $PYTHON_TAR ]] || base_debootstrap "$PYTHON_TAR" python3,python3-venv,ca-certificates
  log "base: docker import $BASE_TAR as $BASE_IMAGE, $PYTHON_TAR as $PYTHON_IMAGE"
  docker import --change 'CMD ["/bin/bash"]' "$BASE_TAR" "$BASE_IMAGE" >/dev/null
  docker import --change 'CMD ["python3"]' "$PYTHON_TAR" "$PYTHON_IMAGE" >/dev/null
  docker run --rm "$PYTHON_IMAGE" python3 -c '' ||
    die "base: 'docker run --rm $PYTHON_IMAGE python3' failed: the engine cannot run containers"
}
