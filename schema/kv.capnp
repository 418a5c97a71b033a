# kv.capnp — the built-in key/value capability.
#
# Who calls it: JavaScript workers, through a binding in their `env` (e.g.
# `env.kv`), and any client the broker hands a `Store` to. The broker serves
# it (crate `caplet-store`); the isolate-host only proxies calls.
#
# What it is for: one granted *store*, a sorted map from text keys to byte
# values kept in the broker's SQLite database. A store is identified by the
# pair (principal, store name) chosen by the broker at grant time: code can
# never name another store or another principal's keys.
#
# What it can touch: only the keys of its own store.
#
# Limits: a key is 1–1024 bytes of UTF-8 without NUL; a value is at most
# 1 MiB; `putMany` takes at most 1000 entries; a `list` page holds at most
# 1000 entries and at most 32 MiB of keys and values (counting 32 bytes per
# entry besides), so every answer stays well under the 80 MiB message limit.
#
# Errors: every failure is a Cap'n Proto exception of type `failed` whose
# reason is one line: a stable snake_case kind, then the operation, the key
# and the cause, e.g. `too_large: put "user:1": value too large: 2000000
# bytes, limit 1048576`. The kinds: `bad_key`, `too_large`, `too_many`
# (putMany entries), `bad_cursor`, `storage`; a database
# that stays busy answers `overloaded`. Each method is atomic: when it
# fails, nothing has changed.

@0x815c9fa6ac263aa4;

# ==============================================================================
# Store
# ==============================================================================

interface Store {
  # One granted key/value store. Every method touches only this store.

  get @0 (key :Text) -> (found :Bool, value :Data);
  # The value stored under `key`. A missing key is not an error: `found` is
  # false and `value` is empty.

  put @1 (key :Text, value :Data) -> ();
  # Stores `value` under `key`, replacing any previous value. Fails with
  # `invalid key` or `value too large`.

  delete @2 (key :Text) -> (existed :Bool);
  # Removes `key`. Deleting a missing key is not an error; `existed` says
  # whether there was one.

  list @3 (prefix :Text, cursor :Text, limit :UInt32 = 100, keysOnly :Bool = false)
       -> (entries :List(Entry), cursor :Text);
  # The entries whose key starts with `prefix` (empty: all keys), in byte
  # order of their keys, one page at a time. Pass an empty `cursor` for the
  # first page, then the `cursor` each page returns; an empty returned
  # `cursor` means there are no more entries. A cursor is opaque, belongs to
  # its `prefix` (`invalid cursor` otherwise), and stays valid across writes:
  # a page continues after the last key of the previous one. `limit` is
  # clamped to 1–1000 (0 means the default, 100). A page also ends before
  # the entry that would take it over 32 MiB (see Limits above), so it can
  # hold fewer than `limit` entries while `cursor` says more follow. With
  # `keysOnly` the values are left empty (and cost nothing).

  putMany @4 (entries :List(Entry)) -> ();
  # Stores every entry, in one transaction: all of them or none. If one is
  # invalid the call fails with `putMany entry <index>: …` (index counted
  # from 0) and nothing is written. A key given twice keeps its last value.
}

struct Entry {
  # One key and its value.

  key @0 :Text;
  # The key: 1–1024 bytes of UTF-8, no NUL.

  value @1 :Data;
  # The value: at most 1 MiB.
}
