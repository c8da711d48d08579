#!/usr/bin/env node
// The reference side of issue 11's comparison: runs LaunchDarkly's own Node server SDK
// (@launchdarkly/node-server-sdk 9.x, pinned in package-lock.json) over a scenario's flag data
// and evaluations, and prints the analytics body its event processor posts. Everything is local:
// flags come from the SDK's file data source, events go to an HTTP server on 127.0.0.1 inside
// this process. See README.md for the scenario format and the outputs.
'use strict';

const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const zlib = require('zlib');

const USAGE = `usage: node sdk_events.js [options] SCENARIO.json

Runs the LaunchDarkly Node server SDK over SCENARIO.json and prints the analytics body it posts
(a JSON array) on stdout, and one JSON line per op (its evaluation result) on stderr.

options:
  --inputs FILE      also write the same evaluations and events as schema-2 events (what an old
                     PHP SDK posts: inline users, creationDates equal to the SDK's own), a JSON array
                     (a scenario of contexts: schema-4 events with contexts, as PHP 6 posts them)
  --capture FILE     the same events as one evrelay-capture/1 line (env "default", sdk server,
                     kind analytics, schema 2; a scenario of contexts: schema 4, "unsummarized"),
                     for replay/flush
  --flags-out FILE   write the scenario's flag data to FILE and have the SDK read that very file
  --user-form FORM   how --inputs/--capture write users: "sdk" (default; the scenario's user,
                     privateAttributeNames included) or "php" (as PHP SDKs post them: private
                     attributes removed and named in "privateAttrs"; events of anonymous users
                     marked contextKind "anonymousUser"). A scenario of contexts has no users:
                     its events are schema 4 (X-LaunchDarkly-Unsummarized), "sdk" only
  --timeout-ms N     give up after N ms (default 15000)`;

const SDK_KEY = 'sdk-reference-00000000-0000-0000-0000-000000000000';
const KNOWN_OPS = new Set(['variation', 'variationDetail', 'track', 'identify']);
// Built-in attributes of a schema-1/2 user (everything else lives under "custom").
const LEGACY_TOP_LEVEL = ['ip', 'country', 'email', 'firstName', 'lastName', 'avatar', 'name'];

// Both exit 2; only a command-line mistake repeats the usage.
class UsageError extends Error {}
class ScenarioError extends Error {}

function parseArgs(argv) {
  const opts = { userForm: 'sdk', timeoutMs: 15000 };
  const valueOf = (i, name) => {
    if (i + 1 >= argv.length) throw new UsageError(`${name} needs a value`);
    return argv[i + 1];
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      process.stdout.write(USAGE + '\n');
      process.exit(0);
    } else if (a === '--inputs') opts.inputs = valueOf(i++, a);
    else if (a === '--capture') opts.capture = valueOf(i++, a);
    else if (a === '--flags-out') opts.flagsOut = valueOf(i++, a);
    else if (a === '--user-form') {
      opts.userForm = valueOf(i++, a);
      if (opts.userForm !== 'sdk' && opts.userForm !== 'php') {
        throw new UsageError(`--user-form must be sdk or php, not "${opts.userForm}"`);
      }
    } else if (a === '--timeout-ms') {
      opts.timeoutMs = Number(valueOf(i++, a));
      if (!Number.isInteger(opts.timeoutMs) || opts.timeoutMs <= 0) {
        throw new UsageError('--timeout-ms must be a positive integer');
      }
    } else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
    else if (opts.scenario === undefined) opts.scenario = a;
    else throw new UsageError(`one scenario only (got ${opts.scenario} and ${a})`);
  }
  if (opts.scenario === undefined) throw new UsageError('no scenario given');
  return opts;
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

