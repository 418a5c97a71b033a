# caplet.capnp — the public contract of a caplet broker.
#
# Who calls it: any Cap'n Proto client (Rust, Python through pycapnp, C++, Go …)
# connected to `caplet serve`, and the `caplet` command line. The bootstrap
# capability of a connection on the broker's Unix socket is `Broker`; over TCP
# it is `Gatekeeper`, which hands out a `Broker` for a valid token and nothing
# before that.
#
# Every connection is authenticated as a *principal*: `unix:<uid>` of the
# connecting process on the Unix socket, the token's name over TCP. The
# principal is the same across reconnects and broker restarts; per-principal
# state (such as the `Broker.get` cache) is never shared between principals.
#
# Per-principal quotas (`caplet serve --quota NAME=VALUE`, or `[quotas]` of
# `caplet.toml`). A principal, with every sub-principal it names in
# `WorkerCode.principal` counted inside it, holds at most: `workers` live
# workers (default 256), `cached_ids` ids in the `get` cache (default 256),
# `memory_bytes` as the sum of its live workers' `Limits.memoryBytes`
# (default 16 GiB) and `connections` open connections (default 256). A call
# that would pass one fails with `overloaded` and the reason
# `quota_exceeded: <name>: …`; other principals are not affected. A worker
# stops counting once every client has released it (or its connection
# closed) and the `get` cache no longer keeps it; a connection, once closed.
#
# Connection limits. The broker closes a connection that breaks one, except
# where it says it answers `overloaded`:
# - a message is at most 80 MiB, 64 levels of nesting and 511 segments.
#   caplet itself never sends a larger one: params or results that would
#   not fit (less 1 MiB of room, counting 64 bytes per capability) fail
#   their one call with `too_large: …` instead, wherever the broker or an
#   isolate-host forwards or answers them (a worker's call, a capability's
#   answer, `Worker.invoke`), so one worker's call never ends a connection
#   and the other calls on it. The built-ins answer far less (`fs.capnp`,
#   `kv.capnp`, `http.capnp`);
# - at most 256 calls in flight per connection by default; further calls are
#   answered `overloaded` with reason `too_many_calls: …`. Answers carrying
#   capabilities count until the client finishes them;
# - a connection that leaves more than 4 MiB of answers unread is not read
#   from, and is closed when that lasts as long as the idle timeout;
# - a connection with no call in flight that sends nothing for 5 minutes by
#   default is closed, and so is one whose message takes longer than 60
#   seconds by default to arrive.
# - TCP connections that have not authenticated take at most half of the
#   file descriptors a reserve (for isolate-hosts, Unix-socket clients and
#   the data directory) leaves; one beyond is closed as soon as it is
#   accepted.
#
# What it is for: loading JavaScript workers into isolates and invoking them.
# A worker reaches the world only through the capabilities listed in its
# `WorkerCode.env`; this file, together with the interface schemas of those
# capabilities, is the complete surface an agent's code can touch.
#
# Errors: a call that fails before a worker runs (bad code, bad limits, an id
# clash) answers with a Cap'n Proto exception of type `failed` whose reason
# starts with a stable snake_case kind and a colon, e.g.
# `syntax_error: main.js:3:7: unexpected token`. A worker that runs and fails
# answers normally, with `InvokeError` set (so its logs and stats survive).
# Lost isolate-hosts answer `disconnected`; overload answers `overloaded`.

@0x98ef3d73e773e480;

using Schema = import "/capnp/schema.capnp";

# ==============================================================================
# Bootstrap
# ==============================================================================

interface Broker {
  # The broker: compiles workers into isolates and hands out `Worker`s.

  load @0 (code :WorkerCode) -> (worker :Worker);
  # Compiles `code` into a fresh worker on an isolate-host. Every call makes a
  # new worker, with its own module state. Fails with `syntax_error`,
  # `module_not_found`, `module_too_large`, `bad_code`, `limit_too_high` or
  # `schema_error` (an interface schema of `env` does not compile or cannot be
  # used from JS), all of type `failed`; or `overloaded` when no isolate-host
  # can take the worker, or with `quota_exceeded: workers: …` or
  # `quota_exceeded: memory_bytes: …` when the principal would pass a quota
  # (unheld workers of its `get` cache are forgotten first to make room).

