#!/usr/bin/env bash
# check-package.sh: checks the npm package as a consumer sees it.
#
#  1. builds and packs the library into a temporary directory, checks the file list (every
#     `exports` target and bin is there; no tests, sources, maps, docs or demo server);
#  2. walks the static imports of every subpath from the packed files and fails when a subpath
#     needs a runtime package it should not (`.` and ./memory: only xstate and zod; ./sqlite
#     better-sqlite3; ./http express; ./postgres pg; ./visual @xstate/graph; ./queue/nats @nats-io/*);
#  3. two scratch consumer projects outside the repository (`"type": "module"`, strict tsconfigs,
#     one NodeNext, one Bundler, skipLibCheck false) install the tarball and the peers, type-check
#     a consumer importing types and values from EVERY subpath with the repository's tsc, and run
#     it: a GUEST batch through the `nlp` pipeline on ./sqlite in memory, over ./http and ./queue;
#     the installed bins must answer --help;
#  4. a third project installs ONLY the tarball, xstate and zod (the pure machines), type-checks
#     without @types/node and runs; its node_modules size is printed; there the bins, without
#     their drivers, must name the package to install (exit 1) instead of a stack trace;
#  5. publint (--strict) and @arethetypeswrong/cli (profile esm-only: the package is ESM only)
#     on the tarball.
#
# Usage: bash scripts/check-package.sh            (npm run test:package)
#   KEEP_WORK=1           keep the temporary directory and print its path
#   FULL_INSTALL=1        install as a user would: better-sqlite3 (latest in its peer range) compiled by
#                         its install script, and the second consumer installed from scratch too
#                         (otherwise: the repository's compiled better-sqlite3 is reused as a local
#                         prebuild, and consumer B starts from a copy of consumer A's installed tree)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TSC="$REPO/node_modules/.bin/tsc"
TSX="$REPO/node_modules/.bin/tsx"
PUBLINT="$REPO/node_modules/.bin/publint"
ATTW="$REPO/node_modules/.bin/attw"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/elc-check-package.XXXXXX")"
STARTED=$SECONDS
cleanup() {
  if [[ "${KEEP_WORK:-}" == 1 ]]; then echo "(kept $WORK)"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
export npm_config_loglevel=error
# Compile better-sqlite3 (when no prebuilt binary can be downloaded) on every core.
export JOBS=max npm_config_jobs=max

step() { printf '\n== %s (%ss)\n' "$*" "$((SECONDS - STARTED))"; }
fail() { printf 'check-package: FAIL: %s\n' "$*" >&2; exit 1; }
for tool in "$TSC" "$TSX" "$PUBLINT" "$ATTW"; do
  [[ -x "$tool" ]] || fail "$tool is missing: run npm ci in $REPO"
done

# ------------------------------------------------------------------------------------------------
step "build"
(cd "$REPO" && npm run --silent build)

step "pack"
mkdir -p "$WORK/pack"
(cd "$REPO" && npm pack --ignore-scripts --json --pack-destination "$WORK/pack" >"$WORK/pack.json")
TARBALL="$(ls "$WORK"/pack/*.tgz)"
mkdir -p "$WORK/unpacked"
tar -xzf "$TARBALL" -C "$WORK/unpacked"
PKG="$WORK/unpacked/package"

node - "$WORK/pack.json" "$PKG" <<'EOF'
// The file list: every exports target and bin is packed; nothing that is not needed is.
const { readFileSync, existsSync } = require('node:fs');
const { join } = require('node:path');
const [packJson, pkgDir] = process.argv.slice(2);
const [pack] = JSON.parse(readFileSync(packJson, 'utf8'));
const files = pack.files.map((f) => f.path);
const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
const problems = [];
const need = (path, why) => {
  const rel = path.replace(/^\.\//, '');
  if (!files.includes(rel) || !existsSync(join(pkgDir, rel))) problems.push(`missing ${rel} (${why})`);
};
for (const [subpath, target] of Object.entries(pkg.exports)) {
  if (typeof target === 'string') need(target, subpath);
  else {
    const keys = Object.keys(target);
    if (keys[0] !== 'types') problems.push(`exports["${subpath}"]: "types" must be the first condition`);
    for (const [condition, path] of Object.entries(target)) need(path, `exports["${subpath}"].${condition}`);
  }
}
for (const [name, path] of Object.entries(pkg.bin ?? {})) {
  need(path, `bin ${name}`);
  if (!readFileSync(join(pkgDir, path), 'utf8').startsWith('#!/usr/bin/env node')) problems.push(`bin ${name}: no "#!/usr/bin/env node" line`);
}
need(pkg.main, 'main');
need(pkg.types, 'types');
const forbidden = [
  [/^(test|docs|examples|server|scripts|machines|adapters|coverage|data)\//, 'source or repository folder'],
  [/\.map$/, 'source map'],
  [/^dist\/(server|test)\//, 'demo server or tests'],
  [/^dist\/scripts\/bench/, 'benchmark'],
  [/(^|\/)[^/]+\.ts$/, 'TypeScript source'],
  [/\.(tsbuildinfo|db|db-wal|db-shm|tgz|log)$/, 'build or runtime artefact'],
];
for (const file of files) {
  if (file.endsWith('.d.ts')) continue;
  for (const [pattern, what] of forbidden) if (pattern.test(file)) problems.push(`${file}: ${what} should not be packed`);
}
if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`${files.length} files; every exports target and bin present; no tests, sources, maps, docs or demo server`);
EOF

step "runtime imports of every subpath (static import graph of the packed files)"
node - "$PKG" <<'EOF'
// Follows the static `import`/`export ... from` of the packed JavaScript from each entry point
// (dynamic import() is not followed: it loads only when used) and compares the bare packages
// reached with what the subpath may need.
const { readFileSync } = require('node:fs');
const { dirname, resolve, relative } = require('node:path');
const root = process.argv[2];
const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8'));
const base = ['xstate', 'zod'];
const allowed = {
  '.': base,
  './memory': base,
  './sqlite': [...base, 'better-sqlite3'],
  './http': [...base, 'express', 'express-rate-limit', 'pino'],
  './postgres': [...base, 'pg'],
  './visual': [...base, '@xstate/graph'],
  './queue': [...base, 'better-sqlite3'],
  './queue/nats': [...base, '@nats-io/jetstream', '@nats-io/transport-node'],
};
// Known and reported, tolerated until fixed (the script says when one disappears).
const known = {};
const staticImport = /(?:^|[;\n}])\s*(?:import|export)\s+(?:type\s+)?(?:[\w$*{}\s,]+?\s+from\s+)?['"]([^'"\n]+)['"]/g;
const packageOf = (spec) => (spec.startsWith('@') ? spec.split('/').slice(0, 2) : spec.split('/').slice(0, 1)).join('/');
function reach(entry) {
  const seen = new Set();
  const bare = new Map();
  const walk = (file, chain) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const match of readFileSync(file, 'utf8').matchAll(staticImport)) {
      const spec = match[1];
      if (spec.startsWith('.')) walk(resolve(dirname(file), spec), [...chain, relative(root, file)]);
      else if (!spec.startsWith('node:')) {
        const name = packageOf(spec);
        if (!bare.has(name)) bare.set(name, [...chain, relative(root, file)].join(' -> '));
      }
    }
  };
  walk(resolve(root, entry), []);
  return bare;
}
let failed = false;
for (const [subpath, target] of Object.entries(pkg.exports)) {
  if (subpath === './package.json') continue;
  const bare = reach(target.default);
  const ok = allowed[subpath];
  if (ok === undefined) {
    console.error(`${subpath}: no allowlist in check-package.sh; add one`);
    failed = true;
    continue;
  }
  const line = [];
  for (const [name, chain] of bare) {
    if (ok.includes(name)) line.push(name);
    else if (known[subpath]?.[name] !== undefined) {
      line.push(`${name} (KNOWN ISSUE)`);
      console.log(`  known issue: ${subpath} needs ${name} at import time: ${chain}\n    fix: ${known[subpath][name]}`);
    } else {
      console.error(`  ${subpath} needs ${name} at import time: ${chain}`);
      line.push(`${name} (NOT ALLOWED)`);
      failed = true;
    }
  }
  for (const name of Object.keys(known[subpath] ?? {})) {
    if (!bare.has(name)) console.log(`  ${subpath} no longer needs ${name}: remove it from "known" in check-package.sh`);
  }
  console.log(`${subpath.padEnd(13)} ${line.join(', ') || '(nothing)'}`);
}
// Bins, for information (the scan also sees the import lines of the test files gen-tests writes,
// so only packages the manifest declares are listed).
const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})]);
for (const [name, path] of Object.entries(pkg.bin ?? {})) {
  console.log(`bin ${name.padEnd(20)} ${[...reach(path).keys()].filter((n) => declared.has(n)).join(', ')}`);
}
if (failed) process.exit(1);
EOF

