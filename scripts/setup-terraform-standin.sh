#!/usr/bin/env bash
# Sets up the stand-in Terraform providers (../shared/tools/terraform-standin, beside the project): they
# serve the real schemas of hashicorp/google, hashicorp/azurerm and hashicorp/aws over Terraform's plugin
# protocol, so that tests/terraform can run `terraform validate` and `terraform plan` of every module and
# layout offline. They need the PyPI package tf in an interpreter: a virtualenv of its own in .servers/.
#
#   .servers/terraform-standin/       the provider mirror (all three stand-ins)
#   .servers/terraform-standin.tfrc   its Terraform CLI configuration
#
# Without ../shared/tools/terraform-standin the Terraform plan tests skip, saying why; where
# REQUIRE_LOCAL_SERVERS is set (CI), that is an error.
set -euo pipefail
cd "$(dirname "$0")/.."
TF_PACKAGE_VERSION=1.2.0
standin=../shared/tools/terraform-standin
if [ ! -x "$standin/setup.sh" ]; then
  msg="the stand-in Terraform providers are not in $standin (beside the project)"
  if [ -n "${REQUIRE_LOCAL_SERVERS:-}" ] && [ "${REQUIRE_LOCAL_SERVERS}" != 0 ]; then
    echo "error: $msg" >&2
    exit 1
  fi
  echo "note: $msg; the Terraform validate and plan tests will skip." >&2
  exit 0
fi
venv=.servers/terraform-standin-python
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import tf.gen, grpc, msgpack' 2>/dev/null; then
  echo "==> installing tf==${TF_PACKAGE_VERSION} into $venv for the stand-in providers (first run only)"
  rm -rf "$venv"
  scripts/python-venv.sh "$venv" "tf==${TF_PACKAGE_VERSION}"
fi
# The mirror holds absolute paths: rebuilt here whenever the stand-ins or this checkout move.
mirror="$PWD/.servers/terraform-standin"
stamp="$mirror/.built-from"
want="$PWD $(cd "$standin" && pwd) $(cksum "$standin"/schemas/* "$standin"/mockprov.py | cksum)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ ! -f "$mirror.tfrc" ]; then
  echo "==> building the stand-in provider mirror in $mirror"
  "$standin/setup.sh" "$mirror" "$PWD/$venv/bin/python" >/dev/null
  echo "$want" >"$stamp"
fi
