#!/usr/bin/env node
// Issue 11's comparison: evrelay's summariser against LaunchDarkly's own event processor, field
// by field. For every scenario, in both user forms of the schema-2 input, it runs the Node SDK
// once (sdk_events.js: the SDK's posted schema-4 body, the flag-data file, and the same
// evaluations as one capture line), replays that capture and its INPUT_VARIANTS (the same
// evaluations as other SDKs post them) through `evrelay replay --flags` to a recording server in
// this process, and compares each of evrelay's bodies with the SDK's. A difference fails unless
// one of the three allow-lists below (EVENT_FIELD_ALLOWANCES, CONTEXT_ALLOWANCES,
// COUNTER_ALLOWANCES) accepts it; each entry gives its reason and checks that what evrelay wrote
// instead still says the same (README.md, "The comparison with evrelay"; `--allowed` prints them).
// Then every body of evrelay's is altered in a few ways (MUTATIONS), and each alteration must be
// reported: the comparison shows, each time it runs, that it can fail.
'use strict';

const { spawn } = require('child_process');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const zlib = require('zlib');

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
// JSON comparison helpers: member order never matters; the callers decide where arrays are sets.

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

// JSON text with object members sorted: equal texts ⇔ equal values regardless of member order.
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isObject(value)) {
    const members = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`);
    return `{${members.join(',')}}`;
  }
  return value === undefined ? '(absent)' : JSON.stringify(value);
}

const sameValue = (a, b) => canonical(a) === canonical(b);

// Arrays compared as multisets (order carries no meaning).
function sameMultiset(a, b) {
  if (!Array.isArray(a) || !Array.isArray(b)) return sameValue(a, b);
  const left = a.map(canonical).sort();
  const right = b.map(canonical).sort();
  return left.length === right.length && left.every((v, i) => v === right[i]);
}

// A context with its _meta.redactedAttributes sorted (a set: the SDK lists them in the order of
// privateAttributeNames, evrelay in attribute order), also inside a multi-kind context.
function normalisedContext(context) {
  if (!isObject(context)) return context;
  const out = { ...context };
  if (isObject(out._meta) && Array.isArray(out._meta.redactedAttributes)) {
    out._meta = { ...out._meta, redactedAttributes: [...out._meta.redactedAttributes].sort() };
  }
  if (out.kind === 'multi') {
    for (const [kind, inner] of Object.entries(out)) {
      if (kind !== 'kind') out[kind] = normalisedContext(inner);
    }
  }
  return out;
}

const sameContext = (a, b) => sameValue(normalisedContext(a), normalisedContext(b));

// {kind: key} of a context, what a feature or custom event's contextKeys should say.
function contextKeysOf(context) {
  if (!isObject(context)) return undefined;
  if (context.kind !== 'multi') return { [context.kind]: context.key };
  const keys = {};
  for (const [kind, inner] of Object.entries(context)) {
    if (kind !== 'kind' && isObject(inner)) keys[kind] = inner.key;
  }
  return keys;
}

const show = (v) => (v === undefined ? '(absent)' : JSON.stringify(v));

// ---------------------------------------------------------------------------------------------
// What is compared, and what evrelay may do differently.

// Differences evrelay keeps on purpose in an event's members. Each names the event kinds and the
// fields it covers, and checks that what evrelay writes instead still says the same (so the
// allowance hides nothing).
const EVENT_FIELD_ALLOWANCES = [
  {
    id: 'contextKeys',
    kinds: ['feature', 'custom'],
    fields: ['context', 'contextKeys'],
    why:
      'full feature and custom events name their context by contextKeys ({kind: key}), as ' +
      'SPEC §8 says and go-sdk-events v2 (ld-relay v8) writes them; the Node SDK 9 inlines the ' +
      'context (anonymous attributes redacted). The index event before them carries the whole ' +
      'context either way, and both forms are what LaunchDarkly\'s own libraries send',
    // null when evrelay's form is right; else what is wrong with it.
    check(sdkEvent, evEvent) {
      if ('context' in evEvent) return `evrelay wrote both context and contextKeys`;
      if (!('context' in sdkEvent)) return `the SDK wrote no context to compare contextKeys with`;
      const expected = contextKeysOf(sdkEvent.context);
      if (!sameValue(evEvent.contextKeys, expected)) {
        return `contextKeys ${show(evEvent.contextKeys)}, but the SDK's context is ` +
          `${show(sdkEvent.context)} (expected contextKeys ${show(expected)})`;
      }
      return null;
    },
  },
];

