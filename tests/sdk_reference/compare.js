#!/usr/bin/env node
// Issue 11's comparison: evrelay's summariser against LaunchDarkly's own event processor, field
// by field. For every scenario, in both user forms of the schema-2 input, it runs the Node SDK
// once (sdk_events.js: the SDK's posted schema-4 body, the flag-data file, and the same
// evaluations as one capture line), replays that capture and its INPUT_VARIANTS (the same
// evaluations as other SDKs post them) through `evrelay replay --flags` to a recording server in
// this process, and compares each of evrelay's bodies with the SDK's (body_comparison.js). A
// difference fails unless one of the allow-lists there (EVENT_FIELD_ALLOWANCES,
// CONTEXT_ALLOWANCES, COUNTER_ALLOWANCES) accepts it; each entry gives its reason and checks that
// what evrelay wrote instead still says the same (README.md, "The comparison with evrelay";
// `--allowed` prints them). Then every body of evrelay's is altered in a few ways (MUTATIONS
// there), and each alteration must be reported: the comparison shows, each time it runs, that it
// can fail.
'use strict';

const { spawn } = require('child_process');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const zlib = require('zlib');

const { compareBodies, checkMutationsCaught, isObject, show, ALLOWANCES } = require('./body_comparison');

const HERE = __dirname;

const USAGE = `usage: node compare.js --evrelay PATH [options] [SCENARIO.json…]

Compares evrelay's summarised output with the LaunchDarkly Node SDK's for every scenario
(default: scenarios/*.json beside this script).

options:
  --evrelay PATH     the evrelay binary (required)
  --user-form FORM   sdk, php or both (default both): how the schema-2 input writes users
  --jobs N           runs at once (default 4; the SDK runs mostly wait)
  --keep DIR         keep every run's files (SDK body, capture, flags, evrelay body) in DIR
  --timeout-ms N     bound on each SDK run and each replay (default 20000)
  --allowed          print the differences evrelay is allowed, with their reasons, and exit

exit status: 0 all match (allowed differences aside), 1 a difference or a failed run, 2 usage`;

// ---------------------------------------------------------------------------------------------
// Running the SDK and evrelay.

function parseArgs(argv) {
  const opts = { forms: ['sdk', 'php'], jobs: 4, timeoutMs: 20000, scenarios: [] };
  const valueOf = (i, name) => {
    if (i + 1 >= argv.length) usageError(`${name} needs a value`);
    return argv[i + 1];
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else if (a === '--allowed') {
      for (const allowance of ALLOWANCES) {
        process.stdout.write(`${allowance.id}: ${allowance.why}\n`);
      }
      process.exit(0);
    } else if (a === '--evrelay') opts.evrelay = valueOf(i++, a);
    else if (a === '--keep') opts.keep = valueOf(i++, a);
    else if (a === '--user-form') {
      const form = valueOf(i++, a);
      if (!['sdk', 'php', 'both'].includes(form)) usageError(`--user-form must be sdk, php or both, not "${form}"`);
      opts.forms = form === 'both' ? ['sdk', 'php'] : [form];
    } else if (a === '--jobs' || a === '--timeout-ms') {
      const n = Number(valueOf(i++, a));
      if (!Number.isInteger(n) || n <= 0) usageError(`${a} must be a positive integer`);
      if (a === '--jobs') opts.jobs = n;
      else opts.timeoutMs = n;
    } else if (a.startsWith('-')) usageError(`unknown option ${a}`);
    else opts.scenarios.push(a);
  }
  if (opts.evrelay === undefined) usageError('--evrelay PATH is required');
  if (opts.scenarios.length === 0) {
    const dir = path.join(HERE, 'scenarios');
    opts.scenarios = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => path.join(dir, f));
  }
  return opts;
}

function usageError(message) {
  process.stderr.write(`compare.js: ${message}\n${USAGE}\n`);
  process.exit(2);
}

// Runs a program to its end within timeoutMs (then kills it); resolves {code, stdout, stderr}.
function runProgram(program, args, timeoutMs) {
  return new Promise((resolve) => {
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => err.push(c));
    child.on('error', (e) => err.push(Buffer.from(`cannot start ${program}: ${e.message}\n`)));
    child.on('close', (code) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8') + (timedOut ? `(killed after ${timeoutMs} ms)\n` : '');
      resolve({ code: timedOut ? -1 : code, stdout: Buffer.concat(out).toString('utf8'), stderr });
    });
  });
}

// The upstream evrelay posts to: records each POST by its Authorization (every run has its own
// SDK key) and answers 202, with the automatic Date header, like LaunchDarkly.
function startRecordingServer() {
  const posts = new Map();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      let error;
      try {
        if ((req.headers['content-encoding'] || '') === 'gzip') body = zlib.gunzipSync(body);
      } catch (e) {
        error = `body not gzip: ${e.message}`;
      }
      const key = req.headers.authorization || '';
      if (!posts.has(key)) posts.set(key, []);
      posts.get(key).push({ method: req.method, path: req.url, headers: req.headers, body: body.toString('utf8'), error });
      res.writeHead(202);
      res.end();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve({ server, posts, uri: `http://127.0.0.1:${server.address().port}` }));
  });
}