  get @1 (id :Text, code :WorkerCode) -> (worker :Worker);
  # Like `load`, but cached under `id` (for this connection's principal): a
  # second `get` with the same id and identical code returns the already
  # compiled worker, sharing its module state. The same id with different
  # code fails with `id_conflict` naming the id. `id` is 1–256 bytes.
  # Capabilities are not compared: a cached worker keeps the `env` grants of
  # the `get` that created it. A principal keeps at most `cached_ids` ids
  # (quota, default 256), its sub-principals' included; beyond, the least
  # recently used id whose worker no client holds is forgotten. When every
  # cached worker is held, a new id fails with `overloaded`
  # `quota_exceeded: cached_ids: …`. Loading counts against `workers` and
  # `memory_bytes` like `load`. The cache is per broker and best-effort:
  # brokers sharing a store do not share it, and a `get` that misses (another
  # broker, an eviction, a restart) simply loads the worker anew, so module
  # state must never be relied on; durable state belongs in `fs` or `kv`.

  builtin @2 (grant :BuiltinGrant) -> (cap :Capability, interfaceSchema :InterfaceSchema);
  # A built-in capability the broker itself serves (see `BuiltinGrant`),
  # with its interface schema, ready to be put into a `Binding` of
  # `WorkerCode.env` (it goes through the broker's proxy like any other
  # grant) or to be called by the client directly.
  #
  # Security: what a client can get here is bounded by the broker's
  # configuration (`caplet serve --config`), never by the request: volumes
  # and kv stores are namespaced by this connection's principal (two
  # principals asking for volume "workspace" get two different volumes; the
  # client-chosen `WorkerCode.principal` only places workers and plays no
  # part here), an http gateway must name a policy the configuration
  # defines, and quotas come from the configuration. Fails with `bad_grant: …` naming the
  # problem (unknown policy, malformed name), or `unavailable: …` when the
  # broker runs without a data directory or configuration for that kind.

  types @3 (env :List(Binding)) -> (typescript :Text);
  # TypeScript declarations of a worker's `env` for these bindings, as
  # `caplet types` prints them: one global script declaring `Env` (each
  # binding's interface, with the `.capnp` doc comments as JSDoc and
  # pipelined return types), the worker's default-export shape
  # `WorkerModule`, and caplet's globals. Written for models to read, so
  # compact. Names and schemas are checked as `load` checks them (fails
  # with `bad_code` or `schema_error`); the capabilities are not used and
  # may be null. A binding whose schema is the one `builtin` gives an `mcp`
  # grant is declared as the worker sees it, from the upstream's tools'
  # JSON Schemas (the upstream is started if need be: `unavailable` if it
  # cannot be).

  audit @4 (env :List(Binding), limits :Limits) -> (json :Text);
  # Everything a worker with these bindings and limits could reach, as
  # `caplet audit --format json` prints it (see README, "Auditing what a
  # worker can reach"): each binding with its interface, every interface
  # reachable through capability-typed params, results, struct fields,
  # lists and unions with the path it is reached by, flags (`untyped_capability`,
  # `generic`, `undocumented_method`), the effective limits against the
  # broker's maxima and this principal's quotas. A binding whose capability
  # is a built-in this connection got from `builtin` (one of its latest 256)
  # is reported with its kind and effective policy. Unlike `load`, schemas
  # with `AnyPointer`, `Capability` or generics are reported (flagged), not
  # refused. Fails with `bad_code`, `schema_error` or `limit_too_high` like
  # `load`.
}

# ==============================================================================
# Worker code
# ==============================================================================

struct WorkerCode {
  # Everything a worker is made of. Sent by the client; never trusted.

  mainModule @0 :Text;
  # Name of the module whose default export is invoked. Empty means the first
  # entry of `modules`.

  modules @1 :List(Module);
  # The worker's modules. `import` statements resolve only among these, by
  # name (relative specifiers like `./util.js` resolve against the importing
  # module's name). At least one module; total source size is capped by
  # `Limits.moduleBytes`.

  env @2 :List(Binding);
  # Capabilities granted to the worker, visible in JavaScript as `env.<name>`.
  # Nothing else is reachable from the worker.