# ------------------------------------------------------------------------------------------------
# The scratch consumers.

# Version ranges: peers from the package's peerDependencies, @types from the repo's devDependencies.
range() { node -e 'const p=require(process.argv[1]);const n=process.argv[2];const r=(p.peerDependencies??{})[n]??(p.devDependencies??{})[n]??(p.dependencies??{})[n];if(!r)process.exit(1);console.log(`${n}@${r}`)' "$REPO/package.json" "$1"; }
PEERS=(xstate zod better-sqlite3 express express-rate-limit pino swagger-ui-dist pg @viz-js/viz @xstate/graph @nats-io/jetstream @nats-io/transport-node)
TYPES=(@types/node @types/better-sqlite3 @types/express @types/pg)
SPECS=()
for name in "${PEERS[@]}" "${TYPES[@]}"; do SPECS+=("$(range "$name")"); done

# better-sqlite3 has no prebuilt binary to download here (no route to GitHub), so its install
# script compiles SQLite (about a minute). Unless FULL_INSTALL=1: when the repository's installed
# better-sqlite3 satisfies the peer range, install that same version and hand its compiled module
# to prebuild-install as a local prebuild (the npm_config_<pkg>_local_prebuilds directory).
LOCAL_PREBUILD_NOTE="compiled by its install script"
if [[ "${FULL_INSTALL:-}" != 1 ]]; then
  PREBUILD="$(cd "$REPO" && node -e '
    const { existsSync } = require("node:fs");
    const semver = require("semver");
    const repo = require("./package.json");
    const { version } = require("better-sqlite3/package.json");
    const binary = "node_modules/better-sqlite3/build/Release/better_sqlite3.node";
    if (!existsSync(binary) || !semver.satisfies(version, repo.peerDependencies["better-sqlite3"])) process.exit(0);
    console.log(`${version} better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`);
  ' 2>/dev/null || true)"
  if [[ -n "$PREBUILD" ]]; then
    read -r BSQL_VERSION PREBUILD_FILE <<<"$PREBUILD"
    mkdir -p "$WORK/prebuilds"
    tar -czf "$WORK/prebuilds/$PREBUILD_FILE" -C "$REPO/node_modules/better-sqlite3" build/Release/better_sqlite3.node
    export npm_config_better_sqlite3_local_prebuilds="$WORK/prebuilds"
    for i in "${!SPECS[@]}"; do [[ "${SPECS[$i]}" == better-sqlite3@* ]] && SPECS[$i]="better-sqlite3@$BSQL_VERSION"; done
    LOCAL_PREBUILD_NOTE="$BSQL_VERSION, the repository's compiled module as a local prebuild (FULL_INSTALL=1 compiles)"
  fi
