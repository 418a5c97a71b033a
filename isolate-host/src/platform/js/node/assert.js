// node:assert (and node:assert/strict): the strict assertions, AssertionError,
// throws/rejects. Written for caplet after Node.js's documented behaviour;
// the legacy loose comparisons are the strict ones.
import { inspect, deepEqual } from "node:util";

export class AssertionError extends Error {
  constructor(options) {
    super(options.message);
    this.name = "AssertionError";
    this.code = "ERR_ASSERTION";
    this.actual = options.actual;
    this.expected = options.expected;
    this.operator = options.operator;
    this.generatedMessage = !options.userMessage;
  }
}

function fail(actual, expected, message, operator, generated) {
  if (message instanceof Error) throw message;
  throw new AssertionError({ message: message !== undefined ? message : generated, userMessage: message !== undefined, actual, expected, operator });
}

function ok(value, message) {
  if (!value) fail(value, true, message, "==", `The expression evaluated to a falsy value:\n\n  assert.ok(${inspect(value)})\n`);
}
const assert = function assert(value, message) { ok(value, message); };

function strictEqual(actual, expected, message) {
  if (!Object.is(actual, expected)) fail(actual, expected, message, "strictEqual", `Expected values to be strictly equal:\n\n${inspect(actual)} !== ${inspect(expected)}\n`);
}
function notStrictEqual(actual, expected, message) {
  if (Object.is(actual, expected)) fail(actual, expected, message, "notStrictEqual", `Expected "actual" to be strictly unequal to: ${inspect(expected)}`);
}
function deepStrictEqual(actual, expected, message) {
  if (!deepEqual(actual, expected, [])) fail(actual, expected, message, "deepStrictEqual", `Expected values to be strictly deep-equal:\n+ actual - expected\n\n+ ${inspect(actual)}\n- ${inspect(expected)}`);
}
function notDeepStrictEqual(actual, expected, message) {
  if (deepEqual(actual, expected, [])) fail(actual, expected, message, "notDeepStrictEqual", `Expected "actual" not to be strictly deep-equal to: ${inspect(expected)}`);
}

function matches(error, expected) {
  if (expected === undefined) return true;
  if (expected instanceof RegExp) return expected.test(String(error));
  if (typeof expected === "function") {
    if (expected.prototype !== undefined && error instanceof expected) return true;
    if (Error.isPrototypeOf(expected) || expected === Error) return false;
    return expected.call({}, error) === true;
  }
  if (typeof expected === "object" && expected !== null) {
    for (const k of Object.keys(expected)) {
      const want = expected[k];
      const got = error == null ? undefined : error[k];
      if (want instanceof RegExp && typeof got === "string" ? !want.test(got) : !deepEqual(got, want, [])) return false;
    }
    return true;
  }
  return false;
}
function throws(fn, expected, message) {
  if (typeof expected === "string") { message = expected; expected = undefined; }
  try {
    fn();
  } catch (error) {
    if (!matches(error, expected)) fail(error, expected, message, "throws", `The error is expected to match:\n${inspect(expected)}\nbut got ${inspect(error)}`);
    return;
  }
  fail(undefined, expected, message, "throws", "Missing expected exception.");
}
function doesNotThrow(fn, message) {
  try { fn(); } catch (error) { fail(error, undefined, typeof message === "string" ? message : undefined, "doesNotThrow", `Got unwanted exception.\nActual message: "${error && error.message}"`); }
}
async function rejects(promiseOrFn, expected, message) {
  if (typeof expected === "string") { message = expected; expected = undefined; }
  try {
    await (typeof promiseOrFn === "function" ? promiseOrFn() : promiseOrFn);
  } catch (error) {
    if (!matches(error, expected)) fail(error, expected, message, "rejects", `The error is expected to match:\n${inspect(expected)}\nbut got ${inspect(error)}`);
    return;
  }
  fail(undefined, expected, message, "rejects", "Missing expected rejection.");
}
async function doesNotReject(promiseOrFn, message) {
  try { await (typeof promiseOrFn === "function" ? promiseOrFn() : promiseOrFn); } catch (error) { fail(error, undefined, message, "doesNotReject", `Got unwanted rejection.\nActual message: "${error && error.message}"`); }
}
function match(string, regexp, message) {
  if (!regexp.test(string)) fail(string, regexp, message, "match", `The input did not match the regular expression ${regexp}. Input:\n\n${inspect(string)}\n`);
}
function doesNotMatch(string, regexp, message) {
  if (regexp.test(string)) fail(string, regexp, message, "doesNotMatch", `The input was expected to not match the regular expression ${regexp}. Input:\n\n${inspect(string)}\n`);
}
function ifError(value) {
  if (value !== null && value !== undefined) throw value instanceof Error ? value : new AssertionError({ message: `ifError got unwanted exception: ${inspect(value)}`, actual: value, expected: null, operator: "ifError" });
}
function failNow(message = "Failed") { fail(undefined, undefined, message, "fail", "Failed"); }

Object.assign(assert, {
  ok, equal: strictEqual, notEqual: notStrictEqual, strictEqual, notStrictEqual,
  deepEqual: deepStrictEqual, notDeepEqual: notDeepStrictEqual, deepStrictEqual, notDeepStrictEqual,
  throws, doesNotThrow, rejects, doesNotReject, match, doesNotMatch, ifError, fail: failNow, AssertionError,
});
assert.strict = assert;

export { ok, strictEqual, notStrictEqual, deepStrictEqual, notDeepStrictEqual, throws, doesNotThrow, rejects, doesNotReject, match, doesNotMatch, ifError, failNow as fail };
export { strictEqual as equal, notStrictEqual as notEqual, deepStrictEqual as deepEqual, notDeepStrictEqual as notDeepEqual };
export const strict = assert;
export default assert;
