# Test schema for caplet-capnp-js, in the spirit of Cap'n Proto's
# test.capnp (TestAllTypes / TestDefaults): every primitive, text, data, enums,
# nested structs, groups, unions, every kind of list, non-zero defaults of
# every kind, interface fields, and an interface that extends another.

@0xd7c2a1e0b9f84c63;

enum Color {
  red @0;
  green @1;
  blue @2;
}

struct Point {
  x @0 :Float64;
  y @1 :Float64;
}

struct TestAllTypes {
  voidField @0 :Void;
  boolField @1 :Bool;
  int8Field @2 :Int8;
  int16Field @3 :Int16;
  int32Field @4 :Int32;
  int64Field @5 :Int64;
  uInt8Field @6 :UInt8;
  uInt16Field @7 :UInt16;
  uInt32Field @8 :UInt32;
  uInt64Field @9 :UInt64;
  float32Field @10 :Float32;
  float64Field @11 :Float64;
  textField @12 :Text;
  dataField @13 :Data;
  structField @14 :TestAllTypes;
  enumField @15 :Color;
  interfaceField @16 :Named;

  voidList @17 :List(Void);
  boolList @18 :List(Bool);
  int8List @19 :List(Int8);
  int16List @20 :List(Int16);
  int32List @21 :List(Int32);
  int64List @22 :List(Int64);
  uInt8List @23 :List(UInt8);
  uInt16List @24 :List(UInt16);
  uInt32List @25 :List(UInt32);
  uInt64List @26 :List(UInt64);
  float32List @27 :List(Float32);
  float64List @28 :List(Float64);
  textList @29 :List(Text);
  dataList @30 :List(Data);
  structList @31 :List(TestAllTypes);
  enumList @32 :List(Color);
  interfaceList @33 :List(Named);
  listList @34 :List(List(Int32));
  textListList @35 :List(List(Text));
  pointList @36 :List(Point);

  group :group {
    a @37 :Int32;
    b @38 :Text;
    inner :group {
      c @39 :Bool;
    }
  }

  shape :union {
    none @40 :Void;
    circle @41 :Float64;
    square @42 :Point;
    label @43 :Text;
    poly :group {
      sides @44 :UInt8;
      color @45 :Color = green;
    }
  }

  union {
    unsetA @46 :Void;
    setB @47 :Int16;
  }
}

struct TestDefaults {
  voidField @0 :Void = void;
  boolField @1 :Bool = true;
  int8Field @2 :Int8 = -123;
  int16Field @3 :Int16 = -12345;
  int32Field @4 :Int32 = -12345678;
  int64Field @5 :Int64 = -123456789012345;
  uInt8Field @6 :UInt8 = 234;
  uInt16Field @7 :UInt16 = 45678;
  uInt32Field @8 :UInt32 = 3456789012;
  uInt64Field @9 :UInt64 = 12345678901234567890;
  float32Field @10 :Float32 = 1234.5;
  float64Field @11 :Float64 = -123e45;
  textField @12 :Text = "foo";
  dataField @13 :Data = 0x"62 61 72";
  structField @14 :Point = (x = 1.5, y = -2.5);
  enumField @15 :Color = blue;
  boolList @16 :List(Bool) = [true, false, false, true];
  int32List @17 :List(Int32) = [-1, 2, -3];
  int64List @18 :List(Int64) = [-9223372036854775808, 9223372036854775807];
  textList @19 :List(Text) = ["plugh", "xyzzy", "thud"];
  dataList @20 :List(Data) = [0x"00 ff", ""];
  enumList @21 :List(Color) = [blue, red];
  pointList @22 :List(Point) = [(x = 1, y = 2), (x = 3)];
  listList @23 :List(List(Int32)) = [[1, 2], [], [3]];
  nan @24 :Float64 = nan;
  negInf @25 :Float32 = -inf;
  group :group {
    a @26 :Int32 = 77;
    b @27 :Text = "in group";
  }
  shape :union {
    circle @28 :Float64 = 2.5;
    label @29 :Text = "unused";
  }
}

interface Named {
  name @0 () -> (name :Text);
}

interface Base {
  ping @0 (n :UInt32) -> (n :UInt32);
  describe @1 () -> (color :Color, point :Point);
}

interface Derived extends(Base) {
  echo @0 (value :TestAllTypes) -> (value :TestAllTypes);
  find @1 (filter :Text, limit :UInt8 = 10) -> (names :List(Named));
  nested @2 (outer :Outer) -> ();
}

struct Outer {
  struct Inner {
    color @0 :Color;
  }
  inner @0 :Inner;
  interface InnerApi extends(Named) {
    call @0 (x :Int64) -> (y :UInt64);
  }
}

struct Params {
  count @0 :UInt8;
  kind @1 :Color;
  items @2 :List(Item);
  shape :union {
    circle @3 :Float64;
    square @4 :Float64;
  }
  big @5 :Int64;
  ubig @6 :UInt64;
  f32 @7 :Float32;
  name @8 :Text;
  blob @9 :Data;
  flag @10 :Bool;
  point @11 :Point;
  ints @12 :List(Int32);
}

struct Item {
  price @0 :Float64;
  name @1 :Text;
}

interface Shop {
  buy @0 Params -> Item;
}
