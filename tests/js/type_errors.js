// Wrong JS types: each call must throw an error naming the field path.
const ok = { setB: 1, shape: { none: null } };
const cases = [
  { ...ok, int8Field: 300 },
  { ...ok, uInt32Field: 1.5 },
  { ...ok, textField: 5 },
  { ...ok, int64Field: "1" },
  { ...ok, dataField: "bytes" },
  { ...ok, enumField: "purple" },
  { setB: 1 },
  { ...ok, nope: 1 },
  { ...ok, structList: [ok, { ...ok, int8Field: "x" }] },
  { ...ok, listList: [[1, "two"]] },
  { ...ok, interfaceField: 7 },
  "not an object",
];

export default {
  async run(input, env) {
    const out = [];
    for (const value of cases) {
      try {
        await env.echo.echo({ value });
        out.push("accepted");
      } catch (e) {
        out.push(`${e.name}: ${e.message}`);
      }
    }
    return out;
  },
};