  limits @3 :Limits;
  # Resource limits. Unset fields take the broker's defaults; values above the
  # broker's maxima fail the load with `limit_too_high`.

  policy @4 :Policy;
  # What the worker's JavaScript may do beyond the defaults. Unset: nothing.

  principal @5 :Text;
  # A sub-principal the worker acts for, as the client names it (at most 256
  # bytes; empty means the connection's own principal). It lives under the
  # connection's principal (`<principal>/<name>`), so a client can separate
  # its own workers but never join another principal's; its workers and ids
  # count against the connection's principal's quotas. A broker started
  # with `--cordon principal` never places workers of different
  # (sub-)principals in the same isolate-host process; a load that finds no
  # host free for its principal fails with `overloaded`.
}

struct Policy {
  # Opt-ins that weaken a worker's isolation. Every field defaults to off.

  allowEval @0 :Bool;
  # `eval`, `new Function(…)` and the async and generator function
  # constructors exist. Off: they are absent (`typeof eval` is "undefined"
  # and `Function.prototype.constructor` throws), because the worker's
  # runtime has no parser at all.
}

struct Module {
  # One module of a worker.

  name @0 :Text;
  # Module name, e.g. `main.js` or `lib/util.js`: 1–256 bytes, no NUL, unique
  # within the worker.

  kind @1 :Kind = js;
  # How `source` is read.

  source @2 :Text;
  # Module text, UTF-8.

  enum Kind {
    js @0;
    # An ES module.
    json @1;
    # A JSON document; importing it yields the parsed value as default export.
  }
}

struct Binding {
  # One capability granted to a worker.

  name @0 :Text;
  # The property name under `env` (a JavaScript identifier, 1–64 bytes).

  cap @1 :Capability;
  # The capability itself. The broker proxies every call made on it.
  #
  # How its interface looks from JavaScript: each method takes its params
  # struct as a plain object and returns a pipelined promise of its results
  # object. Int64/UInt64 ↔ BigInt (a safe-integer number is accepted too),
  # other numbers ↔ number (out of the field's range, or not an integer for
  # an integer field: `RangeError`), Text ↔ string, Data ↔ Uint8Array, enums
  # ↔ enumerant names (a number is accepted; an enumerant unknown to the
  # schema arrives as its number), Void ↔ null, lists ↔ arrays, structs and
  # groups ↔ objects, interfaces ↔ stubs. A union reads as an object with
  # the one member that is set (a Void member as `null`); sent from JS it
  # must set exactly one member. Any other wrong type throws a `TypeError`
  # naming the field.

  interfaceSchema @2 :InterfaceSchema;
  # The interface `cap` implements; the broker may never have seen it before.
  # (Not called `schema`: pycapnp reserves that attribute on every struct.)

  budget @3 :Budget;
  # Limits on the use of this grant, enforced by the broker's membrane for
  # `cap` and for every capability reached through it (returned by its
  # methods or passed back into the worker through it, at any depth),
  # across all of the worker's invocations. Unset: none beyond the worker's
  # own limits. `Worker.revoker` revokes the grant. `Broker.get` compares
  # budgets: the same id with another budget is `id_conflict`.
}

struct Budget {
  # What one grant may be used for. 0 (or empty) means no limit of that kind.
  # A call over a budget fails with `overloaded` and the reason
  # `budget_exhausted: <calls|bytes|expires>: …`, and does not reach the
  # provider.

  calls @0 :UInt64;
  # Calls through the grant, in total, both ways: the worker's calls on
  # the granted capability and on what it reaches, and the provider's
  # calls on objects the worker passed out through the grant.

  bytes @1 :UInt64;
  # Bytes of params plus results through the grant, in total (message
  # sizes, counted as they pass the broker). The call whose params would
  # pass it fails before it is sent; results that pass it fail the call.

  expiresInMs @2 :UInt64;
  # Milliseconds after the worker is loaded from which every call through
  # the grant fails.

  methods @3 :List(Text);
  # The methods of the granted interface that may be called, by name (a
  # narrower surface than the interface; empty: all). Others fail with
  # `unimplemented` and the reason `method_not_allowed: …`. It holds for
  # every capability of the granted interface reached through the grant;
  # capabilities of other interfaces reached through it keep their whole
  # interfaces.
}