// Differences in how a context is written that evrelay keeps on purpose, wherever a whole
// context appears (index, debug, identify events). Each adjusts a copy of the SDK's context the
// way evrelay writes it; a context is accepted when the adjusted SDK context equals evrelay's.
const CONTEXT_ALLOWANCES = [
  {
    id: 'null-attributes',
    why:
      'an old user\'s custom attribute whose value is null is left out of the context, as Go\'s ' +
      'ldcontext builder (Relay\'s) removes an attribute set to null; the Node SDK keeps it ' +
      '("x": null). LaunchDarkly treats a null attribute as absent, and PHP SDKs never post one ' +
      '(their serializer leaves null attributes out)',
    adjust: (context) => withoutMembers(context, (name, value) => value === null && name !== 'key'),
  },
  {
    id: 'anonymous-false',
    why:
      'an old user\'s "anonymous": false is left out, as Go writes a context (false is the ' +
      'default); the Node SDK keeps it. PHP SDKs never post it (they write anonymous only when true)',
    adjust: (context) => withoutMembers(context, (name, value) => name === 'anonymous' && value === false),
  },
];

// A copy of a context without the members `drop` selects (in each part of a multi-kind one).
function withoutMembers(context, drop) {
  if (!isObject(context)) return context;
  const strip = (single) => {
    const out = {};
    for (const [name, value] of Object.entries(single)) if (!drop(name, value)) out[name] = value;
    return out;
  };
  if (context.kind !== 'multi') return strip(context);
  const out = { kind: 'multi' };
  for (const [kind, inner] of Object.entries(context)) if (kind !== 'kind') out[kind] = strip(inner);
  return out;
}

// Compares a whole context; on a difference, tries the allowances. Returns null when equal, or
// equal once allowed differences are applied (recording them), else the problem.
function compareContext(sdkContext, evContext, allowedSeen) {
  if (sameContext(sdkContext, evContext)) return null;
  let adjusted = sdkContext;
  const used = [];
  for (const allowance of CONTEXT_ALLOWANCES) {
    const next = allowance.adjust(adjusted);
    if (!sameContext(next, adjusted)) used.push(allowance.id);
    adjusted = next;
  }
  if (used.length && sameContext(adjusted, evContext)) {
    for (const id of used) allowedSeen.set(id, (allowedSeen.get(id) || 0) + 1);
    return null;
  }
  return `SDK ${show(sdkContext)}, evrelay ${show(evContext)}`;
}

// Differences in a flag's summary counters that evrelay keeps on purpose. Each merges a copy of
// evrelay's counters the way the SDK counts; accepted when the merged counters equal the SDK's.
const COUNTER_ALLOWANCES = [{
  id: 'counter-per-value',
  why:
    'evaluations without a variation (a flag absent from the flag data, an evaluation error) ' +
    'are counted per value by evrelay (summary_counters.hpp); the SDK counts them per ' +
    '(variation, version) like any other and keeps the first value, since one SDK sees one ' +
    'caller\'s default at a time, while a relay sees the defaults of many PHP processes and ' +
    'would report the first for all. Merged per version (counts added, first value kept), ' +
    'evrelay\'s counters must equal the SDK\'s',
  // evrelay's counters with those without a variation merged per version, in order.
  merge(counters) {
    if (!Array.isArray(counters)) return counters;
    const merged = [];
    const byVersion = new Map();
    for (const counter of counters) {
      if (!isObject(counter) || counter.variation !== undefined) {
        merged.push(counter);
        continue;
      }
      const group = `${counter.version}:${counter.unknown}`;
      const first = byVersion.get(group);
      if (first === undefined) {
        const copy = { ...counter };
        byVersion.set(group, copy);
        merged.push(copy);
      } else {
        first.count += counter.count;
      }
    }
    return merged;
  },
}];

function compareCounters(sdkCounters, evCounters, allowedSeen) {
  if (sameMultiset(sdkCounters, evCounters)) return true;
  let merged = evCounters;
  const used = [];
  for (const allowance of COUNTER_ALLOWANCES) {
    const next = allowance.merge(merged);
    if (!sameMultiset(next, merged)) used.push(allowance.id);
    merged = next;
  }
  if (!used.length || !sameMultiset(sdkCounters, merged)) return false;
  for (const id of used) allowedSeen.set(id, (allowedSeen.get(id) || 0) + 1);
  return true;
}