// Checks the scenario's shape, so that a typo is reported with its place instead of surfacing as
// a default value in the SDK's output.
function loadScenario(file) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ScenarioError(`${file}: cannot read: ${e.message}`);
  }
  let s;
  try {
    s = JSON.parse(text);
  } catch (e) {
    throw new ScenarioError(`${file}: not JSON: ${e.message}`);
  }
  const fail = (where, what) => {
    throw new ScenarioError(`${file}: ${where}: ${what}`);
  };
  if (!isObject(s)) fail('top level', 'must be an object');
  if (!isObject(s.flagData)) fail('flagData', 'must be an object {"flags":{…},"segments":{…}}');
  if (!isObject(s.flagData.flags)) fail('flagData.flags', 'must be an object');
  for (const [key, flag] of Object.entries(s.flagData.flags)) {
    if (!isObject(flag) || flag.key !== key) fail(`flagData.flags.${key}`, `"key" must be "${key}"`);
    if (!Number.isInteger(flag.version)) fail(`flagData.flags.${key}.version`, 'must be an integer');
    if (!Array.isArray(flag.variations)) fail(`flagData.flags.${key}.variations`, 'must be an array');
  }
  if (!Array.isArray(s.ops) || s.ops.length === 0) fail('ops', 'must be a non-empty array');
  s.ops.forEach((op, i) => {
    const where = `ops[${i}]`;
    if (!isObject(op)) fail(where, 'must be an object');
    if (!KNOWN_OPS.has(op.op)) fail(`${where}.op`, `must be one of ${[...KNOWN_OPS].join(', ')}`);
    // A scenario gives users (schema 2) or contexts (schema 4), never both: one post has one schema.
    if (op.context !== undefined) {
      if (op.user !== undefined) fail(where, 'give "user" or "context", not both');
      if (!isObject(op.context) || typeof op.context.kind !== 'string') {
        fail(`${where}.context`, 'must be a context object with a "kind" (schema 4)');
      }
    } else if (!isObject(op.user) || op.user.key === undefined || op.user.key === null) {
      fail(`${where}.user`, 'must be a schema-2 user object with a "key" (or give "context")');
    }
    if ((op.context !== undefined) !== (s.ops[0].context !== undefined)) {
      fail(where, 'every op of a scenario gives a "user", or every op a "context"');
    }
    if ((op.op === 'variation' || op.op === 'variationDetail') && typeof op.flag !== 'string') {
      fail(`${where}.flag`, 'must be a flag key (string)');
    }
    if (op.op === 'track' && typeof op.key !== 'string') fail(`${where}.key`, 'must be an event key');
  });
  s.usesContexts = s.ops[0].context !== undefined;
  return s;
}

// The user as a PHP SDK's EventSerializer posts it: private attributes removed, their names in
// "privateAttrs" (sorted), "privateAttributeNames" not sent.
function phpWireUser(user) {
  const privateNames = new Set(user.privateAttributeNames || []);
  const out = {};
  const removed = [];
  for (const [name, value] of Object.entries(user)) {
    if (name === 'privateAttributeNames' || name === 'custom') continue;
    if (LEGACY_TOP_LEVEL.includes(name) && privateNames.has(name)) removed.push(name);
    else out[name] = value;
  }
  if (isObject(user.custom)) {
    const custom = {};
    for (const [name, value] of Object.entries(user.custom)) {
      if (privateNames.has(name)) removed.push(name);
      else custom[name] = value;
    }
    if (Object.keys(custom).length > 0) out.custom = custom;
  }
  if (removed.length > 0) out.privateAttrs = removed.sort();
  return out;
}