struct BuiltinGrant {
  # Names one built-in capability for `Broker.builtin`. The command line
  # writes it as `KIND:NAME` or `fs:NAME:ro`, e.g. `fs:workspace`,
  # `kv:main`, `http:github`.

  kind @0 :Kind;
  # Which built-in.

  name @1 :Text;
  # For `fs`, the volume; for `kv`, the store: 1–64 bytes of ASCII letters,
  # digits, `_`, `-` and `.`, chosen freely (each principal has its own
  # namespace). For `http`, the name of a policy in the broker's
  # configuration; for `mcp`, the name of an upstream MCP server in it.

  readOnly @2 :Bool;
  # `fs` only: the volume accepts reads only (see `fs.capnp`). Ignored by
  # the other kinds.

  enum Kind {
    fs @0;
    # A `Volume` of `fs.capnp`: files stored in the broker's SQLite database,
    # with the quota the configuration sets for this volume name.
    kv @1;
    # A `Store` of `kv.capnp`: a key/value store in the same database.
    http @2;
    # A `Gateway` of `http.capnp` bound to one named egress policy. Granted
    # as `env.fetch`, it also gives the worker a global `fetch()`.
    mcp @3;
    # The tools of the upstream MCP server `[mcp_servers.NAME]` of the
    # broker's configuration, one method per tool (see `mcp.capnp`). The
    # broker starts or connects to the upstream at the first grant; one that
    # cannot be reached fails the grant with `unavailable`.
  }
}

struct InterfaceSchema {
  # Describes a capability's interface at run time, so that JavaScript can
  # call it with plain objects (and `caplet types` / `Broker.types` describe
  # it in TypeScript).

  union {
    source @0 :SourceSchema;
    # `.capnp` source text, compiled by the broker (cached by content hash).
    compiled @1 :CompiledSchema;
    # Nodes already compiled, as a `CodeGeneratorRequest` would carry them.
  }
}

struct SourceSchema {
  files @0 :List(SchemaFile);
  # The schema files. Imports resolve among these names and the standard
  # `/capnp/*.capnp` files.

  interfaceName @1 :Text;
  # Which interface the capability implements: `file.capnp:Name` or
  # `file.capnp:Outer.Inner`.
}

struct SchemaFile {
  name @0 :Text;
  # File name, e.g. `inventory.capnp`.
  text @1 :Text;
  # File contents.
}

struct CompiledSchema {
  nodes @0 :List(Schema.Node);
  # Every node the interface needs: the interface, its superclasses, and all
  # structs, enums and interfaces its methods reach.

  interfaceId @1 :UInt64;
  # Id of the interface node the capability implements.
}

struct Limits {
  # Per-worker resource limits. This is the one place their defaults,
  # maxima and enforcement are written down (README.md, ARCHITECTURE.md
  # and the code's docs refer here). 0 means "the broker's default". The
  # defaults and maxima below are the broker's built-in ones (`caplet
  # serve --limit-default/--limit-max NAME=VALUE` change them; a maximum
  # below a default lowers the default with it). Asking for more than the
  # maximum fails the load with `limit_too_high`. A tripped limit ends the
  # invocation with the `InvokeError.Kind` named below, and the worker's
  # runtime is rebuilt from its code before its next invocation.

  memoryBytes @0 :UInt64;
  # Heap limit of the worker's JavaScript runtime, in bytes (default 64 MiB,
  # at most 2 GiB), enforced by QuickJS's allocator on every allocation:
  # `memoryLimitExceeded`.

  cpuTimeMs @1 :UInt32;
  # Time one invocation may spend running JavaScript, in milliseconds
  # (default 1000, at most 300000): its CPU time, counted per stretch of
  # JavaScript with the monotonic clock (so time the host thread is
  # preempted counts too), enforced by the runtime's interrupt handler:
  # `cpuLimitExceeded`.