fi

# new_project DIR: npm init -y, "type": "module", and the repo's allowScripts (better-sqlite3 may
# run its install script: it downloads or compiles its native module).
new_project() {
  mkdir -p "$1"
  (cd "$1" && npm init -y >/dev/null)
  node -e '
    const fs = require("node:fs");
    const [file, repoPkg, name] = process.argv.slice(1);
    const pkg = JSON.parse(fs.readFileSync(file, "utf8"));
    const repo = JSON.parse(fs.readFileSync(repoPkg, "utf8"));
    Object.assign(pkg, { name, private: true, type: "module" });
    if (repo.allowScripts) pkg.allowScripts = repo.allowScripts;
    fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + "\n");
  ' "$1/package.json" "$REPO/package.json" "$(basename "$1")"
}

# tsconfig FILE MODULE RESOLUTION EMIT(true|false) TYPES(json array)
write_tsconfig() {
  node -e '
    const [file, module, resolution, emit, types] = process.argv.slice(1);
    const compilerOptions = {
      target: "ES2022", lib: ["ES2023"], module, moduleResolution: resolution, types: JSON.parse(types),
      strict: true, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, noImplicitOverride: true,
      noImplicitReturns: true, noFallthroughCasesInSwitch: true, isolatedModules: true, verbatimModuleSyntax: true,
      esModuleInterop: true, forceConsistentCasingInFileNames: true, skipLibCheck: false,
      ...(emit === "true" ? { outDir: "out", rootDir: "." } : { noEmit: true }),
    };
    require("node:fs").writeFileSync(file, JSON.stringify({ compilerOptions, include: ["*.ts"] }, null, 2) + "\n");
  ' "$@"
}