// evrelay's events from the posts of one run: schema-4 analytics posts without the Unsummarized
// mark, concatenated in arrival order.
function evrelayEvents(posts) {
  const events = [];
  for (const p of posts) {
    const wrong = [];
    if (p.error) wrong.push(p.error);
    if (p.method !== 'POST' || p.path !== '/bulk') wrong.push(`${p.method} ${p.path}, not POST /bulk`);
    if (p.headers['x-launchdarkly-event-schema'] !== '4') {
      wrong.push(`X-LaunchDarkly-Event-Schema ${show(p.headers['x-launchdarkly-event-schema'])}, not 4`);
    }
    if (p.headers['x-launchdarkly-unsummarized'] !== undefined) wrong.push('X-LaunchDarkly-Unsummarized still set');
    if (wrong.length) throw new Error(`evrelay's post: ${wrong.join('; ')}`);
    let body;
    try {
      body = JSON.parse(p.body);
    } catch (e) {
      throw new Error(`evrelay's post is not JSON (${e.message}): ${p.body.slice(0, 300)}`);
    }
    if (!Array.isArray(body)) throw new Error(`evrelay's post is not a JSON array: ${p.body.slice(0, 200)}`);
    events.push(...body);
  }
  return events;
}

// The schema-2 capture the SDK run wrote, and the same evaluations as other SDKs post them, so
// that evrelay's other ways of deciding are compared with the SDK too.
// `usersOnly`: made from schema-2 users (a scenario of contexts is schema 4 already).
const INPUT_VARIANTS = [
  // What the harness writes: a PHP SDK's events, each saying trackEvents (the flag's, or an
  // experiment's) and debugEventsUntilDate itself. Schema 2, or for a scenario of contexts
  // schema 4 marked X-LaunchDarkly-Unsummarized (PHP 6).
  { id: 'posted', strip: [] },
  // Without trackEvents/debugEventsUntilDate (as SDKs posted before they sent them, and as Relay
  // meets them): the flag data decides full and debug events (flag and rule trackEvents,
  // trackEventsFallthrough, debugEventsUntilDate).
  { id: 'flag-data', strip: ['trackEvents', 'debugEventsUntilDate'] },
  // Schema 1, also without variation: the flag data also gives the variation of each value.
  { id: 'schema-1', schema: 1, strip: ['trackEvents', 'debugEventsUntilDate', 'variation'], usersOnly: true },
  // Schema 4 marked X-LaunchDarkly-Unsummarized, as PHP SDK 6 posts: each event's `context` is
  // the op's user as the SDK's own context filter writes it (private attributes removed and
  // listed in redactedAttributes; anonymous contexts not redacted, as PHP 6 does). Made from the
  // scenario's user, so only with the sdk user form (the php form's users are already redacted).
  { id: 'unsummarized', schema: 4, unsummarized: true, strip: [], contexts: true, forms: ['sdk'], usersOnly: true },
];

let sdkContextFilter;
// A schema-2 user as the context a schema-4 SDK posts for it (the SDK's own conversion).
function contextOfUser(user) {
  // Loaded only here: the comparison itself needs nothing of the SDK.
  const ld = require('@launchdarkly/node-server-sdk');
  if (sdkContextFilter === undefined) sdkContextFilter = new ld.ContextFilter(false, []);
  const context = ld.Context.fromLDContext(user);
  if (!context.valid) throw new Error(`the SDK rejects the user ${show(user)} as a context`);
  return sdkContextFilter.filter(context);
}

function writeVariantCapture(captureFile, variant, outFile) {
  const line = JSON.parse(fs.readFileSync(captureFile, 'utf8'));
  if (variant.schema !== undefined) line.schema = variant.schema;
  if (variant.unsummarized) line.unsummarized = true;
  for (const event of line.events) {
    if (variant.contexts) {
      event.context = contextOfUser(event.user);
      delete event.user;
      delete event.contextKind;
    }
    if (event.kind !== 'feature') continue;
    for (const member of variant.strip) delete event[member];
  }
  fs.writeFileSync(outFile, `${JSON.stringify(line)}\n`);
}