// One input event of the SDK's event processor, written as the event an old SDK would post for
// the same evaluation or call: `who` is {user} (schema 2) or {context} (schema 4, as PHP 6 posts
// X-LaunchDarkly-Unsummarized). PHP also marks the feature and custom events of anonymous users
// with contextKind "anonymousUser" (its EventFactory), which the php form reproduces.
function inputEvent(input, who, userForm) {
  const anonymousMark = userForm === 'php' && who.user !== undefined && who.user.anonymous === true;
  const base = { kind: input.kind, creationDate: input.creationDate };
  switch (input.kind) {
    case 'feature': {
      const e = { ...base, key: input.key, ...who, value: input.value };
      if (input.variation !== undefined) e.variation = input.variation;
      if (input.version !== undefined) e.version = input.version;
      e.default = input.default === undefined ? null : input.default;
      if (input.reason !== undefined) e.reason = input.reason;
      if (input.prereqOf !== undefined) e.prereqOf = input.prereqOf;
      if (input.trackEvents) e.trackEvents = true;
      if (input.debugEventsUntilDate !== undefined) e.debugEventsUntilDate = input.debugEventsUntilDate;
      if (anonymousMark) e.contextKind = 'anonymousUser';
      return e;
    }
    case 'custom': {
      const e = { ...base, key: input.key, ...who };
      if (input.data !== undefined) e.data = input.data;
      if (input.metricValue !== undefined) e.metricValue = input.metricValue;
      if (anonymousMark) e.contextKind = 'anonymousUser';
      return e;
    }
    case 'identify':
      return who.user !== undefined ? { ...base, key: String(who.user.key), ...who } : { ...base, ...who };
    default:
      throw new Error(`the SDK produced an input event of kind "${input.kind}", not handled here`);
  }
}

// The events endpoint: records every POST; answers 202 like LaunchDarkly (with the automatic
// Date header, which the SDK reads to time debug events).
function startEventsServer() {
  const posts = [];
  let notify = () => {};
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if ((req.headers['content-encoding'] || '') === 'gzip') body = zlib.gunzipSync(body);
      posts.push({ path: req.url, headers: req.headers, body: body.toString('utf8') });
      res.writeHead(202);
      res.end();
      notify();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () =>
      resolve({
        server,
        posts,
        uri: `http://127.0.0.1:${server.address().port}`,
        waitFor(predicate, ms) {
          return new Promise((done, fail) => {
            const timer = setTimeout(() => fail(new Error(`no analytics POST within ${ms} ms`)), ms);
            const check = () => {
              if (predicate()) {
                clearTimeout(timer);
                done();
              }
            };
            notify = check;
            check();
          });
        },
      }),
    );
  });
}

function isAnalyticsPost(p) {
  return p.path === '/bulk';
}