  wallTimeMs @2 :UInt32;
  # Wall-clock time one invocation may take, in milliseconds (default
  # 30000, at most 3600000), `ctx.waitUntil` included: `wallTimeExceeded`.
  # The isolate-host enforces it, then waits up to one second more for a
  # slow `LogSink` (`caplet::LOG_FLUSH_TIMEOUT_MS`) before it answers. A
  # host that has not answered 500 ms after that (`wallTimeMs` + 1 s +
  # 500 ms) is presumed stuck: the broker answers `wallTimeExceeded`
  # itself, and kills the host unless it answers a status check within 2 s.

  stackBytes @3 :UInt32;
  # Maximum JavaScript stack size, in bytes (default 1 MiB, at most 4 MiB),
  # enforced by QuickJS's stack check: `stackOverflow`. An isolate-host
  # never grants more than half its thread's stack.

  moduleBytes @4 :UInt64;
  # Total size of all module sources and their names, in bytes (default
  # 8 MiB, at most 64 MiB), checked by the broker at load:
  # `module_too_large`.

  outputBytes @5 :UInt64;
  # Size of one invocation's JSON output, in bytes (default 16 MiB, at most
  # 32 MiB), checked by the isolate-host while it serialises:
  # `outputTooLarge`.

  logBytes @6 :UInt64;
  # Total size of the log lines one invocation may keep, in bytes (default
  # 1 MiB, at most 8 MiB); later lines are dropped by the isolate-host and
  # a final warning says so.

  subrequests @7 :UInt32;
  # Capability calls one invocation may make, in total (default 1000, at
  # most 1000000), counted by the isolate-host. The call over the limit
  # ends the invocation with `subrequestLimitExceeded`.

  callsInFlight @8 :UInt32;
  # Capability calls one invocation may have waiting for their results at
  # once (default 100, at most 10000), counted by the isolate-host. The
  # call over the limit ends the invocation with `callsInFlightExceeded`.

  pendingTimers @9 :UInt32;
  # Timers (`setTimeout`, `setInterval`) one invocation may have pending at
  # once (default 1000, at most 100000), counted by the isolate-host. The
  # timer over the limit ends the invocation with `timerLimitExceeded`.
}

# ==============================================================================
# Running a worker
# ==============================================================================

interface Worker {
  # A compiled worker living in an isolate-host.

  invoke @0 (entrypoint :Text, input :Text, logSink :LogSink)
         -> (output :Text, logs :List(LogLine), stats :Stats, error :InvokeError,
             calls :List(CallRecord), callsDropped :UInt32);
  # Calls the worker. `entrypoint` names a method of the main module's default
  # export object (empty means `run`); when the default export is a function,
  # only `run` (or empty) is accepted and the function is called.
  # The function receives `(input, env, ctx)`, where `input` is `input` parsed
  # as JSON (empty text means `null`), and `ctx.waitUntil(promise)` keeps the
  # invocation open after its result is ready until `promise` settles
  # (within `wallTimeMs`). Timers still pending then are cancelled.
  #
  # On success `output` is the awaited return value as JSON text (`undefined`
  # becomes `null`) and `error` is unset. On failure `output` is empty and
  # `error` says why; `logs` and `stats` are filled either way. An
  # `entrypoint` or `input` that is not UTF-8 fails the call itself with
  # `bad_input: …` (type `failed`).
  #
  # `logSink` (optional, added after the first release): when set, every
  # console line the invocation keeps is also sent to it while the
  # invocation runs, in order, before this call returns (at most 10000
  # lines per invocation; the rest are only in `logs`). `logs` still holds
  # every line. Security: the isolate-host gets a broker proxy of the sink,
  # revoked when this call returns, and writes log lines only; the worker
  # cannot reach it. A sink that fails or is slow does not fail the
  # invocation, and only delays its answer by at most one second. At most
  # 1024 writes wait for the sink's answer at once: a line that comes while
  # that many wait is not sent, and `logs` then end with the warning
  # `N log lines dropped: the log sink was too slow`. When this call
  # returns (or is cancelled), the broker stops waiting for the sink's
  # answers.
  #
  # `calls` (added after the first release) is the invocation's call log:
  # every capability call its code made through `env` (and through
  # capabilities those calls returned), in the order they started, as the
  # broker's membrane saw them; at most 4096 records and 1 MiB of them (as
  # encoded here). `callsDropped` (added after the first release) counts
  # the calls made beyond those bounds, which are not recorded. Invocations
  # of one worker are answered one after another. With a `logSink`, the
  # records are also streamed to `LogSink.call` (see there) under the same
  # bound of 1024 writes waiting as log lines; a record that comes while
  # that many wait is not sent, and `logs` then end with the warning
  # `N call records not streamed: the log sink was too slow`.

