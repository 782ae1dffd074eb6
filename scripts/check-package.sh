#!/usr/bin/env bash
# npm run check:package — the package as users get it:
#   1. build, `npm pack`, and check the tarball ships only dist/ (no source
#      maps, and no sourceMappingURL comments pointing at missing ones), docs/,
#      the examples, the benchmark notes and figures the README links to,
#      README.md, CHANGELOG.md, LICENSE and package.json, and that every
#      relative link of its Markdown reaches a file it ships;
#   2. install the tarball into a fresh project (offline: it has no
#      dependencies) and check `require('mwsr')` and `import … from 'mwsr'`
#      give the same classes, then run scripts/smoke-package.js there;
#   3. publint (strict: warnings fail) and @arethetypeswrong/cli on the tarball.
# Extra Node versions for step 2's smoke test: MWSR_SMOKE_NODES="18 22 24"
# runs it under `npx -y node@<v>` too (needs the `node` package from the registry).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d "${TMPDIR:-/tmp}/mwsr-check-package.XXXXXX")
trap 'rm -rf "$work"' EXIT

step() { printf '\n== %s\n' "$*"; }
fail() {
  echo "check:package FAILED: $*" >&2
  exit 1
}

step 'build and pack'
# npm pack runs the prepack script, which builds dist/ afresh.
tarball=$(npm pack --silent --pack-destination "$work" | tail -1)
tarball="$work/$tarball"
echo "$tarball"

step 'tarball contents'
contents=$(tar -tzf "$tarball" | sed 's|^package/||' | sort)
echo "$contents"
unexpected=$(echo "$contents" | grep -vE '^(dist/([a-z-]+/)?[a-z-]+\.(js|d\.ts)|docs/([a-z-]+/)*[A-Za-z-]+\.md|examples/[a-z-]+\.ts|bench/README\.md|bench/results/(latest|instructions)\.md|bench/results/(latest|latency)\.svg|README\.md|CHANGELOG\.md|LICENSE|package\.json)$' || true)
[[ -z $unexpected ]] || fail "unexpected files in the tarball: $unexpected"
for needed in dist/index.js dist/index.d.ts docs/semantics.md README.md CHANGELOG.md LICENSE package.json; do
  echo "$contents" | grep -qxF "$needed" || fail "$needed missing from the tarball"
done

step 'links'
# Every relative link of the shipped Markdown reaches a shipped file: the
# README's examples and figures work from node_modules/mwsr too.
CONTENTS="$contents" node -e '
  const { readFileSync } = require("node:fs");
  const { posix } = require("node:path");
  const shipped = new Set(process.env.CONTENTS.split("\n"));
  const broken = [];
  for (const page of [...shipped].filter((file) => file.endsWith(".md"))) {
    for (const [, target] of readFileSync(page, "utf8").matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target) || target.startsWith("#")) continue;
      const file = posix.normalize(posix.join(posix.dirname(page), target.split("#")[0]));
      const found = shipped.has(file) || [...shipped].some((name) => name.startsWith(`${file.replace(/\/$/, "")}/`));
      if (!found) broken.push(`${page}: ${target}`);
    }
  }
  if (broken.length > 0) {
    console.error(broken.join("\n"));
    process.exit(1);
  }
  console.log("every relative link of the shipped Markdown reaches a shipped file");
' || fail "links to files the tarball does not ship"

step 'source maps'
mapped=$(tar -xzOf "$tarball" --wildcards 'package/dist/*' | grep -c 'sourceMappingURL' || true)
[[ $mapped -eq 0 ]] || fail "$mapped sourceMappingURL comment(s) in dist/, whose maps are not shipped"
echo "no sourceMappingURL comments in dist/"

step 'install into a fresh project'
app="$work/app"
mkdir "$app"
(
  cd "$app"
  npm init -y >/dev/null
  npm install --no-audit --no-fund --no-package-lock --offline "$tarball" >/dev/null
)
echo "installed $(node -p "require('$app/node_modules/mwsr/package.json').version") into $app"

step "require('mwsr') and import from 'mwsr'"
(
  cd "$app"
  node -e "
    const m = require('mwsr');
    const { Writable, Transform } = require('node:stream');
    if (!(new m.BatchingWritable({ size: 1, onBatch() {} }) instanceof Writable)) throw new Error('not a Writable');
    if (!(new m.AsyncBatchStream({ size: 1 }) instanceof Transform)) throw new Error('not a Transform');
    console.log('require: ' + Object.keys(m).sort().join(', '));
  "
  node --input-type=module -e "
    import { BatchingWritable, AsyncBatchStream, WorkerChannel, WorkerWritable } from 'mwsr';
    import * as namespace from 'mwsr';
    import { createRequire } from 'node:module';
    const required = createRequire(import.meta.url)('mwsr');
    const same = required.BatchingWritable === BatchingWritable && required.AsyncBatchStream === AsyncBatchStream
      && required.WorkerChannel === WorkerChannel && required.WorkerWritable === WorkerWritable;
    if (!same) throw new Error('import and require give different classes');
    console.log('import: same classes as require; namespace: ' + Object.keys(namespace).sort().join(', '));
  "
)

step 'smoke test of the installed package'
cp scripts/smoke-package.js "$app/smoke.js"
(cd "$app" && node smoke.js)
for version in ${MWSR_SMOKE_NODES:-}; do
  (cd "$app" && npx -y "node@$version" smoke.js)
done

step 'publint'
npx --no-install publint --strict "$root"

step 'arethetypeswrong'
npx --no-install attw "$tarball"

printf '\ncheck:package passed\n'
