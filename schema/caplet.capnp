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
# Connection limits. The broker closes a connection that breaks one, except
# where it says it answers `overloaded`:
# - a message is at most 80 MiB, 64 levels of nesting and 511 segments;
# - at most 256 calls in flight per connection by default; further calls are
#   answered `overloaded` with reason `too_many_calls: …`. Answers carrying
#   capabilities count until the client finishes them;
# - a connection that leaves more than 4 MiB of answers unread is not read
#   from, and is closed when that lasts as long as the idle timeout;
# - a connection with no call in flight that sends nothing for 5 minutes by
#   default is closed, and so is one whose message takes longer than 60
#   seconds by default to arrive.
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
  # can take the worker.

  get @1 (id :Text, code :WorkerCode) -> (worker :Worker);
  # Like `load`, but cached under `id` (for this connection's principal): a
  # second `get` with the same id and identical code returns the already
  # compiled worker, sharing its module state. The same id with different
  # code fails with `id_conflict` naming the id. `id` is 1–256 bytes.
  # Capabilities are not compared: a cached worker keeps the `env` grants of
  # the `get` that created it. A principal keeps at most 1024 ids; beyond,
  # the oldest is forgotten (its worker lives on while anyone holds it).

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
  # its own workers but never join another principal's. A broker started
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

  interfaceSchema @2 :InterfaceSchema;
  # The interface `cap` implements; the broker may never have seen it before.
  # (Not called `schema`: pycapnp reserves that attribute on every struct.)
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
  # configuration.

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
  }
}

struct InterfaceSchema {
  # Describes a capability's interface at run time, so that JavaScript can
  # call it with plain objects. EXPERIMENTAL: filled in by the capabilities
  # work; field numbers are stable.

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
  # Per-worker resource limits. 0 means "the broker's default".

  memoryBytes @0 :UInt64;
  # Heap limit of the worker's JavaScript runtime, in bytes (default 64 MiB).

  cpuTimeMs @1 :UInt32;
  # Time one invocation may spend running JavaScript, in milliseconds
  # (default 1000): its CPU time, counted per stretch of JavaScript with the
  # monotonic clock (so time the host thread is preempted counts too).

  wallTimeMs @2 :UInt32;
  # Wall-clock time one invocation may take, in milliseconds (default 30000).

  stackBytes @3 :UInt32;
  # Maximum JavaScript stack size, in bytes (default 1 MiB, at most 4 MiB).
  # An isolate-host never grants more than half its thread's stack.

  moduleBytes @4 :UInt64;
  # Total size of all module sources and their names, in bytes (default
  # 8 MiB).

  outputBytes @5 :UInt64;
  # Size of one invocation's JSON output, in bytes (default 16 MiB).

  logBytes @6 :UInt64;
  # Total size of the log lines one invocation may keep, in bytes (default
  # 1 MiB); later lines are dropped and a final warning says so.

  subrequests @7 :UInt32;
  # Capability calls one invocation may make, in total (default 1000). The
  # call over the limit ends the invocation with `subrequestLimitExceeded`.

  callsInFlight @8 :UInt32;
  # Capability calls one invocation may have waiting for their results at
  # once (default 100). The call over the limit ends the invocation with
  # `callsInFlightExceeded`.
}

# ==============================================================================
# Running a worker
# ==============================================================================

interface Worker {
  # A compiled worker living in an isolate-host.

  invoke @0 (entrypoint :Text, input :Text, logSink :LogSink)
         -> (output :Text, logs :List(LogLine), stats :Stats, error :InvokeError);
  # Calls the worker. `entrypoint` names a method of the main module's default
  # export object (empty means `run`); when the default export is a function,
  # only `run` (or empty) is accepted and the function is called.
  # The function receives `(input, env, ctx)`, where `input` is `input` parsed
  # as JSON (empty text means `null`).
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
  # invocation, and only delays its answer by at most one second.

  entrypoint @1 (name :Text, interfaceSchema :InterfaceSchema) -> (cap :Capability);
  # Serves an export of the main module as a typed capability: `name` names
  # the export (`default` for the default export), an object whose methods
  # implement the interface `interfaceSchema` describes. Each method gets the
  # params struct as a plain object and returns (or resolves to) the results
  # struct; capabilities in both directions become stubs and exported objects,
  # as for `env` bindings, and calls can be pipelined.
  #
  # Each call runs under the worker's limits like an invocation (or within the
  # invocation already running); a JS exception answers `failed` with its
  # message. The capability lives as long as the caller holds it and the
  # worker lives. Fails with `entrypoint_not_found` (no such export, or not an
  # object) or `schema_error` (the schema does not compile or cannot be used
  # from JS, naming the place).
}

interface LogSink {
  # Receives an invocation's console lines as they happen (see
  # `Worker.invoke`). Implemented by the client.

  write @0 (line :LogLine) -> ();
  # One console line. Calls arrive in the order the worker logged; the
  # answer is not awaited before the worker goes on.
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
    # The result could not be turned into JSON (a function, a BigInt, a cycle …).
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
    # isolate-host and, should the host be stuck, by the broker.
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
    #
    # After any of the limit kinds above (cpu, memory, wall time, stack,
    # subrequests, calls in flight) the worker's runtime is thrown away and
    # rebuilt from its code before its next invocation: module state does not
    # survive a tripped limit.
  }
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
  # sampled (measuring walks the whole heap): after the first stretch of
  # JavaScript, after every 16th later one, and at the end.
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
  # (for example with another principal's token).
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
