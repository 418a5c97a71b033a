// A URLPattern whose regular expression backtracks catastrophically: it is
// matched by the engine's RegExp, so the CPU limit stops it.
// expect: cpu_limit_exceeded
export default () => new URLPattern({ pathname: "/((?:a+)+b)" }).test({ pathname: "/" + "a".repeat(40) + "c" });
