// ECMA-402 NumberFormat rounding options (roundingMode, roundingIncrement,
// roundingPriority, trailingZeroDisplay), from the spec's tables and
// MDN's examples.
const fails = (f) => { try { f(); return "no error"; } catch (e) { return e.constructor.name; } };
const fmt = (options, ...values) => values.map((v) => new Intl.NumberFormat("en-US", options).format(v));

export default function run() {
  const out = {};
  const modes = ["ceil", "floor", "expand", "trunc", "halfCeil", "halfFloor", "halfExpand", "halfTrunc", "halfEven"];
  // ECMA-402's table of rounding modes, at 0 fraction digits.
  out.modes = Object.fromEntries(modes.map((roundingMode) =>
    [roundingMode, fmt({ maximumFractionDigits: 0, roundingMode }, -1.5, -0.4, 0.4, 0.5, 0.6, 1.5, 2.5)]));
  out.modeOnSignificant = fmt({ maximumSignificantDigits: 2, roundingMode: "floor" }, 1.29, -1.21);

  // roundingIncrement: multiples of 5, 25 and 10 at the last fraction digit.
  out.increment = [
    ...fmt({ style: "currency", currency: "USD", roundingIncrement: 5 }, 11.29, 11.25, 11.22),
    ...fmt({ minimumFractionDigits: 2, maximumFractionDigits: 2, roundingIncrement: 25 }, 1.13, 1.12),
    ...fmt({ maximumFractionDigits: 1, minimumFractionDigits: 1, roundingIncrement: 50 }, 7.4),
  ];
  out.incrementErrors = [
    fails(() => new Intl.NumberFormat("en", { roundingIncrement: 3 })),
    fails(() => new Intl.NumberFormat("en", { roundingIncrement: 5, maximumSignificantDigits: 2 })),
    fails(() => new Intl.NumberFormat("en", { roundingIncrement: 5, maximumFractionDigits: 2 })),
    fails(() => new Intl.NumberFormat("en", { roundingMode: "up" })),
  ];

  // roundingPriority: both roundings, the more or the less precise wins.
  const both = { maximumSignificantDigits: 2, maximumFractionDigits: 2 };
  out.priority = [
    ...fmt({ ...both, roundingPriority: "morePrecision" }, 1.23456, 123.456),
    ...fmt({ ...both, roundingPriority: "lessPrecision" }, 1.23456, 123.456),
    ...fmt({ ...both }, 1.23456),
  ];

  // trailingZeroDisplay: integers lose their fraction zeros.
  out.trailingZeros = [
    ...fmt({ minimumFractionDigits: 2, trailingZeroDisplay: "stripIfInteger" }, 5, 5.1),
    ...fmt({ style: "currency", currency: "USD", trailingZeroDisplay: "stripIfInteger" }, 12, 12.5),
  ];

  out.resolved = new Intl.NumberFormat("en", { ...both, roundingPriority: "lessPrecision", roundingMode: "trunc" }).resolvedOptions();
  return out;
}