write_consumer() {
  cat >"$1" <<'EOF'
/**
 * A consumer of every public subpath of essay-lifecycle-statecharts, written as an npm user
 * writes it: a GUEST batch through the `nlp` pipeline on ./sqlite in memory, with one event
 * through ./queue, a read over ./http, ./memory, ./visual, ./postgres and ./queue/nats.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { pino } from 'pino';
import {
  BATCH_MACHINE_VERSION,
  LifecycleEngine,
  LifecycleError,
  LifecycleEvents,
  LifecycleQueries,
  PIPELINE_PHASES,
  batchMachine,
  defaultMachines,
  isLifecycleError,
  relayOutboxOnce,
  type DispatchResult,
  type EntityView,
  type MachineRegistry,
  type OutboxRecord,
  type SnapshotStore,
} from 'essay-lifecycle-statecharts';
import { createMemoryStore, type MemoryStoreOptions } from 'essay-lifecycle-statecharts/memory';
import { openSqliteStore, sqliteMigrations, SqliteStore, type SqliteStoreOptions } from 'essay-lifecycle-statecharts/sqlite';
import { createLifecycleRouter, DEFAULT_LIMITS, type Authenticator, type Principal } from 'essay-lifecycle-statecharts/http';
import { openPostgresStore, postgresMigrations, type PostgresStoreOptions } from 'essay-lifecycle-statecharts/postgres';
import { machineDefinition, renderSvg, toMermaid, type MachineGraph } from 'essay-lifecycle-statecharts/visual';
import { drainOnce, EmbeddedQueue, partitionOf, type DrainReport } from 'essay-lifecycle-statecharts/queue';
import { DEFAULT_DURABLE, partitionConsumerName, subjectOf, type NatsWorkerOptions } from 'essay-lifecycle-statecharts/queue/nats';

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new Error(`consumer check failed: ${what}`);
}

const BATCH = 'guest-batch-1';
const ESSAYS = ['essay-1', 'essay-2'] as const;
const CORRELATION = randomUUID();
const envelope = (event_type: string, data: Record<string, unknown>) => ({
  event_id: randomUUID(),
  event_type,
  event_timestamp: new Date().toISOString(),
  source_service: 'package-check',
  correlation_id: CORRELATION,
  data,
});

// ./sqlite in memory, the engine and its read side.
const options: SqliteStoreOptions = { path: ':memory:' };
const store: SnapshotStore = openSqliteStore(options);
check(store instanceof SqliteStore && sqliteMigrations.length > 0, './sqlite store and migrations');
const machines: MachineRegistry = defaultMachines();
const engine = new LifecycleEngine({ store, machines });
const queries = new LifecycleQueries(store);

// 1. Registration (no class_id: GUEST, with a prompt so nlp can run) through the embedded queue.
const queue = new EmbeddedQueue(store as SqliteStore);
await queue.enqueue([
  envelope(LifecycleEvents.BatchEssaysRegistered.topic, {
    entity_id: BATCH, expected_essay_count: ESSAYS.length, essay_ids: [...ESSAYS],
    course_code: 'ENG5', user_id: 'teacher-1', student_prompt_ref: 'prompt-1',
  }),
]);
const drained: DrainReport = await drainOnce(engine, queue);
check(drained.accepted === 1 && drained.atomic, `registration drained atomically (${JSON.stringify(drained)})`);

// 2. Content for both essays in one group commit.
const contents = await engine.dispatchMany(
  ESSAYS.map((_, index) =>
    envelope('huleedu.file.essay.content.provisioned.v1', {
      entity_id: BATCH, file_upload_id: `upload-${index}`, original_file_name: `essay-${index}.docx`,
      raw_file_storage_id: `raw-${index}`, text_storage_id: `text-${index}`, file_size_bytes: 1234,
    }),
  ),
);
check(contents.every((r) => r.outcome === 'accepted'), 'content accepted');
check((await queries.entity('batch', BATCH))?.status === 'ready_for_pipeline_execution', 'GUEST batch ready after content');

// 3. The nlp pipeline: spellcheck first.
const request: DispatchResult = await engine.dispatch(
  envelope('huleedu.commands.batch.pipeline.v1', { batch_id: BATCH, requested_pipeline: 'nlp', user_id: 'teacher-1' }),
);
check(request.outcome === 'accepted' && request.to === 'processing_pipelines', `pipeline accepted (${request.outcome} ${request.to ?? ''})`);

// 4. Spellcheck results, 5. the nlp result.
for (const essay of ESSAYS) {
  const result = await engine.dispatch(
    envelope('huleedu.batch.spellcheck.phase.completed.v1', {
      entity_id: essay, batch_id: BATCH, status: 'completed', corrected_text_storage_id: `corrected-${essay}`, processing_duration_ms: 10,
    }),
  );
  check(result.outcome === 'accepted', `spellcheck result of ${essay} accepted`);
}
const nlpResult = envelope('huleedu.batch.nlp.analysis.completed.v1', {
  batch_id: BATCH, processing_summary: { successful_essay_ids: [...ESSAYS], failed_essay_ids: [] },
});
const nlp = await engine.dispatch(nlpResult);
check(nlp.emitted.some((e) => e.event_type === LifecycleEvents.BatchPipelineCompletedV1.topic), 'nlp result emits BatchPipelineCompletedV1');

// The outbox holds BatchPipelineCompletedV1 and the batch is back to ready.
const outbox: OutboxRecord[] = await store.pendingOutbox(1000);
const completed = outbox.find((row) => row.event_type === LifecycleEvents.BatchPipelineCompletedV1.topic);
const completedData = (completed?.envelope as { data?: { final_status?: string; completed_phases?: string[] } } | undefined)?.data;
check(completedData?.final_status === 'completed_successfully', 'BatchPipelineCompletedV1 in the outbox, completed_successfully');
check(JSON.stringify(completedData.completed_phases) === JSON.stringify(['spellcheck', 'nlp']), 'completed phases spellcheck, nlp');
const batch: EntityView | undefined = await queries.entity('batch', BATCH);
check(batch?.status === 'ready_for_pipeline_execution', `batch back to ready (${batch?.status ?? 'missing'})`);
const essays = await queries.essaysOf(BATCH);
check(essays.length === 2 && essays.every((e) => e.status === 'nlp_success'), 'essays nlp_success');

// The same event again is a duplicate; bad input is a LifecycleError and writes nothing.
check((await engine.dispatch(nlpResult)).outcome === 'duplicate', 'redelivery answers duplicate');
const refusedInput: unknown = await engine.dispatch({ ...nlpResult, event_type: 'huleedu.no.such.event.v1' }).catch((error: unknown) => error);
check(refusedInput instanceof LifecycleError && isLifecycleError(refusedInput, 'UNKNOWN_EVENT_TYPE'), 'unknown event type throws UNKNOWN_EVENT_TYPE');

// Relay the outbox to a publisher of our own.
const published: string[] = [];
const publish = (rows: readonly OutboxRecord[]): Promise<void> => {
  published.push(...rows.map((row) => row.event_type));
  return Promise.resolve();
};
while ((await relayOutboxOnce(store, publish)) > 0);
check(published.length === outbox.length && (await store.outboxCount({ published: false })) === 0, 'outbox relayed');

// ./http: the router mounted under a prefix in the host's express app, with its own authenticate.
const teacher: Principal = { user_id: 'teacher-1', org_id: null, roles: [], kind: 'user' };
const authenticate: Authenticator = (req) => (req.headers['x-user'] === 'teacher-1' ? teacher : undefined);
const app = express();
app.use('/lifecycle', createLifecycleRouter({ engine, queries, logger: pino({ level: 'silent' }), authenticate, limits: { ...DEFAULT_LIMITS } }));
const server: Server = app.listen(0, '127.0.0.1');
await once(server, 'listening');
const { port } = server.address() as AddressInfo;
const answer = await fetch(`http://127.0.0.1:${port}/lifecycle/batches/${BATCH}`, { headers: { 'x-user': 'teacher-1' } });
const body = (await answer.json()) as { batch_id?: string; status?: string };
const anonymous = await fetch(`http://127.0.0.1:${port}/lifecycle/batches/${BATCH}`);
server.close();
check(answer.status === 200 && body.status === 'ready_for_pipeline_execution', `GET /lifecycle/batches/:id (${answer.status})`);
check(anonymous.status === 401, `anonymous read refused (${anonymous.status})`);

// ./memory
const memoryOptions: MemoryStoreOptions = { now: () => new Date('2026-01-01T00:00:00.000Z') };
const memory = createMemoryStore(memoryOptions);
const onMemory = await new LifecycleEngine({ store: memory }).dispatch(
  envelope(LifecycleEvents.BatchEssaysRegistered.topic, { entity_id: 'm-1', expected_essay_count: 1, essay_ids: ['m-e1'], course_code: 'ENG5', user_id: 'u-1' }),
);
check(onMemory.outcome === 'accepted', './memory store');

// ./visual
const mermaid = toMermaid(batchMachine);
const definition = machineDefinition(batchMachine);
const svg = await renderSvg(batchMachine, { active: ['ready_for_pipeline_execution'] });
const graphType: MachineGraph | undefined = undefined;
check(mermaid.includes('stateDiagram') && typeof definition === 'object' && svg.includes('<svg') && graphType === undefined, './visual');

// ./postgres (not connected: types and values only)
const pgOptions: PostgresStoreOptions = { connectionString: 'postgres://lifecycle@127.0.0.1:5432/lifecycle', schema: 'lifecycle' };
check(typeof openPostgresStore === 'function' && postgresMigrations.length > 0 && pgOptions.schema === 'lifecycle', './postgres');

// ./queue/nats (not connected)
const natsOptions: NatsWorkerOptions = { url: 'nats://127.0.0.1:4222', engine, partitions: 4 };
check(subjectOf('huleedu.x.v1', 'staging.') === 'staging.huleedu.x.v1' && partitionConsumerName(DEFAULT_DURABLE, partitionOf(BATCH, 4), 4).startsWith(DEFAULT_DURABLE) && natsOptions.partitions === 4, './queue/nats');

check(PIPELINE_PHASES.includes('nlp') && BATCH_MACHINE_VERSION >= 1 && published.includes(LifecycleEvents.BatchPipelineCompletedV1.topic), '. constants');
await store.close();
await memory.close();
console.log(`consumer OK: GUEST batch ${BATCH} ran nlp (${published.length} outbox rows relayed), batch ${batch.status}`);
EOF
}

# typecheck DIR LABEL: the repository's tsc on DIR's tsconfig. Errors in the consumer's own files or
# in this package's declarations fail; errors inside OTHER packages' declarations (skipLibCheck is
# false, so e.g. xstate's own setup.d.ts under exactOptionalPropertyTypes is checked too) are not
# this package's and are listed, not fatal.
typecheck() {
  local dir=$1 label=$2 out status=0 errors own foreign
  out="$(cd "$dir" && "$TSC" -p tsconfig.json --pretty false 2>&1)" || status=$?
  errors="$(grep -E '^[^ ].*: error TS[0-9]+' <<<"$out" || true)"
  own="$(grep -vE '^node_modules/' <<<"$errors" || true)$(grep -E '^node_modules/essay-lifecycle-statecharts/' <<<"$errors" || true)"
  foreign="$(grep -E '^node_modules/' <<<"$errors" | grep -vE '^node_modules/essay-lifecycle-statecharts/' || true)"
  if [[ -n "$own" || ( "$status" != 0 && -z "$errors" ) ]]; then
    printf '%s\n' "$out"
    fail "$label does not type-check"
  fi
  echo "tsc ($label; strict, exactOptionalPropertyTypes, noUncheckedIndexedAccess, skipLibCheck false): no error in the consumer or in this package's declarations"
  if [[ -n "$foreign" ]]; then
    echo "  not this package's: $(wc -l <<<"$foreign") error(s) in other packages' declarations:"
    sed -E 's/\(([0-9]+),[0-9]+\): error (TS[0-9]+).*/ \2/' <<<"$foreign" | sort | uniq -c | sed 's/^/   /'
  fi
}

