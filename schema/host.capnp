# host.capnp — the private protocol between a broker and its isolate-hosts.
#
# Who calls it: only the broker, over the socketpair it created when it spawned
# the isolate-host (the host's stdin). The bootstrap capability the host serves
# is `IsolateHost`. Clients never see these interfaces; the broker checks and
# normalises everything before it gets here (limits are concrete, schemas are
# compiled nodes), and the host still treats it as untrusted input.

@0x852dcd6bcbdb453c;

using Caplet = import "caplet.capnp";

interface IsolateHost {
  load @0 (spec :WorkerSpec) -> (worker :HostWorker);
  # Compiles a worker into a fresh QuickJS runtime. Fails with the same kinds
  # as `Broker.load` (`syntax_error: …`, `module_not_found: …`).

  status @1 () -> (workers :UInt32, pid :UInt32);
  # Live worker count and the host's process id.
}

struct WorkerSpec {
  mainModule @0 :Text;
  # Name of the main module; always set, and always one of `modules`.
  modules @1 :List(Caplet.Module);
  env @2 :List(Caplet.Binding);
  # Capabilities, each with a compiled schema.
  limits @3 :Caplet.Limits;
  # Concrete limits: every field is set.
  allowEval @4 :Bool;
  # `Caplet.Policy.allowEval`: the worker's runtime gets the `Eval` intrinsic.
}

interface HostWorker {
  invoke @0 (entrypoint :Text, input :Text, logSink :Caplet.LogSink)
         -> (output :Text, logs :List(Caplet.LogLine), stats :Caplet.Stats, error :Caplet.InvokeError);
  # Same meaning as `Worker.invoke`; `logSink` is the broker's proxy of the
  # client's sink, revoked when the call returns.

  entrypoint @1 (name :Text, schema :Caplet.CompiledSchema) -> (cap :Capability);
  # Same meaning as `Worker.entrypoint`, with the schema compiled by the broker.
}