// The summary: flags as a set; per flag default, counters (a multiset; each counter's value,
// variation, version, count, unknown) and contextKinds (a set); startDate/endDate equal.
function compareSummary(sdkEvent, evEvent, where, problems, allowedSeen) {
  const fields = new Set([...Object.keys(sdkEvent), ...Object.keys(evEvent)]);
  for (const field of fields) {
    if (field === 'features') continue;
    if (!sameValue(sdkEvent[field], evEvent[field])) {
      problems.push(`${where}, field ${field}: SDK ${show(sdkEvent[field])}, evrelay ${show(evEvent[field])}`);
    }
  }
  const sdkFlags = isObject(sdkEvent.features) ? sdkEvent.features : {};
  const evFlags = isObject(evEvent.features) ? evEvent.features : {};
  for (const flag of new Set([...Object.keys(sdkFlags), ...Object.keys(evFlags)])) {
    const s = sdkFlags[flag];
    const e = evFlags[flag];
    const at = `${where}, field features.${flag}`;
    if (s === undefined || e === undefined) {
      problems.push(`${at}: ${s === undefined ? 'only evrelay' : 'only the SDK'} counts this flag`);
      continue;
    }
    for (const member of new Set([...Object.keys(s), ...Object.keys(e)])) {
      let equal;
      if (member === 'counters') equal = compareCounters(s[member], e[member], allowedSeen);
      else if (member === 'contextKinds') equal = sameMultiset(s[member], e[member]);
      else equal = sameValue(s[member], e[member]);
      if (!equal) problems.push(`${at}.${member}: SDK ${show(s[member])}, evrelay ${show(e[member])}`);
    }
  }
}

// One event pair of the same kind: every member of either side is compared or allowed.
function compareEvent(sdkEvent, evEvent, where, problems, allowedSeen) {
  if (sdkEvent.kind === 'summary') {
    compareSummary(sdkEvent, evEvent, where, problems, allowedSeen);
    return;
  }
  const covered = new Set();
  for (const allowance of EVENT_FIELD_ALLOWANCES) {
    if (!allowance.kinds.includes(sdkEvent.kind)) continue;
    const differs = allowance.fields.some((f) => !sameValue(sdkEvent[f], evEvent[f]));
    if (!differs) continue;
    const wrong = allowance.check(sdkEvent, evEvent);
    if (wrong !== null) {
      problems.push(`${where}, field ${allowance.fields.join('/')}: ${wrong}`);
    } else {
      allowedSeen.set(allowance.id, (allowedSeen.get(allowance.id) || 0) + 1);
    }
    allowance.fields.forEach((f) => covered.add(f));
  }
  for (const field of new Set([...Object.keys(sdkEvent), ...Object.keys(evEvent)])) {
    if (covered.has(field)) continue;
    if (field === 'context') {
      const wrong = compareContext(sdkEvent.context, evEvent.context, allowedSeen);
      if (wrong !== null) problems.push(`${where}, field context: ${wrong}`);
    } else if (!sameValue(sdkEvent[field], evEvent[field])) {
      problems.push(`${where}, field ${field}: SDK ${show(sdkEvent[field])}, evrelay ${show(evEvent[field])}`);
    }
  }
}

// A short name of an event for messages: "feature #2 (flag tracked-bool)".
function describe(event, ordinal) {
  const what = event.kind === 'custom' ? `event key ${event.key}` : `flag ${event.key}`;
  return `${event.kind} #${ordinal}${event.key !== undefined && event.kind !== 'identify' ? ` (${what})` : ''}`;
}

// Compares two bodies: the same event kinds in the same queue order, then each pair (the n-th
// event of a kind with the n-th of that kind). Returns the problems and the allowances used.
function compareBodies(sdkBody, evBody) {
  const problems = [];
  const allowedSeen = new Map();
  const count = (body) => {
    const counts = {};
    for (const e of body) counts[e.kind] = (counts[e.kind] || 0) + 1;
    return counts;
  };
  const sdkKinds = sdkBody.map((e) => e.kind);
  const evKinds = evBody.map((e) => e.kind);
  if (!sameValue(count(sdkBody), count(evBody))) {
    problems.push(`event kinds differ: SDK ${show(count(sdkBody))}, evrelay ${show(count(evBody))}`);
  } else if (sdkKinds.join(' ') !== evKinds.join(' ')) {
    problems.push(`event order differs: SDK [${sdkKinds.join(' ')}], evrelay [${evKinds.join(' ')}]`);
  }
  const byKind = (body) => {
    const groups = new Map();
    for (const e of body) {
      if (!groups.has(e.kind)) groups.set(e.kind, []);
      groups.get(e.kind).push(e);
    }
    return groups;
  };
  const sdkGroups = byKind(sdkBody);
  const evGroups = byKind(evBody);
  for (const [kind, sdkEvents] of sdkGroups) {
    const evEvents = evGroups.get(kind) || [];
    const n = Math.min(sdkEvents.length, evEvents.length);
    for (let i = 0; i < n; i++) {
      compareEvent(sdkEvents[i], evEvents[i], describe(sdkEvents[i], i + 1), problems, allowedSeen);
    }
  }
  return { problems, allowedSeen };
}

