// HTML's atob/btoa: forgiving-base64 decode and its failures, which throw
// an InvalidCharacterError DOMException.
export default function run() {
  const attempt = (f) => {
    try {
      return [...f()].map((c) => c.charCodeAt(0));
    } catch (e) {
      return [e.name, e.code, e instanceof DOMException];
    }
  };
  return {
    btoa: [btoa("Hello, world"), btoa(""), btoa("\u00e9"), btoa("\xff\xfe\x00"), btoa(12)],
    atob: [atob("SGVsbG8sIHdvcmxk"), atob(" Y Q = = "), atob("YR"), atob("YQ"), atob(""), atob("\tS\nG\fV\rs bA")],
    bytes: attempt(() => atob("//79")),
    coerced: attempt(() => atob(null)),
    failures: [
      attempt(() => atob("YQ=")), attempt(() => atob("ab=c")), attempt(() => atob("a")),
      attempt(() => atob("YQ===")), attempt(() => atob("*")), attempt(() => atob(undefined)),
      attempt(() => btoa("\u0100")), attempt(() => btoa("\ud800")),
    ],
    missing: (() => { try { atob(); } catch (e) { return e.name; } })(),
  };
}
