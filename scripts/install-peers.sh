#!/usr/bin/env bash
# Installs the peers caplet-bench measures caplet against, from the package
# registries only, so anyone can reproduce BENCHMARKS.md:
#   - workerd (Cloudflare's runtime, whose Worker Loader is the peer for
#     dynamic workers): the npm `workerd` package (a prebuilt binary), into
#     bench/peers/ (git-ignored); caplet-bench finds
#     bench/peers/node_modules/@cloudflare/workerd-linux-64/bin/workerd.
#   - Deno (the V8-isolate peer): the `@deno/linux-x64-glibc` npm package,
#     installed into bench/peers/ (git-ignored); caplet-bench finds
#     bench/peers/node_modules/@deno/linux-x64-glibc/deno.
#   - bubblewrap (the container-style sandbox peer): Debian's `bubblewrap`.
# fork+exec of /bin/true needs nothing.
#
# Usage: scripts/install-peers.sh          (apt-get needs root)
# A peer that fails to install is reported and skipped; caplet-bench then
# prints it as missing.
set -u

root="$(cd "$(dirname "$0")/.." && pwd)"
peers="$root/bench/peers"
status=0

echo "== deno (npm @deno/linux-x64-glibc) and workerd (npm workerd) into $peers"
mkdir -p "$peers"
if command -v npm >/dev/null; then
    # One npm install for both: a second one would prune the first package.
    # workerd's postinstall only re-links the platform binary, which npm
    # already put in @cloudflare/workerd-<platform>.
    if (cd "$peers" && npm install --no-save --no-audit --no-fund --prefix "$peers" @deno/linux-x64-glibc workerd); then
        deno="$peers/node_modules/@deno/linux-x64-glibc/deno"
        chmod +x "$deno" 2>/dev/null || true
        "$deno" --version || { echo "deno installed but does not run"; status=1; }
        workerd="$peers/node_modules/@cloudflare/workerd-linux-64/bin/workerd"
        [ -x "$workerd" ] || workerd="$peers/node_modules/workerd/bin/workerd"
        "$workerd" --version || { echo "workerd installed but does not run"; status=1; }
    else
        echo "npm install of @deno/linux-x64-glibc and workerd failed"; status=1
    fi
else
    echo "npm not found: install Node.js and npm (Debian: apt-get install npm) for the Deno and workerd peers"; status=1
fi

echo "== bubblewrap (apt)"
if command -v bwrap >/dev/null; then
    bwrap --version
elif command -v apt-get >/dev/null; then
    sudo_=""
    [ "$(id -u)" -ne 0 ] && sudo_="sudo"
    if $sudo_ apt-get install -y bubblewrap || { $sudo_ apt-get update && $sudo_ apt-get install -y bubblewrap; }; then
        bwrap --version
    else
        echo "apt-get install bubblewrap failed"; status=1
    fi
else
    echo "apt-get not found: install bubblewrap with your package manager"; status=1
fi

exit $status