CONSUMER_A="$WORK/consumer-nodenext"
CONSUMER_B="$WORK/consumer-bundler"
PURE="$WORK/pure-machines"

step "consumer A (module/moduleResolution NodeNext): install tarball + ${#PEERS[@]} peers + ${#TYPES[@]} @types (better-sqlite3 $LOCAL_PREBUILD_NOTE)"
new_project "$CONSUMER_A"
(cd "$CONSUMER_A" && npm install --no-audit --no-fund "$TARBALL" "${SPECS[@]}" >"$WORK/install-a.log" 2>&1) || { cat "$WORK/install-a.log"; fail "npm install in consumer A"; }
if grep -q 'not yet covered by allowScripts' "$WORK/install-a.log"; then cat "$WORK/install-a.log"; fail "an install script was not approved"; fi
write_tsconfig "$CONSUMER_A/tsconfig.json" NodeNext NodeNext true '["node"]'
write_consumer "$CONSUMER_A/consumer.ts"
typecheck "$CONSUMER_A" "NodeNext"
(cd "$CONSUMER_A" && node out/consumer.js) || fail "consumer A failed at run time"
for bin in $(node -e 'console.log(Object.keys(require(process.argv[1]).bin ?? {}).join(" "))' "$PKG/package.json"); do
  (cd "$CONSUMER_A" && "./node_modules/.bin/$bin" --help >/dev/null 2>&1) || fail "the installed bin $bin --help does not exit 0"
