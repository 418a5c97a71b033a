# caplet-bench's own capability (never part of the public contract): what the
# benchmark program grants to workers to measure capability calls from
# JavaScript and pipelined chains. caplet-bench serves it with a hand-written
# dispatcher (bench/src/provider.rs) on the raw capnp layout, so no generated
# code is needed; the broker compiles this file at run time, like any schema a
# client sends with a grant.

@0xda046d49eee7689b;

# ============================================================================
# Bench
# ============================================================================

interface Bench @0xd9a3f5cd46bd7c65 {
  # One link of a chain of capabilities, at some depth (the granted one is 0).

  ping @0 (n :UInt32) -> (n :UInt32);
  # Returns `n` unchanged: the cheapest call that still carries a value each way.

  next @1 () -> (next :Bench, depth :UInt32);
  # A new link one deeper, and that depth. `next` is a capability, so a
  # worker can call it before this call returns (a pipelined call).
}
