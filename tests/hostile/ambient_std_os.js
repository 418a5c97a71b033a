// No QuickJS std, os or bjson.
// expect: ok ["undefined","undefined","undefined"]
export default () => [typeof std, typeof os, typeof bjson];
