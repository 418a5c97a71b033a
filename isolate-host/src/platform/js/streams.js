// Streams Standard: ReadableStream (default and byte sources, default and
// BYOB readers, tee, async iteration, from), WritableStream, TransformStream,
// pipeTo/pipeThrough, and the two queuing strategies. Each class keeps its
// state in one private record; the module's functions reach it through
// accessors captured in static blocks, the way the standard's abstract
// operations reach internal slots.

import { DOMException } from "./dom_exception.js";
import { AbortController, AbortSignal, addAbortAlgorithm, removeAbortAlgorithm } from "./abort.js";
import { requiredArguments, tag, unclonable } from "./internal.js";

const construct = Symbol("construct");
let rs, ctrl, bctrl, reqOf, rdr, wsOf, wctrl, wrdr, tsOf, tctrl;

function deferred() {
  let resolve, reject;
  const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}
const resolved = (v) => Promise.resolve(v);
const rejected = (e) => Promise.reject(e);
const noop = () => {};
function markHandled(p) { p.then(noop, noop); return p; }
function call(f, self, args) {
  try { return resolved(f === undefined ? undefined : f.apply(self, args)); }
  catch (e) { return rejected(e); }
}
function method(obj, name) {
  const f = obj?.[name];
  if (f !== undefined && typeof f !== "function") throw new TypeError(`${name} must be a function`);
  return f;
}
function highWaterMark(strategy, fallback) {
  const hwm = strategy?.highWaterMark;
  if (hwm === undefined) return fallback;
  const n = Number(hwm);
  if (Number.isNaN(n) || n < 0) throw new RangeError("highWaterMark must be a non-negative number");
  return n;
}
function sizeAlgorithm(strategy) {
  const size = strategy?.size;
  if (size === undefined) return () => 1;
  if (typeof size !== "function") throw new TypeError("size must be a function");
  return (chunk) => size(chunk);
}
function validSize(size) {
  const n = Number(size);
  if (Number.isNaN(n) || n < 0 || n === Infinity) throw new RangeError("the chunk size must be a finite, non-negative number");
  return n;
}
function isBufferView(v) { return ArrayBuffer.isView(v); }
function transfer(buffer) {
  if (buffer.detached) throw new TypeError("the buffer is detached");
  return buffer.transfer();
}

// ============================================================================
// Queuing strategies
// ============================================================================