// One scenario in one user form: one SDK run, then one evrelay replay per input variant.
async function compareScenario(opts, upstream, scenario, form, index) {
  const base = `${path.basename(scenario, '.json')} [${form}`;
  const dir = opts.keep
    ? path.join(opts.keep, `${path.basename(scenario, '.json')}.${form}`)
    : fs.mkdtempSync(path.join(os.tmpdir(), 'sdk-compare-'));
  fs.mkdirSync(dir, { recursive: true });
  const file = (f) => path.join(dir, f);
  try {
    const sdk = await runProgram(process.execPath, [
      path.join(HERE, 'sdk_events.js'), '--inputs', file('inputs.json'), '--capture', file('capture.ndjson'),
      '--flags-out', file('flags.json'), '--user-form', form, '--timeout-ms', String(opts.timeoutMs),
      scenario,
    ], opts.timeoutMs + 5000);
    if (sdk.code !== 0) return [{ name: `${base}]`, failure: `sdk_events.js failed (exit ${sdk.code}):\n${sdk.stderr}` }];
    fs.writeFileSync(file('sdk_body.json'), sdk.stdout);
    let sdkBody;
    try {
      sdkBody = JSON.parse(sdk.stdout);
    } catch (e) {
      return [{ name: `${base}]`, failure: `the SDK's body is not JSON (${e.message})` }];
    }
    const results = [];
    const ofContexts = JSON.parse(fs.readFileSync(file('capture.ndjson'), 'utf8')).schema >= 3;
    for (const variant of INPUT_VARIANTS) {
      if (variant.forms && !variant.forms.includes(form)) continue;
      if (variant.usersOnly && ofContexts) continue;
      const name = `${base}, ${variant.id}]`;
      try {
        const capture = file(`capture.${variant.id}.ndjson`);
        writeVariantCapture(file('capture.ndjson'), variant, capture);
        const sdkKey = `sdk-compare-${index}-${form}-${variant.id}`;
        const replay = await runProgram(opts.evrelay, [
          'replay', '--flags', file('flags.json'), '--sdk-key', sdkKey, '--events-uri', upstream.uri,
          '--retries', '0', '--no-progress', capture,
        ], opts.timeoutMs);
        if (replay.code !== 0) {
          results.push({ name, failure: `evrelay replay failed (exit ${replay.code}):\n${replay.stderr}` });
          continue;
        }
        const evBody = evrelayEvents(upstream.posts.get(sdkKey) || []);
        fs.writeFileSync(file(`evrelay_body.${variant.id}.json`), `${JSON.stringify(evBody)}\n`);
        if (evBody.length === 0) {
          results.push({ name, failure: `evrelay posted nothing:\n${replay.stderr}` });
          continue;
        }
        const { problems, allowedSeen } = compareBodies(sdkBody, evBody);
        const { missed, applied } = checkMutationsCaught(sdkBody, evBody);
        results.push({ name, problems, allowedSeen, missed, applied, events: sdkBody.length });
      } catch (e) {
        results.push({ name, failure: e.message });
      }
    }
    return results;
  } catch (e) {
    return [{ name: `${base}]`, failure: e.message }];
  } finally {
    if (!opts.keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}

// Whether a scenario's ops give contexts instead of users; false for a file that is no scenario,
// which sdk_events.js then reports with its place.
function scenarioOfContexts(file) {
  try {
    const ops = JSON.parse(fs.readFileSync(file, 'utf8')).ops;
    return Array.isArray(ops) && ops.some((op) => isObject(op) && op.context !== undefined);
  } catch (e) {
    return false;
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(path.join(HERE, 'node_modules', '@launchdarkly', 'node-server-sdk'))) {
    process.stdout.write(`FAILED: ${HERE}/node_modules has no @launchdarkly/node-server-sdk: run 'make deps'\n`);
    process.exit(1);
  }
  const upstream = await startRecordingServer();
  const runs = [];
  opts.scenarios.forEach((s, i) => {
    // A scenario of contexts has no users to write in the php form (sdk_events.js refuses it).
    const forms = scenarioOfContexts(s) ? opts.forms.filter((f) => f === 'sdk') : opts.forms;
    forms.forEach((f) => runs.push([s, f, i]));
  });
  const results = new Array(runs.length);
  let next = 0;
  const worker = async () => {
    while (next < runs.length) {
      const i = next++;
      results[i] = await compareScenario(opts, upstream, ...runs[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.jobs, runs.length) }, worker));
  upstream.server.close();

  let failed = 0;
  let mutationsApplied = 0;
  const flat = results.flat();
  for (const r of flat) {
    if (r.failure) {
      failed += 1;
      process.stdout.write(`FAIL ${r.name}: ${r.failure.trimEnd().replace(/\n/g, '\n    ')}\n`);
      continue;
    }
    mutationsApplied += r.applied;
    const allowed = [...r.allowedSeen].map(([id, n]) => `${id} ×${n}`).join(', ');
    if (r.problems.length || r.missed.length) {
      failed += 1;
      process.stdout.write(`FAIL ${r.name}:\n`);
      for (const p of [...r.problems, ...r.missed]) process.stdout.write(`    ${p}\n`);
    } else {
      process.stdout.write(`ok   ${r.name}: ${r.events} events, ${allowed ? `allowed differences: ${allowed}` : 'match'}\n`);
    }
  }
  if (failed) {
    process.stdout.write(`sdk_comparison: ${failed} of ${flat.length} comparisons differ or failed\n`);
    process.exit(1);
  }
  process.stdout.write(`sdk_comparison: all ${flat.length} comparisons match the SDK (allowed differences aside); ` +
    `${mutationsApplied} alterations of evrelay's bodies were all reported\n`);
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`compare.js: ${e.stack || e.message}\n`);
  process.exit(1);
});