done
echo "installed bins answer --help: $(node -e 'console.log(Object.keys(require(process.argv[1]).bin ?? {}).join(", "))' "$PKG/package.json")"

step "consumer B (module ESNext, moduleResolution Bundler)"
new_project "$CONSUMER_B"
if [[ "${FULL_INSTALL:-}" == 1 ]]; then
  (cd "$CONSUMER_B" && npm install --no-audit --no-fund "$TARBALL" "${SPECS[@]}" >"$WORK/install-b.log" 2>&1) || { cat "$WORK/install-b.log"; fail "npm install in consumer B"; }
else
  # Same dependencies as A: start from A's installed tree and let npm verify it against B's manifest.
  cp -a "$CONSUMER_A/node_modules" "$CONSUMER_A/package-lock.json" "$CONSUMER_B/"
  node -e '
    const fs = require("node:fs");
    const [a, b] = process.argv.slice(1);
    const pa = JSON.parse(fs.readFileSync(a, "utf8")), pb = JSON.parse(fs.readFileSync(b, "utf8"));
    pb.dependencies = pa.dependencies;
    fs.writeFileSync(b, JSON.stringify(pb, null, 2) + "\n");
  ' "$CONSUMER_A/package.json" "$CONSUMER_B/package.json"
  (cd "$CONSUMER_B" && npm install --no-audit --no-fund >"$WORK/install-b.log" 2>&1) || { cat "$WORK/install-b.log"; fail "npm install in consumer B"; }