  entrypoint @1 (exportName :Text, interfaceSchema :InterfaceSchema) -> (cap :Capability);
  # Serves an export of the main module as a typed capability: `exportName`
  # names the export (`default` for the default export), an object whose methods
  # implement the interface `interfaceSchema` describes. Each method gets the
  # params struct as a plain object and returns (or resolves to) the results
  # struct; capabilities in both directions become stubs and exported objects,
  # as for `env` bindings, and calls can be pipelined.
  #
  # Each call runs under the worker's limits like an invocation (or within the
  # invocation already running); a JS exception answers `failed` with its
  # message. The capability lives as long as the caller holds it and the
  # worker's runtime lives: after an invocation (or a call on it) trips a
  # limit, the runtime is rebuilt from the worker's code with fresh module
  # state, and capabilities served from the old runtime answer
  # `disconnected` (the worker itself keeps working; call `entrypoint`
  # again). They are not silently re-pointed at the rebuilt runtime, so a
  # caller learns that the state behind the object it held is gone. Fails
  # with `entrypoint_not_found` (no such export, or not an object) or
  # `schema_error` (the schema does not compile or cannot be used from JS,
  # naming the place).
  #
  # (The parameter was called `name` before; pycapnp reserves `name` as a
  # keyword of every call, so it was renamed. Names are not on the wire.)

  revoker @2 (binding :Text) -> (revoker :Revoker);
  # A revoker of the grant `env.<binding>` of this worker (see `Revoker`).
  # Fails with `bad_request` naming the binding when the worker has none.
}

interface Revoker {
  # Revokes one grant of a worker (see `Worker.revoker`).

  revoke @0 () -> ();
  # From now on every call through the grant, and through every capability
  # reached from it, fails with `disconnected` and the reason `revoked: …`:
  # calls in flight (they fail at once) and later calls, in this invocation
  # and the next ones. Revoking again does nothing.
}

interface LogSink {
  # Receives an invocation's console lines as they happen (see
  # `Worker.invoke`). Implemented by the client.

  write @0 (line :LogLine) -> ();
  # One console line. Calls arrive in the order the worker logged; the
  # answer is not awaited before the worker goes on.

  call @1 (record :CallRecord) -> ();
  # One record of the invocation's call log (added after the first
  # release), sent by the broker: in the order the calls started, each once
  # its call and every call started before it have been answered, and the
  # rest (outcome `in_flight`) when the invocation ends, all before
  # `Worker.invoke` returns; the `n`th record sent is `calls[n]`, so
  # `pipelinedOn` indexes the records sent. A sink that answers
  # `unimplemented` (one written before this method) gets no more records
  # in that invocation. The answer is not awaited before the worker goes on.
}

struct InvokeError {
  kind @0 :Kind;
  # What went wrong.

  message @1 :Text;
  # One line naming the cause, e.g. `Error: boom` or `entrypoint "nope" not found`.

  stack @2 :Text;
  # The JavaScript stack, when there is one.

  enum Kind {
    exception @0;
    # The worker threw, or its promise rejected.
    entrypointNotFound @1;
    # No such entrypoint on the default export.
    outputNotSerializable @2;
    # The result could not be turned into JSON (a function, a BigInt, a cycle,
    # a platform object whose JSON is an empty `{}`: a Response, Headers, a Blob …).
    badInput @3;
    # `input` is not valid JSON.
    neverSettled @4;
    # The returned promise can never settle: nothing it waits on is pending.
    cpuLimitExceeded @5;
    # The invocation used more than `Limits.cpuTimeMs` of CPU time.
    memoryLimitExceeded @6;
    # The worker's heap reached `Limits.memoryBytes`.
    wallTimeExceeded @7;
    # The invocation took longer than `Limits.wallTimeMs`. Enforced by the
    # isolate-host and, should the host be stuck, by the broker (see there).
    stackOverflow @8;
    # The JavaScript stack reached `Limits.stackBytes`.
    outputTooLarge @9;
    # The JSON output is larger than `Limits.outputBytes`.
    internal @10;
    # A bug in caplet; the message says more.
    subrequestLimitExceeded @11;
    # The invocation made more than `Limits.subrequests` capability calls.
    callsInFlightExceeded @12;
    # More than `Limits.callsInFlight` capability calls were waiting at once.
    timerLimitExceeded @13;
    # More than `Limits.pendingTimers` timers were pending at once.
    #
    # After any of the limit kinds above (cpu, memory, wall time, stack,
    # subrequests, calls in flight, timers) the worker's runtime is thrown away and
    # rebuilt from its code before its next invocation: module state does not
    # survive a tripped limit.
  }
}

