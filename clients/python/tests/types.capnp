# Test schema: an interface whose one struct carries every Cap'n Proto type,
# and a capability returned from a call (for pipelining).
@0xc4a1e5d7f0b3a921;

interface Types {
  echo @0 (value :Value) -> (value :Value);
  # Returns `value` as it came.
  adder @1 (start :Int32) -> (adder :Adder);
  # A new accumulator starting at `start`.
}

interface Adder {
  add @0 (n :Int32) -> (total :Int32);
  # Adds `n` and returns the running total.
}

enum Color {
  red @0;
  green @1;
  blue @2;
}

struct Inner {
  name @0 :Text;
  tags @1 :List(Text);
}

struct Value {
  b @0 :Bool;
  i8 @1 :Int8;
  i16 @2 :Int16;
  i32 @3 :Int32;
  i64 @4 :Int64;
  u8 @5 :UInt8;
  u16 @6 :UInt16;
  u32 @7 :UInt32;
  u64 @8 :UInt64;
  f32 @9 :Float32;
  f64 @10 :Float64;
  text @11 :Text;
  data @12 :Data;
  color @13 :Color;
  ints @14 :List(Int32);
  texts @15 :List(Text);
  inner @16 :Inner;
  inners @17 :List(Inner);
  choice :union {
    num @18 :Int32;
    word @19 :Text;
    none @20 :Void;
  }
}