fi
write_tsconfig "$CONSUMER_B/tsconfig.json" ESNext Bundler false '["node"]'
write_consumer "$CONSUMER_B/consumer.ts"
typecheck "$CONSUMER_B" "ESNext + Bundler"
(cd "$CONSUMER_B" && "$TSX" consumer.ts) || fail "consumer B failed at run time"

step "pure machines: tarball + xstate + zod only"
new_project "$PURE"
(cd "$PURE" && npm install --no-audit --no-fund "$TARBALL" "$(range xstate)" "$(range zod)" >"$WORK/install-pure.log" 2>&1) || { cat "$WORK/install-pure.log"; fail "npm install of the pure subset"; }
# No @types/node: the types of `.` and ./memory must not need it. No console either (no DOM lib).
write_tsconfig "$PURE/tsconfig.json" NodeNext NodeNext true '[]'
cat >"$PURE/machines.ts" <<'EOF'
import { initialTransition } from 'xstate';
import {
  BATCH_MACHINE_VERSION,
  LifecycleEngine,
  LifecycleEvents,
  LifecycleQueries,
  batchMachine,
  defaultMachines,
  deterministicUuid,
  essayMachine,
  type LifecycleMachine,
} from 'essay-lifecycle-statecharts';
import { createMemoryStore } from 'essay-lifecycle-statecharts/memory';

