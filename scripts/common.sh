# Shared by scripts/test and .ci/run: a log line, and installing a Debian package when its
# command is missing (apt-get update once, first).
log() { printf '\n== %s\n' "$*"; }

apt_updated=0
need_pkg() { # need_pkg COMMAND PACKAGE...
  command -v "$1" >/dev/null 2>&1 && return 0
  shift
  if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