struct CallRecord {
  # One capability call a worker made during an invocation (see
  # `Worker.invoke`), recorded by the broker.

  binding @0 :Text;
  # The `env` binding the call went through (also for calls on
  # capabilities returned by that binding's calls).

  interface @1 :Text;
  # The called interface's name, e.g. `Volume`.

  method @2 :Text;
  # The method's name, e.g. `read`.

  startUs @3 :UInt64;
  # When the call reached the broker, in microseconds from the start of
  # the invocation.

  durationUs @4 :UInt64;
  # Until its answer came back, in microseconds. A call still in flight
  # when the invocation answered counts until then.

  paramsBytes @5 :UInt64;
  # Size of the params, in bytes (Cap'n Proto words × 8).

  resultsBytes @6 :UInt64;
  # Size of the results, in bytes; 0 for a failed call.

  outcome @7 :Text;
  # `ok`, or the error kind: the snake_case kind the error's reason starts
  # with (`not_found`, `denied` …), else `failed`, `overloaded`,
  # `disconnected` or `unimplemented`; `in_flight` for a call not answered
  # when the invocation ended.

  pipelinedOn @8 :Int64 = -1;
  # The index (in this list) of the call whose answer this call was made
  # on before that answer came back (promise pipelining), or -1.
}

struct LogLine {
  level @0 :Level;
  text @1 :Text;
  # The console arguments, each formatted and joined by one space.

  enum Level {
    debug @0;
    info @1;
    # `console.log` and `console.info`.
    warn @2;
    error @3;
  }
}

struct Stats {
  wallTimeUs @0 :UInt64;
  # Wall-clock time of the invocation inside the isolate-host, microseconds.
  cpuTimeUs @1 :UInt64;
  # Time the isolate-host spent running this invocation's JavaScript,
  # microseconds (see `Limits.cpuTimeMs`).
  peakMemoryBytes @2 :UInt64;
  # Largest heap size of the worker's runtime seen during the invocation,
  # sampled (measuring walks the whole heap): after every 64th segment of
  # the invocation's tasks, and at its end.
}

# ==============================================================================
# Remote access
# ==============================================================================

interface Gatekeeper {
  # The bootstrap capability of a TCP connection (`caplet serve --listen`).
  # It reveals nothing until a valid token is presented: it has no other
  # method, and every other call on it fails with `unimplemented`.

  authenticate @0 (token :Text) -> (broker :Broker);
  # Exchanges a token from the broker's token file for a `Broker` whose
  # principal is the token's name. May be called again on the same connection
  # (for example with another principal's token). A principal that already
  # has `connections` (quota) open connections is refused with `overloaded`
  # `quota_exceeded: connections: …`, and the connection stays
  # unauthenticated.
  #
  # A wrong token fails with `unauthenticated: invalid token` (type `failed`)
  # after a delay that grows with each failure on this connection and from the
  # same IP address (100 ms, doubling, at most 5 s); calls from one connection
  # are answered one at a time. After 5 failures the broker answers and then
  # closes the connection. Tokens are compared in constant time and never
  # logged.
  #
  # Until a call to `authenticate` has succeeded, the connection is held to
  # small limits: messages of at most 64 KiB (a larger one closes the
  # connection), 4 calls in flight, and a deadline to authenticate
  # (`caplet serve --auth-timeout-secs`, default 10 s). So wait for the
  # answer before sending large requests: a `load` pipelined on the returned
  # `broker` may reach the broker before the token is checked.
}
