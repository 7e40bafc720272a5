#!/usr/bin/env bash
# The demo: on a fresh Debian 12 machine, install what triage needs, build it, make a real core
# (a proxy whose TLS handshake reaches a Kerberos-like library that calls abort() itself) and analyze it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh >/dev/null
npm run -s build
# The test suite's crasher harness compiles the program, strips it, splits its debuginfo and crashes it.
read -r core debugdir < <(node -e '
  const { crash } = require("./dist/test/support/crashers.js");
  const c = crash("library-abort");
  console.log(c.core, c.debugDir);
')
echo "\$ triage analyze $core --debuginfo-dir $debugdir"
node dist/cli/main.js analyze "$core" --debuginfo-dir "$debugdir"