async function run(opts, scenario) {
  const ld = require('@launchdarkly/node-server-sdk');

  let scratch;
  let flagsFile = opts.flagsOut;
  if (flagsFile === undefined) {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'sdk-reference-'));
    flagsFile = path.join(scratch, 'flags.json');
  }
  const flagData = { flags: scenario.flagData.flags, segments: scenario.flagData.segments || {} };
  fs.writeFileSync(flagsFile, JSON.stringify(flagData, null, 2) + '\n');

  const events = await startEventsServer();
  let client;
  try {
    // Evaluation results for stderr, from an evaluation hook (it sees the reason even for a
    // plain variation, whose event carries none).
    let lastDetail;
    const hook = {
      getMetadata: () => ({ name: 'sdk-reference-results' }),
      afterEvaluation: (_ctx, data, detail) => {
        lastDetail = detail;
        return data;
      },
    };
    client = ld.init(SDK_KEY, {
      updateProcessor: new ld.integrations.FileDataSourceFactory({ paths: [flagsFile] }).getFactory(),
      sendEvents: true,
      eventsUri: events.uri,
      // Never contacted (the file data source replaces polling and streaming); set so that the
      // SDK does not warn about a custom eventsUri alone.
      baseUri: events.uri,
      streamUri: events.uri,
      diagnosticOptOut: true,
      // Only the explicit flush below posts, so the whole scenario is one payload.
      flushInterval: 3600,
      hooks: [hook],
      logger: ld.basicLogger({
        level: 'warn',
        destination: (line) => process.stderr.write(`sdk: ${line}\n`),
      }),
    });
    await client.waitForInitialization({ timeout: opts.timeoutMs / 1000 });

    // Every input event reaching the event processor (including prerequisite evaluations), with
    // the user of the op that caused it, becomes one schema-2 event; with a context, one schema-4
    // event carrying the context as the SDK's own filter writes it (private attributes removed
    // and listed in redactedAttributes, anonymous contexts whole), as PHP 6 posts it.
    const inputs = [];
    let currentUser;
    const contextFilter = new ld.ContextFilter(false, []);
    const processor = client._eventProcessor;
    if (!processor || typeof processor.sendEvent !== 'function') {
      throw new Error('this SDK version has no _eventProcessor.sendEvent to observe');
    }
    const sendEvent = processor.sendEvent.bind(processor);
    processor.sendEvent = (input) => {
      let who;
      if (scenario.usesContexts) who = { context: contextFilter.filter(input.context) };
      else who = { user: opts.userForm === 'php' ? phpWireUser(currentUser) : currentUser };
      inputs.push(inputEvent(input, who, opts.userForm));
      sendEvent(input);
    };

    for (const op of scenario.ops) {
      const subject = scenario.usesContexts ? op.context : op.user;
      currentUser = op.user;
      lastDetail = undefined;
      const context = ld.Context.toLDContext(ld.Context.fromLDContext(subject));
      const result = { op: op.op, userKey: subject.key, context };
      // The legacy user goes to the SDK as it is: the SDK's own conversion to a context is the
      // reference (its "context" above), not one written here.
      if (op.op === 'variation' || op.op === 'variationDetail') {
        const def = op.default === undefined ? null : op.default;
        await client[op.op](op.flag, subject, def);
        Object.assign(result, {
          flag: op.flag,
          value: lastDetail.value,
          variationIndex: lastDetail.variationIndex,
          reason: lastDetail.reason,
        });
      } else if (op.op === 'track') {
        client.track(op.key, subject, op.data, op.metricValue);
        result.key = op.key;
      } else {
        client.identify(subject);
      }
      process.stderr.write(JSON.stringify(result) + '\n');
    }

    await client.flush();
    await events.waitFor(() => events.posts.some(isAnalyticsPost), opts.timeoutMs);
    const analytics = events.posts.filter(isAnalyticsPost);
    if (analytics.length !== 1) {
      throw new Error(`expected one analytics POST, got ${analytics.length}`);
    }
    process.stdout.write(analytics[0].body + '\n');

    if (opts.inputs !== undefined) fs.writeFileSync(opts.inputs, JSON.stringify(inputs) + '\n');
    if (opts.capture !== undefined) {
      const line = {
        v: 1,
        received: new Date().toISOString(),
        env: 'default',
        sdk: 'server',
        kind: 'analytics',
        schema: scenario.usesContexts ? 4 : 2,
        ...(scenario.usesContexts ? { unsummarized: true } : {}),
        events: inputs,
      };
      fs.writeFileSync(opts.capture, JSON.stringify(line) + '\n');
    }
  } finally {
    if (client) client.close();
    events.server.close();
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  }
}

function main() {
  let opts;
  let scenario;
  try {
    opts = parseArgs(process.argv.slice(2));
    scenario = loadScenario(opts.scenario);
    if (scenario.usesContexts && opts.userForm !== 'sdk') {
      throw new UsageError(`--user-form ${opts.userForm}: ${opts.scenario} gives contexts, not users`);
    }
  } catch (e) {
    if (!(e instanceof UsageError || e instanceof ScenarioError)) throw e;
    const usage = e instanceof UsageError ? `${USAGE}\n` : '';
    process.stderr.write(`sdk_events.js: ${e.message}\n${usage}`);
    process.exit(2);
  }
  // A bound on the whole run, whatever hangs (initialisation, the POST, the server's close).
  const deadline = setTimeout(() => {
    process.stderr.write(`sdk_events.js: ${opts.scenario}: timed out after ${opts.timeoutMs} ms\n`);
    process.exit(1);
  }, opts.timeoutMs + 2000);
  deadline.unref();
  run(opts, scenario).then(
    () => process.exit(0),
    (e) => {
      process.stderr.write(`sdk_events.js: ${opts.scenario}: ${e.message}\n`);
      process.exit(1);
    },
  );
}

main();