const registration = {
  entity_id: 'b-1', expected_essay_count: 1, essay_ids: ['e-1'], course_code: 'ENG5', user_id: 'u-1',
} as const;
const meta = {
  event_id: deterministicUuid('pure:1'), event_type: LifecycleEvents.BatchEssaysRegistered.topic,
  correlation_id: deterministicUuid('pure:correlation'), timestamp: '2026-01-01T00:00:00.000Z', source_service: 'pure',
};
const [snapshot] = initialTransition(batchMachine, { data: LifecycleEvents.BatchEssaysRegistered.data.parse(registration), meta });
if (snapshot.value !== 'awaiting_content_validation') throw new Error(`pure transition: ${JSON.stringify(snapshot.value)}`);

const machines: Record<string, LifecycleMachine> = { ...defaultMachines() };
const store = createMemoryStore();
const engine = new LifecycleEngine({ store, machines });
const result = await engine.dispatch({
  event_id: meta.event_id, event_type: meta.event_type, event_timestamp: meta.timestamp,
  source_service: 'pure', correlation_id: meta.correlation_id, data: registration,
});
const batch = await new LifecycleQueries(store).entity('batch', 'b-1');
if (result.outcome !== 'accepted' || batch?.status !== 'awaiting_content_validation' || BATCH_MACHINE_VERSION < 1 || essayMachine.id !== 'essay') {
  throw new Error('pure engine run failed');
}
EOF
typecheck "$PURE" "pure subset, NodeNext, no @types/node"
(cd "$PURE" && node out/machines.js) || fail "the pure subset failed at run time"
echo "pure subset: type-checks without @types/node (skipLibCheck false) and runs machines + engine on ./memory"
# Without their drivers the bins name the package to install (for --help too), never a stack trace.
for case in "lifecycle-export --help|@xstate/graph" "lifecycle-gen-tests|@xstate/graph" "lifecycle-replay --help|better-sqlite3" "lifecycle-worker --store sqlite:./data/x.db|better-sqlite3"; do
  command="${case%%|*}"; package="${case##*|}"
  set +e; output="$(cd "$PURE" && ./node_modules/.bin/$command 2>&1)"; code=$?; set -e
  if [[ $code -ne 1 || "$output" != *"npm install $package"* || "$output" == *"    at "* ]]; then
    printf '%s\n' "$output"; fail "$command without $package: expected exit 1 and 'npm install $package', got exit $code"
  fi
done
echo "bins without their drivers: each names the package to install (exit 1), no stack trace"
PURE_KB="$(du -sk "$PURE/node_modules" | cut -f1)"
PURE_PACKAGES="$(cd "$PURE" && node -e 'const l=require("./package-lock.json");console.log(Object.keys(l.packages).filter(Boolean).map(p=>p.replace(/^.*node_modules\//,"")).join(", "))')"

step "publint --strict"
"$PUBLINT" --strict "$TARBALL" 2>&1 | tee "$WORK/publint.log"
[[ "${PIPESTATUS[0]}" == 0 ]] || fail "publint"

step "attw (profile esm-only)"
"$ATTW" --profile esm-only --format table-flipped --no-emoji --no-color "$TARBALL" 2>&1 | tee "$WORK/attw.log"
[[ "${PIPESTATUS[0]}" == 0 ]] || fail "attw"

# ------------------------------------------------------------------------------------------------
step "summary"
node - "$WORK/pack.json" "$TARBALL" "$PURE_KB" "$PURE_PACKAGES" <<'EOF'
const { readFileSync, statSync } = require('node:fs');
const [packJson, tarball, pureKb, purePackages] = process.argv.slice(2);
const [pack] = JSON.parse(readFileSync(packJson, 'utf8'));
const kb = (n) => `${(n / 1024).toFixed(1)} kB`;
console.log(`package:              ${pack.name}@${pack.version} (${pack.entryCount} files)`);
console.log(`tarball packed:       ${statSync(tarball).size} bytes (${kb(statSync(tarball).size)})`);
console.log(`tarball unpacked:     ${pack.unpackedSize} bytes (${kb(pack.unpackedSize)})`);
console.log(`pure subset install:  ${pureKb} kB node_modules (du -sk): ${purePackages}`);
EOF
echo "publint:              $(grep -v '^Running\|^Unpacking\|^Linting' "$WORK/publint.log" | tr '\n' ' ')"
echo "attw:                 no problems (profile esm-only)"
echo "consumers:            NodeNext + Bundler type-check (skipLibCheck false) and run; pure subset OK"
echo "check-package: OK in $((SECONDS - STARTED))s"
