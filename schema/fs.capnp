# fs.capnp — the built-in virtual file system capability.
#
# Who calls it: JavaScript workers, through a binding in their `env` (e.g.
# `env.fs`), and any client the broker hands a `Volume` to. The broker serves
# it (crate `caplet-store`); the isolate-host only proxies calls.
#
# What it is for: one granted *volume*, a private tree of files and
# directories stored in the broker's SQLite database. A volume is identified
# by the pair (principal, volume name) chosen by the broker at grant time:
# code can never name another volume, another principal's data, or anything
# on the host's real file system. There are no symlinks, no devices, no
# permissions bits and no timestamps (workers run with a frozen clock, and a
# volume does not leak real time).
#
# What it can touch: only the entries of its own volume. A volume granted
# read-only accepts `read`, `list`, `stat`, `glob` and `usage` (and batches
# made only of `read`, `list` and `stat` ops); every other method fails with
# `<op> <path>: volume "<name>" is read-only`.
#
# Paths: UTF-8 text; `/` separates components; a relative path is taken from
# the root, so `notes/a.txt` is `/notes/a.txt`. Empty components and `.` are
# dropped and `..` goes up one level, so `/a/./b//c` is `/a/b/c`. A path that
# would climb above the root (`../etc/passwd`, `/a/../../b`) is rejected, as
# is one containing a NUL byte, one longer than 4096 bytes, or one with a
# component longer than 255 bytes. The root `/` always exists, is a
# directory, and can be neither written nor removed nor renamed.
#
# Limits: one file holds at most 16 MiB. One answer (a file's content, a
# listing, a glob's matches, a batch's results) holds at most 32 MiB of
# contents, paths and names (counting 32 bytes per item besides), so every
# answer stays well under the 80 MiB message limit: a call that would
# answer more fails with `too_large` and changes nothing, e.g.
# `too_large: batch op 2: read /big: the batch results would be over
# 33554432 bytes`. Every volume has a quota, set by the
# broker at grant time: total bytes of file content, and number of entries
# (files plus directories). An operation that would exceed either fails and
# changes nothing; the message names the quota, e.g.
# `write /notes/a.txt: quota exceeded: volume "workspace" allows 1048576 bytes`.
#
# Errors: every failure is a Cap'n Proto exception of type `failed` whose
# reason is one line: a stable snake_case kind, then the operation, the
# normalised path, and the cause, e.g. `not_found: read /missing.txt: not
# found`, `not_empty: remove /docs: directory not empty`, `not_found: write
# /a/b.txt: parent directory /a does not exist`. The kinds: `not_found`,
# `exists`, `not_a_directory`, `is_a_directory`, `not_empty`, `bad_path`
# (escapes the root, NUL, too long, the root itself, a move into itself),
# `too_large`, `quota_exceeded`, `read_only`, `too_many` (batch items, glob
# matches), `storage` (the database failed); a database that stays busy
# answers `overloaded`. Each method is atomic: when it fails, nothing it
# would have changed has changed.

@0xc328a1ecd0545e92;

# ==============================================================================
# Volume
# ==============================================================================

interface Volume {
  # One granted volume. Every method touches only this volume.

  read @0 (path :Text) -> (content :Data);
  # The whole content of the file at `path`. Fails with `not found` or
  # `is a directory`.

  write @1 (path :Text, content :Data, createParents :Bool = false) -> ();
  # Creates the file at `path`, or replaces its whole content. The parent
  # directory must exist (`parent directory /a does not exist`) unless
  # `createParents` is true, in which case missing directories are created
  # (and count against the entry quota). Fails with `is a directory`,
  # `not a directory` (a parent is a file), `file too large` (over 16 MiB) or
  # `quota exceeded`.

  append @2 (path :Text, content :Data) -> (size :UInt32);
  # Appends `content` to the file at `path`, creating it (empty) first when
  # it does not exist; its parent directory must exist. Returns the new size
  # in bytes. Fails like `write`.

  list @3 (path :Text) -> (entries :List(Entry));
  # The direct children of the directory at `path`, sorted by name (byte
  # order). Fails with `not found` or `not a directory`.

  stat @4 (path :Text) -> (exists :Bool, entry :Entry);
  # Whether something exists at `path` and, if so, what. A missing entry is
  # not an error: `exists` is false and `entry` is left unset.

  mkdir @5 (path :Text, parents :Bool = false) -> ();
  # Creates the directory at `path`. Without `parents` the parent must exist
  # and `path` must not (`already exists`). With `parents`, missing ancestors
  # are created and an existing directory is not an error (like `mkdir -p`).
  # Fails with `not a directory` if an ancestor is a file, or
  # `quota exceeded` (entries).

