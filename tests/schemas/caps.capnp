# Test schema for caplet's end-to-end capability tests (never part of the
# public contract): every Cap'n Proto type in the spirit of Cap'n Proto's own
# TestAllTypes, and small interfaces for pipelining, callbacks, lifetimes,
# errors, inheritance, and what the codec must refuse (generics, AnyPointer).

@0xa5c7a747118f3cfe;

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

interface Echo {
  echo @0 (value :TestAllTypes) -> (value :TestAllTypes);
  defaults @1 (value :TestDefaults) -> (value :TestDefaults);
}

interface Chain {
  get @0 () -> (next :Chain, value :UInt32, info :Info);
}

struct Info {
  holder @0 :Chain;
  label @1 :Text;
}

interface Callback {
  onValue @0 (n :Int32) -> (doubled :Int32);
}

interface Caller {
  callBack @0 (target :Callback, n :Int32) -> (result :Int32);
}

interface Thing extends(Named) {
  touch @0 () -> (count :UInt32);
}

interface Factory {
  make @0 (label :Text) -> (thing :Thing);
  dropped @1 () -> (labels :List(Text));
}

interface Faulty {
  fail @0 (kind :Text) -> ();
}

interface Generic(T) {
  get @0 () -> (value :T);
}

interface HasAny {
  take @0 (value :AnyPointer) -> ();
}