// ---------------------------------------------------------------------------------------------
// The comparison's own check: alterations of evrelay's body that must each be reported, naming
// the field. Each returns false when the body has nothing it could alter.

const firstOf = (body, kind, predicate = () => true) => body.find((e) => e.kind === kind && predicate(e));

const MUTATIONS = [
  ['a summary counter count', 'counters', (b) => {
    const s = firstOf(b, 'summary');
    const flag = s && Object.values(s.features)[0];
    if (!flag) return false;
    flag.counters[0].count += 1;
    return true;
  }],
  ['a summary default', 'default', (b) => {
    const s = firstOf(b, 'summary');
    const flag = s && Object.values(s.features)[0];
    if (!flag) return false;
    flag.default = 'altered';
    return true;
  }],
  ['a summary contextKinds', 'contextKinds', (b) => {
    const s = firstOf(b, 'summary');
    const flag = s && Object.values(s.features)[0];
    if (!flag) return false;
    flag.contextKinds.push('organization');
    return true;
  }],
  ['the summary endDate', 'endDate', (b) => {
    const s = firstOf(b, 'summary');
    if (!s) return false;
    s.endDate += 1;
    return true;
  }],
  ['a context attribute dropped', 'context', (b) => {
    const e = firstOf(b, 'index', (x) => Object.keys(x.context).some((n) => !['kind', 'key', '_meta'].includes(n)));
    if (!e) return false;
    const name = Object.keys(e.context).find((n) => !['kind', 'key', '_meta'].includes(n));
    delete e.context[name];
    return true;
  }],
  ['an index context attribute', 'context', (b) => {
    const e = firstOf(b, 'index');
    if (!e) return false;
    e.context.name = 'altered';
    return true;
  }],
  ['a redacted attribute left out', 'context', (b) => {
    const e = firstOf(b, 'index', (x) => x.context._meta && x.context._meta.redactedAttributes);
    if (!e) return false;
    e.context._meta.redactedAttributes.pop();
    return true;
  }],
  ['a feature value', 'value', (b) => {
    const e = firstOf(b, 'feature') || firstOf(b, 'debug');
    if (!e) return false;
    e.value = 'altered';
    return true;
  }],
  ['a feature variation', 'variation', (b) => {
    const e = firstOf(b, 'feature', (x) => x.variation !== undefined);
    if (!e) return false;
    e.variation += 1;
    return true;
  }],
  ['a feature reason dropped', 'reason', (b) => {
    const e = firstOf(b, 'feature', (x) => x.reason !== undefined);
    if (!e) return false;
    delete e.reason;
    return true;
  }],
  ['a feature contextKeys', 'contextKeys', (b) => {
    const e = firstOf(b, 'feature', (x) => x.contextKeys !== undefined) ||
      firstOf(b, 'custom', (x) => x.contextKeys !== undefined);
    if (!e) return false;
    e.contextKeys = { user: 'someone-else' };
    return true;
  }],
  ['a custom metricValue', 'metricValue', (b) => {
    const e = firstOf(b, 'custom');
    if (!e) return false;
    e.metricValue = (e.metricValue || 0) + 1;
    return true;
  }],
  ['an extra member', 'inlineUser', (b) => {
    const e = b.find((x) => x.kind !== 'summary');
    if (!e) return false;
    e.inlineUser = true;
    return true;
  }],
  ['a creationDate', 'creationDate', (b) => {
    const e = b.find((x) => x.kind !== 'summary');
    if (!e) return false;
    e.creationDate += 1;
    return true;
  }],
  ['an event dropped', 'event kinds', (b) => {
    const i = b.findIndex((x) => x.kind !== 'summary');
    if (i < 0) return false;
    b.splice(i, 1);
    return true;
  }],
];

// Problems of the comparison itself: an alteration it did not report.
function checkMutationsCaught(sdkBody, evBody) {
  const missed = [];
  let applied = 0;
  for (const [what, field, mutate] of MUTATIONS) {
    const altered = JSON.parse(JSON.stringify(evBody));
    if (!mutate(altered)) continue;
    applied += 1;
    const { problems } = compareBodies(sdkBody, altered);
    if (!problems.some((p) => p.includes(field))) {
      missed.push(`altering ${what} in evrelay's body was not reported (naming ${field})`);
    }
  }
  return { missed, applied };
}

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
      for (const allowance of [...EVENT_FIELD_ALLOWANCES, ...CONTEXT_ALLOWANCES, ...COUNTER_ALLOWANCES]) {
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
