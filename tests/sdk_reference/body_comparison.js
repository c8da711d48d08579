// The field-by-field comparison of an SDK's posted body with evrelay's (compare.js runs both and
// calls compareBodies), with the differences evrelay is allowed and why, and the alterations that
// show the comparison catches what it should (checkMutationsCaught). Pure functions over parsed
// JSON: nothing here runs a program.
'use strict';

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

const ALLOWANCES = [...EVENT_FIELD_ALLOWANCES, ...CONTEXT_ALLOWANCES, ...COUNTER_ALLOWANCES];

module.exports = { compareBodies, checkMutationsCaught, isObject, show, ALLOWANCES };
