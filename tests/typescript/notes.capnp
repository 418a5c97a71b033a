# A client-provided interface for the `caplet types` tests: capabilities in
# results (for pipelined return types), a union, an enum, Int64, a group
# and doc comments.

@0xd3c1f4a2b5e69780;

interface Notes {
  # A tree of notes, served by the client.

  open @0 (path :Text) -> (dir :Dir, depth :UInt32);
  # Opens the folder at `path`.

  find @1 (query :Query) -> (hits :List(Hit));
  # Searches every folder.
}

interface Dir {
  # One folder of notes.

  read @0 (name :Text, maxBytes :UInt64 = 65536) -> (text :Text, modified :Int64);
  # Reads the note called `name`.

  sub @1 (name :Text) -> (dir :Dir);
  # A subfolder.
}

struct Query {
  # What `find` looks for.
  union {
    words @0 :Text;
    # Notes containing these words.
    tag @1 :Tag;
  }
  limit @2 :UInt32 = 10;
}

enum Tag {
  todo @0;
  done @1;
}

struct Hit {
  path @0 :Text;
  info :group {
    score @1 :Float64;
    tag @2 :Tag;
  }
}