export class CountQueuingStrategy {
  #hwm;
  constructor(init) {
    requiredArguments(arguments.length, 1, "CountQueuingStrategy");
    if (init?.highWaterMark === undefined) throw new TypeError("highWaterMark is required");
    this.#hwm = Number(init.highWaterMark);
  }
  get highWaterMark() { return this.#hwm; }
  get size() { return function size() { return 1; }; }
}
tag(CountQueuingStrategy);

export class ByteLengthQueuingStrategy {
  #hwm;
  constructor(init) {
    requiredArguments(arguments.length, 1, "ByteLengthQueuingStrategy");
    if (init?.highWaterMark === undefined) throw new TypeError("highWaterMark is required");
    this.#hwm = Number(init.highWaterMark);
  }
  get highWaterMark() { return this.#hwm; }
  get size() { return function size(chunk) { return chunk.byteLength; }; }
}
tag(ByteLengthQueuingStrategy);

// ============================================================================
// ReadableStream
// ============================================================================

export class ReadableStream {
  #s = { state: "readable", reader: undefined, storedError: undefined, controller: undefined, disturbed: false };
  static { rs = (x) => x.#s; }

  constructor(underlyingSource = undefined, strategy = undefined) {
    if (underlyingSource === null) throw new TypeError("underlyingSource must not be null");
    if (underlyingSource === construct) return;
    const source = underlyingSource ?? {};
    const type = source.type === undefined ? undefined : String(source.type);
    if (type === "bytes") {
      if (strategy?.size !== undefined) throw new RangeError("a byte stream's strategy has no size");
      setUpByteController(this, source, highWaterMark(strategy, 0));
    } else if (type !== undefined) {
      throw new TypeError(`unknown stream type ${JSON.stringify(type)}`);
    } else {
      setUpDefaultController(this, source, highWaterMark(strategy, 1), sizeAlgorithm(strategy));
    }
  }

  static from(asyncIterable) {
    requiredArguments(arguments.length, 1, "ReadableStream.from");
    const method = asyncIterable?.[Symbol.asyncIterator] ?? asyncIterable?.[Symbol.iterator];
    if (typeof method !== "function") throw new TypeError("ReadableStream.from: not iterable");
    const iterator = method.call(asyncIterable);
    return createReadableStream({
      async pull(controller) {
        const result = await iterator.next();
        if (typeof result !== "object" || result === null) throw new TypeError("the iterator result is not an object");
        if (result.done) controller.close();
        else controller.enqueue(await result.value);
      },
      async cancel(reason) {
        if (typeof iterator.return === "function") {
          const result = await iterator.return(reason);
          if (typeof result !== "object" || result === null) throw new TypeError("the iterator result is not an object");
        }
      },
    }, 0);
  }

  get locked() { return this.#s.reader !== undefined; }

  cancel(reason = undefined) {
    if (this.#s.reader !== undefined) return rejected(new TypeError("the stream is locked"));
    return cancelStream(this, reason);
  }

  getReader(options = undefined) {
    const mode = options?.mode;
    if (mode === undefined) return new ReadableStreamDefaultReader(this);
    if (String(mode) !== "byob") throw new TypeError(`unknown reader mode ${JSON.stringify(String(mode))}`);
    return new ReadableStreamBYOBReader(this);
  }

  pipeThrough(transform, options = undefined) {
    requiredArguments(arguments.length, 1, "ReadableStream.pipeThrough");
    const { readable, writable } = transform ?? {};
    if (!(readable instanceof ReadableStream) || !(writable instanceof WritableStream)) {
      throw new TypeError("pipeThrough needs { readable, writable }");
    }
    if (this.locked) throw new TypeError("the stream is locked");
    if (writable.locked) throw new TypeError("the writable stream is locked");
    markHandled(pipe(this, writable, options));
    return readable;
  }

  pipeTo(destination, options = undefined) {
    requiredArguments(arguments.length, 1, "ReadableStream.pipeTo");
    if (!(destination instanceof WritableStream)) return rejected(new TypeError("pipeTo needs a WritableStream"));
    if (this.locked) return rejected(new TypeError("the stream is locked"));
    if (destination.locked) return rejected(new TypeError("the writable stream is locked"));
    try { return pipe(this, destination, options); } catch (e) { return rejected(e); }
  }

  tee() {
    const reader = new ReadableStreamDefaultReader(this);
    let reading = false, readAgain = false, canceled1 = false, canceled2 = false, reason1, reason2;
    const cancelled = deferred();
    let branch1, branch2;
    const pull = () => {
      if (reading) { readAgain = true; return resolved(); }
      reading = true;
      reader.read().then(({ value, done }) => {
        reading = false;
        if (done) {
          if (!canceled1) rs(branch1).controller.close();
          if (!canceled2) rs(branch2).controller.close();
          cancelled.resolve();
          return;
        }
        if (!canceled1) rs(branch1).controller.enqueue(value);
        if (!canceled2) rs(branch2).controller.enqueue(value);
        if (readAgain) { readAgain = false; pull(); }
      }, () => { reading = false; });
      return resolved();
    };
    const cancelBranch = (first) => (reason) => {
      if (first) { canceled1 = true; reason1 = reason; } else { canceled2 = true; reason2 = reason; }
      if (canceled1 && canceled2) cancelled.resolve(cancelStream(this, [reason1, reason2]));
      return cancelled.promise;
    };
    branch1 = createReadableStream({ pull, cancel: cancelBranch(true) });
    branch2 = createReadableStream({ pull, cancel: cancelBranch(false) });
    rdr(reader).closed.promise.catch((e) => {
      controllerError(rs(branch1).controller, e);
      controllerError(rs(branch2).controller, e);
      if (!canceled1 || !canceled2) cancelled.resolve();
    });
    return [branch1, branch2];
  }

  values(options = undefined) {
    const reader = new ReadableStreamDefaultReader(this);
    const preventCancel = Boolean(options?.preventCancel);
    let finished = false;
    const iterator = {
      async next() {
        if (finished) return { value: undefined, done: true };
        const result = await reader.read().catch((e) => { finished = true; reader.releaseLock(); throw e; });
        if (result.done) { finished = true; reader.releaseLock(); }
        return result;
      },
      async return(value) {
        if (!finished) {
          finished = true;
          if (!preventCancel) {
            const done = reader.cancel(value);
            reader.releaseLock();
            await done;
          } else {
            reader.releaseLock();
          }
        }
        return { value, done: true };
      },
      [Symbol.asyncIterator]() { return this; },
    };
    Object.setPrototypeOf(iterator, AsyncIteratorPrototype);
    return iterator;
  }

  [Symbol.asyncIterator](options = undefined) { return this.values(options); }
}
const AsyncIteratorPrototype = Object.getPrototypeOf(Object.getPrototypeOf(async function* () {}).prototype);
tag(ReadableStream);
unclonable.add(ReadableStream.prototype);

/** A readable stream over `source` (a default source), for the platform. */
export function createReadableStream(source, hwm = 1, size = () => 1) {
  const stream = new ReadableStream(construct);
  setUpDefaultController(stream, source, hwm, size);
  return stream;
}

/** Whether the stream was ever read from or cancelled (Fetch's "disturbed"). */
export function isDisturbed(stream) { return rs(stream).disturbed; }
export function isErrored(stream) { return rs(stream).state === "errored"; }

function cancelStream(stream, reason) {
  const s = rs(stream);
  s.disturbed = true;
  if (s.state === "closed") return resolved();
  if (s.state === "errored") return rejected(s.storedError);
  closeStream(stream);
  const reader = s.reader;
  if (reader instanceof ReadableStreamBYOBReader) {
    const r = rdr(reader);
    for (const request of r.readIntoRequests.splice(0)) request.close(undefined);
  }
  return s.controller.cancelSteps(reason).then(noop);
}

function closeStream(stream) {
  const s = rs(stream);
  s.state = "closed";
  const reader = s.reader;
  if (reader === undefined) return;
  const r = rdr(reader);
  r.closed.resolve();
  if (r.readRequests) for (const request of r.readRequests.splice(0)) request.close();
}

function errorStream(stream, e) {
  const s = rs(stream);
  s.state = "errored";
  s.storedError = e;
  const reader = s.reader;
  if (reader === undefined) return;
  const r = rdr(reader);
  r.closed.reject(e);
  markHandled(r.closed.promise);
  for (const request of (r.readRequests ?? r.readIntoRequests).splice(0)) request.error(e);
}

// ---------------------------------------------------------------- readers

function acquire(reader, stream) {
  const s = rs(stream);
  if (s.reader !== undefined) throw new TypeError("the stream is locked");
  const r = rdr(reader);
  r.stream = stream;
  s.reader = reader;
  r.closed = deferred();
  if (s.state === "closed") r.closed.resolve();
  else if (s.state === "errored") { r.closed.reject(s.storedError); markHandled(r.closed.promise); }
}

function release(reader) {
  const r = rdr(reader);
  const s = rs(r.stream);
  const e = new TypeError("the reader was released");
  if (s.state === "readable") r.closed.reject(e);
  else { r.closed = deferred(); r.closed.reject(e); }
  markHandled(r.closed.promise);
  s.controller.releaseSteps?.();
  s.reader = undefined;
  r.stream = undefined;
  for (const request of (r.readRequests ?? r.readIntoRequests).splice(0)) request.error(e);
}

export class ReadableStreamDefaultReader {
  #r = { stream: undefined, closed: undefined, readRequests: [] };
  static { rdr = (x) => x.#r; }
  constructor(stream) {
    requiredArguments(arguments.length, 1, "ReadableStreamDefaultReader");
    if (!(stream instanceof ReadableStream)) throw new TypeError("not a ReadableStream");
    acquire(this, stream);
  }
  get closed() { return this.#r.closed.promise; }
  read() {
    const stream = this.#r.stream;
    if (stream === undefined) return rejected(new TypeError("the reader was released"));
    const d = deferred();
    const s = rs(stream);
    s.disturbed = true;
    if (s.state === "closed") d.resolve({ value: undefined, done: true });
    else if (s.state === "errored") d.reject(s.storedError);
    else s.controller.pullSteps({
      chunk: (value) => d.resolve({ value, done: false }),
      close: () => d.resolve({ value: undefined, done: true }),
      error: (e) => d.reject(e),
    });
    return d.promise;
  }
  cancel(reason = undefined) {
    if (this.#r.stream === undefined) return rejected(new TypeError("the reader was released"));
    return cancelStream(this.#r.stream, reason);
  }
  releaseLock() {
    if (this.#r.stream !== undefined) release(this);
  }
}
tag(ReadableStreamDefaultReader);

export class ReadableStreamBYOBReader {
  #r = { stream: undefined, closed: undefined, readIntoRequests: [] };
  static { const prior = rdr; rdr = (x) => (#r in x ? x.#r : prior(x)); }
  constructor(stream) {
    requiredArguments(arguments.length, 1, "ReadableStreamBYOBReader");
    if (!(stream instanceof ReadableStream)) throw new TypeError("not a ReadableStream");
    if (!(rs(stream).controller instanceof ReadableByteStreamController)) {
      throw new TypeError("a BYOB reader needs a byte stream");
    }
    acquire(this, stream);
  }
  get closed() { return this.#r.closed.promise; }
  read(view, options = undefined) {
    if (!isBufferView(view)) return rejected(new TypeError("read needs an ArrayBufferView"));
    if (view.byteLength === 0) return rejected(new TypeError("the view is empty"));
    if (view.buffer.byteLength === 0 || view.buffer.detached) return rejected(new TypeError("the view's buffer is detached"));
    const elementSize = view.BYTES_PER_ELEMENT ?? 1;
    const length = view instanceof DataView ? view.byteLength : view.length;
    const min = options?.min === undefined ? 1 : Number(options.min);
    if (!(min > 0) || min > length) return rejected(new RangeError("min is out of range"));
    const stream = this.#r.stream;
    if (stream === undefined) return rejected(new TypeError("the reader was released"));
    const d = deferred();
    const s = rs(stream);
    s.disturbed = true;
    if (s.state === "errored") { d.reject(s.storedError); return d.promise; }
    bctrl(s.controller).pullInto(view, min * elementSize, {
      chunk: (value) => d.resolve({ value, done: false }),
      close: (value) => d.resolve({ value, done: true }),
      error: (e) => d.reject(e),
    });
    return d.promise;
  }
  cancel(reason = undefined) {
    if (this.#r.stream === undefined) return rejected(new TypeError("the reader was released"));
    return cancelStream(this.#r.stream, reason);
  }
  releaseLock() {
    if (this.#r.stream !== undefined) release(this);
  }
}
tag(ReadableStreamBYOBReader);

// ---------------------------------------------------------------- default controller

export class ReadableStreamDefaultController {
  #c;
  static { ctrl = (x) => x.#c; }
  constructor(key, c) {
    if (key !== construct) throw new TypeError("Illegal constructor");
    this.#c = c;
  }
  get desiredSize() { return desiredSize(this.#c); }
  close() {
    if (!canCloseOrEnqueue(this.#c)) throw new TypeError("the stream cannot be closed");
    const c = this.#c;
    c.closeRequested = true;
    if (c.queue.length === 0) { clearAlgorithms(c); closeStream(c.stream); }
  }
  enqueue(chunk = undefined) {
    if (!canCloseOrEnqueue(this.#c)) throw new TypeError("the stream cannot take more chunks");
    defaultEnqueue(this.#c, chunk);
  }
  error(e = undefined) { controllerError(this, e); }
  cancelSteps(reason) {
    const c = this.#c;
    c.queue.length = 0;
    c.queueTotalSize = 0;
    const result = c.cancel(reason);
    clearAlgorithms(c);
    return result;
  }
  pullSteps(request) {
    const c = this.#c;
    if (c.queue.length > 0) {
      const { value, size } = c.queue.shift();
      c.queueTotalSize = Math.max(0, c.queueTotalSize - size);
      if (c.closeRequested && c.queue.length === 0) { clearAlgorithms(c); closeStream(c.stream); }
      else pullIfNeeded(c);
      request.chunk(value);
    } else {
      rdr(rs(c.stream).reader).readRequests.push(request);
      pullIfNeeded(c);
    }
  }
}
tag(ReadableStreamDefaultController);

function desiredSize(c) {
  const state = rs(c.stream).state;
  if (state === "errored") return null;
  if (state === "closed") return 0;
  return c.hwm - c.queueTotalSize;
}
function canCloseOrEnqueue(c) {
  return !c.closeRequested && rs(c.stream).state === "readable";
}
function clearAlgorithms(c) {
  c.pull = () => resolved();
  c.cancel = () => resolved();
  c.size = () => 1;
}
function defaultEnqueue(c, chunk) {
  const reader = rs(c.stream).reader;
  const requests = reader && rdr(reader).readRequests;
  if (requests && requests.length > 0) {
    requests.shift().chunk(chunk);
  } else {
    let size;
    try { size = validSize(c.size(chunk)); }
    catch (e) { controllerErrorRecord(c, e); throw e; }
    c.queue.push({ value: chunk, size });
    c.queueTotalSize += size;
  }
  pullIfNeeded(c);
}
function controllerErrorRecord(c, e) {
  if (rs(c.stream).state !== "readable") return;
  c.queue.length = 0;
  c.queueTotalSize = 0;
  clearAlgorithms(c);
  errorStream(c.stream, e);
}
function controllerError(controller, e) {
  if (controller instanceof ReadableByteStreamController) bctrl(controller).error(e);
  else controllerErrorRecord(ctrl(controller), e);
}
function shouldPull(c) {
  if (!canCloseOrEnqueue(c) || !c.started) return false;
  const reader = rs(c.stream).reader;
  const waiting = reader && (rdr(reader).readRequests?.length ?? 0) > 0;
  return waiting || desiredSize(c) > 0;
}
function pullIfNeeded(c) {
  if (!shouldPull(c)) return;
  if (c.pulling) { c.pullAgain = true; return; }
  c.pulling = true;
  c.pull(c.controller).then(() => {
    c.pulling = false;
    if (c.pullAgain) { c.pullAgain = false; pullIfNeeded(c); }
  }, (e) => controllerErrorRecord(c, e));
}

function setUpDefaultController(stream, source, hwm, size) {
  const start = method(source, "start");
  const pull = method(source, "pull");
  const cancel = method(source, "cancel");
  const c = {
    stream, queue: [], queueTotalSize: 0, hwm, size,
    started: false, closeRequested: false, pulling: false, pullAgain: false,
    pull: (controller) => call(pull, source, [controller]),
    cancel: (reason) => call(cancel, source, [reason]),
  };
  const controller = new ReadableStreamDefaultController(construct, c);
  c.controller = controller;
  rs(stream).controller = controller;
  const started = start === undefined ? undefined : start.call(source, controller);
  resolved(started).then(() => {
    c.started = true;
    pullIfNeeded(c);
  }, (e) => controllerErrorRecord(c, e));
}

// ---------------------------------------------------------------- byte controller

export class ReadableStreamBYOBRequest {
  #q;
  static { reqOf = (x) => x.#q; }
  constructor(key, q) {
    if (key !== construct) throw new TypeError("Illegal constructor");
    this.#q = q;
  }
  get view() { return this.#q.view; }
  respond(bytesWritten) {
    requiredArguments(arguments.length, 1, "ReadableStreamBYOBRequest.respond");
    if (this.#q.controller === undefined) throw new TypeError("the request was already answered");
    const n = Number(bytesWritten);
    if (!(n >= 0) || !Number.isFinite(n)) throw new TypeError("bytesWritten must be a non-negative number");
    this.#q.controller.respond(n);
  }
  respondWithNewView(view) {
    requiredArguments(arguments.length, 1, "ReadableStreamBYOBRequest.respondWithNewView");
    if (!isBufferView(view)) throw new TypeError("not an ArrayBufferView");
    if (this.#q.controller === undefined) throw new TypeError("the request was already answered");
    this.#q.controller.respondWithNewView(view);
  }
}
tag(ReadableStreamBYOBRequest);

export class ReadableByteStreamController {
  #b;
  static { bctrl = (x) => x.#b; }
  constructor(key, b) {
    if (key !== construct) throw new TypeError("Illegal constructor");
    this.#b = b;
  }
  get byobRequest() { return this.#b.byobRequest(); }
  get desiredSize() { return this.#b.desiredSize(); }
  close() { this.#b.close(); }
  enqueue(chunk) {
    requiredArguments(arguments.length, 1, "ReadableByteStreamController.enqueue");
    if (!isBufferView(chunk)) throw new TypeError("enqueue needs an ArrayBufferView");
    if (chunk.byteLength === 0 || chunk.buffer.byteLength === 0) throw new TypeError("the chunk is empty");
    this.#b.enqueue(chunk);
  }
  error(e = undefined) { this.#b.error(e); }
  cancelSteps(reason) { return this.#b.cancelSteps(reason); }
  pullSteps(request) { this.#b.pullSteps(request); }
  releaseSteps() { this.#b.releaseSteps(); }
}
tag(ReadableByteStreamController);

function setUpByteController(stream, source, hwm) {
  const start = method(source, "start");
  const pull = method(source, "pull");
  const cancel = method(source, "cancel");
  let autoAllocate = source.autoAllocateChunkSize;
  if (autoAllocate !== undefined) {
    autoAllocate = Number(autoAllocate);
    if (!Number.isInteger(autoAllocate) || autoAllocate <= 0) throw new TypeError("autoAllocateChunkSize must be a positive integer");
  }
  const b = new ByteController(stream, hwm, autoAllocate,
    (controller) => call(pull, source, [controller]),
    (reason) => call(cancel, source, [reason]));
  const controller = new ReadableByteStreamController(construct, b);
  b.controller = controller;
  rs(stream).controller = controller;
  const started = start === undefined ? undefined : start.call(source, controller);
  resolved(started).then(() => {
    b.started = true;
    b.pullIfNeeded();
  }, (e) => b.error(e));
}

class ByteController {
  constructor(stream, hwm, autoAllocate, pull, cancel) {
    Object.assign(this, {
      stream, hwm, autoAllocate, pullAlgorithm: pull, cancelAlgorithm: cancel,
      queue: [], queueTotalSize: 0, pending: [], started: false, closeRequested: false,
      pulling: false, pullAgain: false, request: null,
    });
  }
  get s() { return rs(this.stream); }
  readerRequests() {
    const reader = this.s.reader;
    return reader === undefined ? [] : (rdr(reader).readRequests ?? rdr(reader).readIntoRequests);
  }
  isDefaultReader() { return this.s.reader instanceof ReadableStreamDefaultReader; }
  desiredSize() {
    if (this.s.state === "errored") return null;
    if (this.s.state === "closed") return 0;
    return this.hwm - this.queueTotalSize;
  }
  byobRequest() {
    if (this.request === null && this.pending.length > 0) {
      const p = this.pending[0];
      const view = new Uint8Array(p.buffer, p.byteOffset + p.filled, p.byteLength - p.filled);
      this.request = new ReadableStreamBYOBRequest(construct, { view, controller: this });
    }
    return this.request;
  }
  invalidateRequest() {
    if (this.request !== null) {
      const q = reqOf(this.request);
      q.controller = undefined;
      q.view = null;
      this.request = null;
    }
  }
  close() {
    if (this.closeRequested || this.s.state !== "readable") throw new TypeError("the stream cannot be closed");
    if (this.queueTotalSize > 0) { this.closeRequested = true; return; }
    const first = this.pending[0];
    if (first !== undefined && first.filled % first.elementSize !== 0) {
      const e = new TypeError("the stream closed in the middle of an element");
      this.error(e);
      throw e;
    }
    this.clear();
    closeStream(this.stream);
    this.closePending();
  }
  closePending() {
    // Pending BYOB reads end with an empty view of their buffer.
    for (const p of this.pending.splice(0)) {
      if (p.kind === "none") continue;
      const reader = this.s.reader;
      if (reader instanceof ReadableStreamBYOBReader) {
        const list = rdr(reader).readIntoRequests;
        const at = list.indexOf(p.request);
        if (at >= 0) list.splice(at, 1);
      }
      p.request.close(this.view(p, 0));
    }
    this.invalidateRequest();
  }
  enqueue(chunk) {
    if (this.closeRequested || this.s.state !== "readable") throw new TypeError("the stream cannot take more chunks");
    const byteOffset = chunk.byteOffset;
    const byteLength = chunk.byteLength;
    const buffer = transfer(chunk.buffer);
    if (this.pending.length > 0) {
      this.invalidateRequest();
      const first = this.pending[0];
      first.buffer = transfer(first.buffer);
      if (first.kind === "none") {
        this.pending.shift();
        if (first.filled > 0) this.queue.push({ buffer: first.buffer.slice(first.byteOffset, first.byteOffset + first.filled), byteOffset: 0, byteLength: first.filled });
        this.queueTotalSize += first.filled;
      }
    }
    if (this.isDefaultReader()) {
      this.processReadRequests();
      const requests = this.readerRequests();
      if (requests.length > 0 && this.queue.length === 0) {
        requests.shift().chunk(new Uint8Array(buffer, byteOffset, byteLength));
      } else {
        this.push(buffer, byteOffset, byteLength);
      }
    } else if (this.s.reader instanceof ReadableStreamBYOBReader) {
      this.push(buffer, byteOffset, byteLength);
      this.processPullIntos();
    } else {
      this.push(buffer, byteOffset, byteLength);
    }
    this.pullIfNeeded();
  }
  push(buffer, byteOffset, byteLength) {
    this.queue.push({ buffer, byteOffset, byteLength });
    this.queueTotalSize += byteLength;
  }
  processReadRequests() {
    const requests = this.readerRequests();
    while (requests.length > 0 && this.queue.length > 0) {
      const entry = this.queue.shift();
      this.queueTotalSize -= entry.byteLength;
      this.afterDrain();
      requests.shift().chunk(new Uint8Array(entry.buffer, entry.byteOffset, entry.byteLength));
    }
  }
  // Copies queued bytes into a pull-into; true once it holds `min` bytes.
  fill(p) {
    const wanted = p.byteLength - p.filled;
    let left = Math.min(this.queueTotalSize, wanted);
    const target = new Uint8Array(p.buffer, p.byteOffset, p.byteLength);
    while (left > 0) {
      const head = this.queue[0];
      const n = Math.min(left, head.byteLength);
      target.set(new Uint8Array(head.buffer, head.byteOffset, n), p.filled);
      if (n === head.byteLength) this.queue.shift();
      else { head.byteOffset += n; head.byteLength -= n; }
      this.queueTotalSize -= n;
      p.filled += n;
      left -= n;
    }
    return p.filled >= p.min;
  }
  view(p, filled) {
    const length = Math.floor(filled / p.elementSize);
    return new p.ctor(p.buffer, p.byteOffset, p.ctor === DataView ? filled : length);
  }
  commit(p) {
    const reader = this.s.reader;
    if (reader instanceof ReadableStreamBYOBReader) {
      const list = rdr(reader).readIntoRequests;
      const at = list.indexOf(p.request);
      if (at >= 0) list.splice(at, 1);
    }
    const done = this.s.state === "closed";
    const view = this.view(p, p.filled);
    if (p.kind === "default") p.request.chunk(view);
    else if (done) p.request.close(view);
    else p.request.chunk(view);
  }
  processPullIntos() {
    while (this.pending.length > 0 && this.queueTotalSize > 0) {
      const p = this.pending[0];
      if (this.fill(p)) {
        this.pending.shift();
        this.invalidateRequest();
        this.commit(p);
      } else break;
    }
    this.afterDrain();
  }
  afterDrain() {
    if (this.queueTotalSize === 0 && this.closeRequested) {
      this.clear();
      closeStream(this.stream);
      this.closePending();
    }
  }
  pullInto(view, min, request) {
    const ctor = view instanceof DataView ? DataView : view.constructor;
    const elementSize = view.BYTES_PER_ELEMENT ?? 1;
    const { byteOffset, byteLength } = view;
    let buffer;
    try { buffer = transfer(view.buffer); } catch (e) { request.error(e); return; }
    const p = { buffer, byteOffset, byteLength, filled: 0, min, elementSize, ctor, kind: "byob", request };
    if (this.pending.length > 0) { this.pending.push(p); return; }
    if (this.s.state === "closed") { request.close(this.view(p, 0)); return; }
    if (this.queueTotalSize > 0) {
      if (this.fill(p)) {
        this.afterDrain();
        this.commit(p);
        return;
      }
      if (this.closeRequested) {
        const e = new TypeError("the stream closed in the middle of an element");
        this.error(e);
        request.error(e);
        return;
      }
    }
    this.pending.push(p);
    rdr(this.s.reader).readIntoRequests.push(request);
    this.pullIfNeeded();
  }
  pullSteps(request) {
    if (this.queueTotalSize > 0) {
      const entry = this.queue.shift();
      this.queueTotalSize -= entry.byteLength;
      this.afterDrain();
      if (this.s.state !== "closed") this.pullIfNeeded();
      request.chunk(new Uint8Array(entry.buffer, entry.byteOffset, entry.byteLength));
      return;
    }
    if (this.autoAllocate !== undefined) {
      this.pending.push({
        buffer: new ArrayBuffer(this.autoAllocate), byteOffset: 0, byteLength: this.autoAllocate,
        filled: 0, min: 1, elementSize: 1, ctor: Uint8Array, kind: "default", request,
      });
      this.pullIfNeeded();
      return;
    }
    rdr(this.s.reader).readRequests.push(request);
    this.pullIfNeeded();
  }
  releaseSteps() {
    if (this.pending.length > 0) {
      const first = this.pending[0];
      first.kind = "none";
      this.pending.length = 1;
    }
  }
  respond(n) {
    const p = this.pending[0];
    if (p === undefined) throw new TypeError("no read is pending");
    if (this.s.state === "closed") {
      if (n !== 0) throw new TypeError("a closed stream can only respond with 0 bytes");
    } else if (n === 0 || p.filled + n > p.byteLength) {
      throw new RangeError("bytesWritten is out of range");
    }
    p.buffer = transfer(p.buffer);
    this.respondInternal(p, n);
  }
  respondWithNewView(view) {
    const p = this.pending[0];
    if (p === undefined) throw new TypeError("no read is pending");
    if (view.byteOffset !== p.byteOffset + p.filled) throw new RangeError("the view's offset does not match");
    if (view.buffer.byteLength !== p.byteLength + p.byteOffset - p.byteOffset && view.buffer.byteLength !== p.buffer.byteLength) {
      throw new RangeError("the view's buffer length does not match");
    }
    if (p.filled + view.byteLength > p.byteLength) throw new RangeError("the view is too long");
    const n = view.byteLength;
    if (this.s.state === "closed" ? n !== 0 : n === 0) throw new TypeError("the view's length is wrong for the stream's state");
    p.buffer = transfer(view.buffer);
    this.respondInternal(p, n);
  }
  respondInternal(p, n) {
    this.invalidateRequest();
    if (this.s.state === "closed") {
      if (p.kind === "none") this.pending.shift();
      else { this.pending.shift(); p.request.close(this.view(p, 0)); }
    } else {
      p.filled += n;
      if (p.kind === "none") {
        this.pending.shift();
        if (p.filled > 0) this.push(p.buffer.slice(p.byteOffset, p.byteOffset + p.filled), 0, p.filled);
        this.processPullIntos();
      } else if (p.filled >= p.min) {
        this.pending.shift();
        const rest = p.filled % p.elementSize;
        if (rest > 0) {
          const end = p.byteOffset + p.filled;
          this.push(p.buffer.slice(end - rest, end), 0, rest);
          p.filled -= rest;
        }
        this.commit(p);
        this.processPullIntos();
      }
    }
    this.pullIfNeeded();
  }
  error(e) {
    if (this.s.state !== "readable") return;
    this.invalidateRequest();
    this.pending.length = 0;
    this.queue.length = 0;
    this.queueTotalSize = 0;
    this.clear();
    errorStream(this.stream, e);
  }
  clear() {
    this.pullAlgorithm = () => resolved();
    this.cancelAlgorithm = () => resolved();
  }
  cancelSteps(reason) {
    this.pending.length = 0;
    this.invalidateRequest();
    this.queue.length = 0;
    this.queueTotalSize = 0;
    const result = this.cancelAlgorithm(reason);
    this.clear();
    return result;
  }
  shouldPull() {
    if (this.s.state !== "readable" || this.closeRequested || !this.started) return false;
    if (this.readerRequests().length > 0 || this.pending.length > 0) return true;
    return this.desiredSize() > 0;
  }
  pullIfNeeded() {
    if (!this.shouldPull()) return;
    if (this.pulling) { this.pullAgain = true; return; }
    this.pulling = true;
    this.pullAlgorithm(this.controller).then(() => {
      this.pulling = false;
      if (this.pullAgain) { this.pullAgain = false; this.pullIfNeeded(); }
    }, (e) => this.error(e));
  }
}

// ============================================================================
// WritableStream
// ============================================================================

export class WritableStream {
  #w = {
    state: "writable", storedError: undefined, writer: undefined, controller: undefined,
    writeRequests: [], inFlightWrite: undefined, closeRequest: undefined, inFlightClose: undefined,
    pendingAbort: undefined, backpressure: false,
  };
  static { wsOf = (x) => x.#w; }

  constructor(underlyingSink = undefined, strategy = undefined) {
    if (underlyingSink === null) throw new TypeError("underlyingSink must not be null");
    if (underlyingSink === construct) return;
    const sink = underlyingSink ?? {};
    if (sink.type !== undefined) throw new RangeError("a writable stream has no type");
    setUpWritable(this, sink, highWaterMark(strategy, 1), sizeAlgorithm(strategy));
  }
  get locked() { return this.#w.writer !== undefined; }
  abort(reason = undefined) {
    if (this.locked) return rejected(new TypeError("the stream is locked"));
    return abortWritable(this, reason);
  }
  close() {
    if (this.locked) return rejected(new TypeError("the stream is locked"));
    if (closeQueuedOrInFlight(this.#w)) return rejected(new TypeError("the stream is already closing"));
    return closeWritable(this);
  }
  getWriter() { return new WritableStreamDefaultWriter(this); }
}
tag(WritableStream);
unclonable.add(WritableStream.prototype);

/** A writable stream over `sink`, for the platform. */
export function createWritableStream(sink, hwm = 1, size = () => 1) {
  const stream = new WritableStream(construct);
  setUpWritable(stream, sink, hwm, size);
  return stream;
}

function closeQueuedOrInFlight(w) {
  return w.closeRequest !== undefined || w.inFlightClose !== undefined;
}

function abortWritable(stream, reason) {
  const w = wsOf(stream);
  if (w.state === "closed" || w.state === "errored") return resolved();
  wctrl(w.controller).signal.abort(reason);
  if (w.state === "closed" || w.state === "errored") return resolved();
  if (w.pendingAbort !== undefined) return w.pendingAbort.d.promise;
  const wasAlreadyErroring = w.state === "erroring";
  if (wasAlreadyErroring) reason = undefined;
  const d = deferred();
  w.pendingAbort = { d, reason, wasAlreadyErroring };
  if (!wasAlreadyErroring) startErroring(stream, reason);
  return d.promise;
}

function closeWritable(stream) {
  const w = wsOf(stream);
  if (w.state === "closed" || w.state === "errored") return rejected(new TypeError("the stream is closed or errored"));
  const d = deferred();
  w.closeRequest = d;
  const writer = w.writer;
  if (writer !== undefined && w.backpressure && w.state === "writable") wrdr(writer).ready.resolve();
  const c = wctrl(w.controller);
  c.queue.push({ close: true, size: 0 });
  advanceQueueIfNeeded(c);
  return d.promise;
}

function startErroring(stream, reason) {
  const w = wsOf(stream);
  const c = wctrl(w.controller);
  w.state = "erroring";
  w.storedError = reason;
  const writer = w.writer;
  if (writer !== undefined) ensureReadyRejected(writer, reason);
  if (w.inFlightWrite === undefined && w.inFlightClose === undefined && c.started) finishErroring(stream);
}

function finishErroring(stream) {
  const w = wsOf(stream);
  w.state = "errored";
  const c = wctrl(w.controller);
  c.queue.length = 0;
  c.queueTotalSize = 0;
  const e = w.storedError;
  for (const request of w.writeRequests.splice(0)) request.reject(e);
  if (w.pendingAbort === undefined) { rejectCloseAndClosed(stream); return; }
  const abort = w.pendingAbort;
  w.pendingAbort = undefined;
  if (abort.wasAlreadyErroring) {
    abort.d.reject(e);
    rejectCloseAndClosed(stream);
    return;
  }
  c.abort(abort.reason).then(() => {
    abort.d.resolve();
    rejectCloseAndClosed(stream);
  }, (reason) => {
    abort.d.reject(reason);
    rejectCloseAndClosed(stream);
  });
}

function rejectCloseAndClosed(stream) {
  const w = wsOf(stream);
  if (w.closeRequest !== undefined) {
    w.closeRequest.reject(w.storedError);
    w.closeRequest = undefined;
  }
  const writer = w.writer;
  if (writer !== undefined) {
    const r = wrdr(writer);
    r.closed.reject(w.storedError);
    markHandled(r.closed.promise);
  }
}

function dealWithRejection(stream, e) {
  const w = wsOf(stream);
  if (w.state === "writable") { startErroring(stream, e); return; }
  finishErroring(stream);
}

function updateBackpressure(stream, backpressure) {
  const w = wsOf(stream);
  const writer = w.writer;
  if (writer !== undefined && backpressure !== w.backpressure) {
    const r = wrdr(writer);
    if (backpressure) r.ready = deferred();
    else r.ready.resolve();
  }
  w.backpressure = backpressure;
}

function ensureReadyRejected(writer, e) {
  const r = wrdr(writer);
  if (r.readySettled) r.ready = deferred();
  r.ready.reject(e);
  r.readySettled = true;
  markHandled(r.ready.promise);
}

export class WritableStreamDefaultWriter {
  #r = { stream: undefined, ready: undefined, closed: undefined, readySettled: false };
  static { wrdr = (x) => x.#r; }
  constructor(stream) {
    requiredArguments(arguments.length, 1, "WritableStreamDefaultWriter");
    if (!(stream instanceof WritableStream)) throw new TypeError("not a WritableStream");
    const w = wsOf(stream);
    if (w.writer !== undefined) throw new TypeError("the stream is locked");
    const r = this.#r;
    r.stream = stream;
    w.writer = this;
    r.ready = deferred();
    r.closed = deferred();
    if (w.state === "writable") {
      if (!closeQueuedOrInFlight(w) && w.backpressure) { /* pending */ } else r.ready.resolve();
    } else if (w.state === "erroring") {
      r.ready.reject(w.storedError);
      r.readySettled = true;
      markHandled(r.ready.promise);
    } else if (w.state === "closed") {
      r.ready.resolve();
      r.closed.resolve();
    } else {
      r.ready.reject(w.storedError);
      markHandled(r.ready.promise);
      r.closed.reject(w.storedError);
      markHandled(r.closed.promise);
    }
  }
  get closed() { return this.#r.closed.promise; }
  get ready() { return this.#r.ready.promise; }
  get desiredSize() {
    const stream = this.#r.stream;
    if (stream === undefined) throw new TypeError("the writer was released");
    const w = wsOf(stream);
    if (w.state === "errored" || w.state === "erroring") return null;
    if (w.state === "closed") return 0;
    const c = wctrl(w.controller);
    return c.hwm - c.queueTotalSize;
  }
  abort(reason = undefined) {
    if (this.#r.stream === undefined) return rejected(new TypeError("the writer was released"));
    return abortWritable(this.#r.stream, reason);
  }
  close() {
    const stream = this.#r.stream;
    if (stream === undefined) return rejected(new TypeError("the writer was released"));
    if (closeQueuedOrInFlight(wsOf(stream))) return rejected(new TypeError("the stream is already closing"));
    return closeWritable(stream);
  }
  releaseLock() {
    const stream = this.#r.stream;
    if (stream === undefined) return;
    const e = new TypeError("the writer was released");
    ensureReadyRejected(this, e);
    const r = this.#r;
    const w = wsOf(stream);
    if (w.state === "writable" || w.state === "erroring") r.closed.reject(e);
    else { r.closed = deferred(); r.closed.reject(e); }
    markHandled(r.closed.promise);
    w.writer = undefined;
    r.stream = undefined;
  }
  write(chunk = undefined) {
    const stream = this.#r.stream;
    if (stream === undefined) return rejected(new TypeError("the writer was released"));
    const w = wsOf(stream);
    const c = wctrl(w.controller);
    let size;
    try { size = validSize(c.size(chunk)); }
    catch (e) {
      if (w.state === "writable") controllerErrorWritable(c, e);
      return rejected(e);
    }
    if (stream !== this.#r.stream) return rejected(new TypeError("the writer was released"));
    if (w.state === "errored") return rejected(w.storedError);
    if (closeQueuedOrInFlight(w) || w.state === "closed") return rejected(new TypeError("the stream is closing or closed"));
    if (w.state === "erroring") return rejected(w.storedError);
    const d = deferred();
    w.writeRequests.push(d);
    c.queue.push({ value: chunk, size });
    c.queueTotalSize += size;
    if (!closeQueuedOrInFlight(w) && w.state === "writable") updateBackpressure(stream, c.hwm - c.queueTotalSize <= 0);
    advanceQueueIfNeeded(c);
    return d.promise;
  }
}
tag(WritableStreamDefaultWriter);

export class WritableStreamDefaultController {
  #c;
  static { wctrl = (x) => x.#c; }
  constructor(key, c) {
    if (key !== construct) throw new TypeError("Illegal constructor");
    this.#c = c;
  }
  get signal() { return this.#c.signal.signal; }
  error(e = undefined) {
    if (wsOf(this.#c.stream).state !== "writable") return;
    controllerErrorWritable(this.#c, e);
  }
}
tag(WritableStreamDefaultController);

function controllerErrorWritable(c, e) {
  c.clear();
  startErroring(c.stream, e);
}

function setUpWritable(stream, sink, hwm, size) {
  const start = method(sink, "start");
  const write = method(sink, "write");
  const close = method(sink, "close");
  const abort = method(sink, "abort");
  const c = {
    stream, hwm, size, queue: [], queueTotalSize: 0, started: false,
    signal: new AbortController(),
    write: (chunk, controller) => call(write, sink, [chunk, controller]),
    close: () => call(close, sink, []),
    abort: (reason) => call(abort, sink, [reason]),
    clear() {
      c.write = () => resolved();
      c.close = () => resolved();
      c.abort = () => resolved();
      c.size = () => 1;
    },
  };
  const controller = new WritableStreamDefaultController(construct, c);
  c.controller = controller;
  wsOf(stream).controller = controller;
  updateBackpressure(stream, hwm <= 0);
  let started;
  try { started = start === undefined ? undefined : start.call(sink, controller); }
  catch (e) { throw e; }
  resolved(started).then(() => {
    c.started = true;
    advanceQueueIfNeeded(c);
  }, (e) => {
    c.started = true;
    dealWithRejection(stream, e);
  });
}

function advanceQueueIfNeeded(c) {
  const stream = c.stream;
  const w = wsOf(stream);
  if (!c.started || w.inFlightWrite !== undefined) return;
  if (w.state === "erroring") { finishErroring(stream); return; }
  if (c.queue.length === 0) return;
  const head = c.queue[0];
  if (head.close) {
    w.inFlightClose = w.closeRequest;
    w.closeRequest = undefined;
    c.queue.shift();
    const result = c.close();
    c.clear();
    result.then(() => {
      w.inFlightClose.resolve();
      w.inFlightClose = undefined;
      if (w.state === "erroring") {
        w.storedError = undefined;
        if (w.pendingAbort !== undefined) { w.pendingAbort.d.resolve(); w.pendingAbort = undefined; }
      }
      w.state = "closed";
      const writer = w.writer;
      if (writer !== undefined) wrdr(writer).closed.resolve();
    }, (e) => {
      w.inFlightClose.reject(e);
      w.inFlightClose = undefined;
      if (w.pendingAbort !== undefined) { w.pendingAbort.d.reject(e); w.pendingAbort = undefined; }
      dealWithRejection(stream, e);
    });
    return;
  }
  w.inFlightWrite = w.writeRequests.shift();
  c.write(head.value, c.controller).then(() => {
    w.inFlightWrite.resolve();
    w.inFlightWrite = undefined;
    const state = w.state;
    c.queue.shift();
    c.queueTotalSize = Math.max(0, c.queueTotalSize - head.size);
    if (!closeQueuedOrInFlight(w) && state === "writable") updateBackpressure(stream, c.hwm - c.queueTotalSize <= 0);
    advanceQueueIfNeeded(c);
  }, (e) => {
    w.inFlightWrite.reject(e);
    w.inFlightWrite = undefined;
    if (w.state === "writable") c.clear();
    dealWithRejection(stream, e);
  });
}

// ============================================================================
// TransformStream
// ============================================================================

export class TransformStream {
  #t = { readable: undefined, writable: undefined, backpressure: undefined, backpressureChange: undefined, controller: undefined };
  static { tsOf = (x) => x.#t; }
  constructor(transformer = undefined, writableStrategy = undefined, readableStrategy = undefined) {
    if (transformer === null) throw new TypeError("transformer must not be null");
    const t = transformer ?? {};
    if (t.readableType !== undefined) throw new RangeError("readableType is not supported");
    if (t.writableType !== undefined) throw new RangeError("writableType is not supported");
    const startPromise = deferred();
    const transform = method(t, "transform");
    const flush = method(t, "flush");
    const cancel = method(t, "cancel");
    const state = this.#t;
    const c = { stream: this, finish: undefined };
    c.transform = transform === undefined
      ? (chunk) => { try { enqueueTransformed(c, chunk); return resolved(); } catch (e) { return rejected(e); } }
      : (chunk) => call(transform, t, [chunk, state.controller]);
    c.flush = () => call(flush, t, [state.controller]);
    c.cancel = (reason) => call(cancel, t, [reason]);
    state.controller = new TransformStreamDefaultController(construct, c);
    state.writable = createWritableStream({
      start: () => startPromise.promise,
      write: (chunk) => sinkWrite(this, chunk),
      abort: (reason) => sinkAbort(this, reason),
      close: () => sinkClose(this),
    }, highWaterMark(writableStrategy, 1), sizeAlgorithm(writableStrategy));
    state.readable = createReadableStream({
      start: () => startPromise.promise,
      pull: () => { setBackpressure(this, false); return state.backpressureChange.promise; },
      cancel: (reason) => sourceCancel(this, reason),
    }, highWaterMark(readableStrategy, 0), sizeAlgorithm(readableStrategy));
    setBackpressure(this, true);
    const start = method(t, "start");
    try { startPromise.resolve(start === undefined ? undefined : start.call(t, state.controller)); }
    catch (e) { startPromise.reject(e); }
  }
  get readable() { return this.#t.readable; }
  get writable() { return this.#t.writable; }
}
tag(TransformStream);
unclonable.add(TransformStream.prototype);

function readableController(stream) { return ctrl(rs(tsOf(stream).readable).controller); }

function setBackpressure(stream, backpressure) {
  const t = tsOf(stream);
  if (t.backpressureChange !== undefined) t.backpressureChange.resolve();
  t.backpressureChange = deferred();
  t.backpressure = backpressure;
}

function errorTransform(stream, e) {
  const t = tsOf(stream);
  controllerErrorRecord(readableController(stream), e);
  errorWritableAndUnblock(stream, e);
}

function errorWritableAndUnblock(stream, e) {
  const t = tsOf(stream);
  const c = tctrl(t.controller);
  c.transform = () => resolved();
  c.flush = () => resolved();
  c.cancel = () => resolved();
  const w = wsOf(t.writable);
  if (w.state === "writable") controllerErrorWritable(wctrl(w.controller), e);
  if (t.backpressure) setBackpressure(stream, false);
}

function enqueueTransformed(c, chunk) {
  const stream = c.stream;
  const rc = readableController(stream);
  if (!canCloseOrEnqueue(rc)) throw new TypeError("the readable side cannot take more chunks");
  try { defaultEnqueue(rc, chunk); }
  catch (e) { errorWritableAndUnblock(stream, e); throw rs(tsOf(stream).readable).storedError; }
  const backpressure = !(desiredSize(rc) > 0);
  if (backpressure !== tsOf(stream).backpressure) setBackpressure(stream, true);
}

function sinkWrite(stream, chunk) {
  const t = tsOf(stream);
  const c = tctrl(t.controller);
  const perform = () => c.transform(chunk).catch((e) => { errorTransform(stream, e); throw e; });
  if (t.backpressure) {
    return t.backpressureChange.promise.then(() => {
      const w = wsOf(t.writable);
      if (w.state === "erroring") throw w.storedError;
      return perform();
    });
  }
  return perform();
}

function sinkAbort(stream, reason) {
  const t = tsOf(stream);
  const c = tctrl(t.controller);
  if (c.finish !== undefined) return c.finish.promise;
  c.finish = deferred();
  const result = c.cancel(reason);
  c.transform = c.flush = c.cancel = () => resolved();
  result.then(() => {
    const readable = rs(t.readable);
    if (readable.state === "errored") c.finish.reject(readable.storedError);
    else { controllerErrorRecord(readableController(stream), reason); c.finish.resolve(); }
  }, (e) => { controllerErrorRecord(readableController(stream), e); c.finish.reject(e); });
  return c.finish.promise;
}

function sinkClose(stream) {
  const t = tsOf(stream);
  const c = tctrl(t.controller);
  if (c.finish !== undefined) return c.finish.promise;
  c.finish = deferred();
  const result = c.flush();
  c.transform = c.flush = c.cancel = () => resolved();
  result.then(() => {
    const readable = rs(t.readable);
    if (readable.state === "errored") c.finish.reject(readable.storedError);
    else {
      const rc = readableController(stream);
      if (canCloseOrEnqueue(rc)) {
        rc.closeRequested = true;
        if (rc.queue.length === 0) { clearAlgorithms(rc); closeStream(rc.stream); }
      }
      c.finish.resolve();
    }
  }, (e) => { controllerErrorRecord(readableController(stream), e); c.finish.reject(e); });
  return c.finish.promise;
}

function sourceCancel(stream, reason) {
  const t = tsOf(stream);
  const c = tctrl(t.controller);
  if (c.finish !== undefined) return c.finish.promise;
  c.finish = deferred();
  const result = c.cancel(reason);
  c.transform = c.flush = c.cancel = () => resolved();
  result.then(() => {
    const w = wsOf(t.writable);
    if (w.state === "errored") c.finish.reject(w.storedError);
    else { errorWritableAndUnblock(stream, reason); c.finish.resolve(); }
  }, (e) => { errorWritableAndUnblock(stream, e); c.finish.reject(e); });
  return c.finish.promise;
}

export class TransformStreamDefaultController {
  #c;
  static { tctrl = (x) => x.#c; }
  constructor(key, c) {
    if (key !== construct) throw new TypeError("Illegal constructor");
    this.#c = c;
  }
  get desiredSize() { return desiredSize(readableController(this.#c.stream)); }
  enqueue(chunk = undefined) { enqueueTransformed(this.#c, chunk); }
  error(reason = undefined) { errorTransform(this.#c.stream, reason); }
  terminate() {
    const stream = this.#c.stream;
    const rc = readableController(stream);
    if (canCloseOrEnqueue(rc)) {
      rc.closeRequested = true;
      if (rc.queue.length === 0) { clearAlgorithms(rc); closeStream(rc.stream); }
    }
    errorWritableAndUnblock(stream, new TypeError("the transform stream was terminated"));
  }
}
tag(TransformStreamDefaultController);

// ============================================================================
// Piping (Streams §4.9.1 ReadableStreamPipeTo)
// ============================================================================

function pipe(source, dest, options) {
  const preventClose = Boolean(options?.preventClose);
  const preventAbort = Boolean(options?.preventAbort);
  const preventCancel = Boolean(options?.preventCancel);
  const signal = options?.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError("signal must be an AbortSignal");
  const reader = new ReadableStreamDefaultReader(source);
  const writer = new WritableStreamDefaultWriter(dest);
  rs(source).disturbed = true;
  const done = deferred();
  let shuttingDown = false;
  let currentWrite = resolved();

  const finalize = (isError, error) => {
    writer.releaseLock();
    reader.releaseLock();
    if (signal !== undefined) removeAbortAlgorithm(signal, abortAlgorithm);
    if (isError) done.reject(error); else done.resolve();
  };
  const waitForWrites = () => {
    const old = currentWrite;
    return old.then(() => (old !== currentWrite ? waitForWrites() : undefined), noop);
  };
  const shutdownWith = (action, isError, error) => {
    if (shuttingDown) return;
    shuttingDown = true;
    const ws = wsOf(dest);
    const wait = ws.state === "writable" && !closeQueuedOrInFlight(ws) ? waitForWrites() : resolved();
    wait.then(() => action()).then(() => finalize(isError, error), (e) => finalize(true, e));
  };
  const shutdown = (isError, error) => {
    if (shuttingDown) return;
    shuttingDown = true;
    const ws = wsOf(dest);
    const wait = ws.state === "writable" && !closeQueuedOrInFlight(ws) ? waitForWrites() : resolved();
    wait.then(() => finalize(isError, error));
  };
  const abortAlgorithm = () => {
    const error = signal.reason;
    const actions = [];
    if (!preventAbort) actions.push(() => (wsOf(dest).state === "writable" ? abortWritable(dest, error) : resolved()));
    if (!preventCancel) actions.push(() => (rs(source).state === "readable" ? cancelStream(source, error) : resolved()));
    shutdownWith(() => Promise.all(actions.map((a) => a())), true, error);
  };
  if (signal !== undefined) {
    if (signal.aborted) { abortAlgorithm(); return done.promise; }
    addAbortAlgorithm(signal, abortAlgorithm);
  }

  // Errors and closes, checked whenever either side settles.
  const sourceState = () => rs(source);
  const destState = () => wsOf(dest);
  const check = () => {
    if (shuttingDown) return true;
    const s = sourceState();
    const w = destState();
    if (s.state === "errored") {
      if (!preventAbort) shutdownWith(() => abortWritable(dest, s.storedError), true, s.storedError);
      else shutdown(true, s.storedError);
      return true;
    }
    if (w.state === "errored" || w.state === "erroring") {
      if (!preventCancel) shutdownWith(() => cancelStream(source, w.storedError), true, w.storedError);
      else shutdown(true, w.storedError);
      return true;
    }
    if (s.state === "closed") {
      if (!preventClose) shutdownWith(() => writer.close());
      else shutdown();
      return true;
    }
    if (closeQueuedOrInFlight(w) || w.state === "closed") {
      const e = new TypeError("the destination is closed");
      if (!preventCancel) shutdownWith(() => cancelStream(source, e), true, e);
      else shutdown(true, e);
      return true;
    }
    return false;
  };
  rdr(reader).closed.promise.then(check, check);
  wrdr(writer).closed.promise.then(check, check);

  const step = () => {
    if (check()) return;
    writer.ready.then(() => {
      if (check()) return;
      return reader.read().then(({ value, done: finished }) => {
        if (finished) { check(); return; }
        currentWrite = writer.write(value).catch(noop);
        step();
      }, () => check());
    }, () => check());
  };
  step();
  return done.promise;
}

// Not serializable (HTML): structuredClone refuses them, as it does the streams.
for (const klass of [
  CountQueuingStrategy, ByteLengthQueuingStrategy, ReadableStreamDefaultReader, ReadableStreamBYOBReader,
  ReadableStreamDefaultController, ReadableStreamBYOBRequest, ReadableByteStreamController,
  WritableStreamDefaultWriter, WritableStreamDefaultController, TransformStreamDefaultController,
]) unclonable.add(klass.prototype);