  remove @6 (path :Text, recursive :Bool = false) -> ();
  # Removes the file or directory at `path`. A non-empty directory needs
  # `recursive` (`directory not empty`), which removes everything under it.
  # Fails with `not found`; the root cannot be removed.

  rename @7 (from :Text, to :Text) -> ();
  # Moves the file or directory at `from` to `to`, with everything under it.
  # `to`'s parent directory must exist. If `to` is an existing file and
  # `from` is a file, it is replaced (atomically); any other existing `to`
  # fails with `already exists`. Moving a directory into itself fails with
  # `cannot move a directory into itself`. The error names `from`.

  glob @8 (pattern :Text) -> (entries :List(Entry));
  # Every entry whose path matches `pattern`, sorted by path (the root
  # itself is never listed). `pattern` is
  # normalised like a path (so it cannot escape the root); within a
  # component `*` matches any run of characters and `?` exactly one, neither
  # crossing a `/`; a component that is exactly `**` matches zero or more
  # whole components. Other characters match themselves. At most 10000
  # matches (`too many matches`) and one answer's 32 MiB (`too_large`).

  batch @9 (ops :List(FsOp)) -> (results :List(FsResult));
  # Runs `ops` in order, in one transaction: later ops see the effects of
  # earlier ones, and either all of them take effect or none does. Results
  # come back one per op, in order. If an op fails, everything is rolled
  # back and the call fails with `batch op <index>: <op> <path>: <cause>`
  # (index counted from 0), e.g. `batch op 1: remove /tmp: not found`.
  # At most 1000 ops per batch, and the results of all its reads, lists and
  # stats together at most one answer's 32 MiB: the op that would pass it
  # fails the batch with `too_large`, before it is read.

  usage @10 () -> (bytes :UInt64, entries :UInt32, maxBytes :UInt64, maxEntries :UInt32);
  # How much of the quota the volume uses: bytes of file content, number of
  # files plus directories (the root is not counted), and the limits of this
  # grant.
}

# ==============================================================================
# Entries
# ==============================================================================

struct Entry {
  # What `list`, `stat` and `glob` report about one file or directory.

  path @0 :Text;
  # Normalised absolute path, e.g. `/notes/todo.txt`.

  name @1 :Text;
  # Last component of `path`, e.g. `todo.txt`; empty for the root.

  kind @2 :Kind;
  # File or directory.

  size @3 :UInt32;
  # Content size in bytes for a file (at most 16 MiB, so it fits in a
  # JavaScript number); 0 for a directory.

  enum Kind {
    file @0;
    # A regular file holding bytes.
    directory @1;
    # A directory holding entries.
  }
}

# ==============================================================================
# Batches
# ==============================================================================

struct FsOp {
  # One operation of a `batch`. Same meaning, defaults and errors as the
  # `Volume` method of the same name.

  union {
    read @0 :PathArg;
    # Read the file at `path`; its result is `content`.

    write :group {
      # Create or replace a file; result `none`.
      path @1 :Text;
      content @2 :Data;
      createParents @3 :Bool = false;
    }

    append :group {
      # Append to a file (created when missing); result `size`.
      path @4 :Text;
      content @5 :Data;
    }

    stat @6 :PathArg;
    # Look at `path`; result `entry`, or `none` when nothing is there.

    mkdir :group {
      # Create a directory; result `none`.
      path @7 :Text;
      parents @8 :Bool = false;
    }

    remove :group {
      # Remove a file or directory; result `none`.
      path @9 :Text;
      recursive @10 :Bool = false;
    }

    rename :group {
      # Move a file or directory; result `none`.
      from @11 :Text;
      to @12 :Text;
    }

    list @13 :PathArg;
    # List a directory; result `entries`.
  }
}

struct PathArg {
  # An op that only needs a path.

  path @0 :Text;
  # The path the op applies to.
}

struct FsResult {
  # The result of one `FsOp`, at the same index.

  union {
    none @0 :Void;
    # The op has no result (`write`, `mkdir`, `remove`, `rename`), or `stat`
    # found nothing.
    content @1 :Data;
    # `read`: the file's content.
    size @2 :UInt32;
    # `append`: the file's new size in bytes.
    entry @3 :Entry;
    # `stat`: what is at the path.
    entries @4 :List(Entry);
    # `list`: the directory's children, sorted by name.
  }
}
