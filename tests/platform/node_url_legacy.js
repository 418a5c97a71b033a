// node:url's legacy API (url.parse, url.format, url.resolve, Url), which
// Node code still uses, as Node writes it. caplet builds it on the WHATWG
// parser, so the cases are ones where the two agree; they differ where
// WHATWG normalises (a default port such as :80 is dropped) or has no
// host (mailto:).
import url from "node:url";

const out = [];
const cases = ["http://a.com", "https://user:pw@ex.com:8080/p/a?x=1&y=2#h", "https://ex.com/p?q=1&q=2", "/path/to?x=1#h", "path/to", "?q=1", "#frag", "file:///tmp/x.txt", "http://user@host/", "http://[::1]:8080/", "//cdn.com/lib.js", "  https://ex.com/a b  "];
for (const c of cases) {
  const p = url.parse(c);
  out.push(JSON.stringify([p.protocol, p.slashes, p.auth, p.host, p.port, p.hostname, p.hash, p.search, p.query, p.pathname, p.path, p.href]));
}
out.push(JSON.stringify(url.parse("http://a/?x=1&x=2&y", true).query));
out.push(JSON.stringify((({ host, pathname }) => [host, pathname])(url.parse("//cdn.com/lib.js", false, true))));
out.push(
  url.format({ protocol: "http", host: "a.com", pathname: "x" }),
  url.format({ protocol: "https:", hostname: "b.com", port: 8443, pathname: "/p", search: "?a=1", hash: "h" }),
  url.format({ pathname: "/only", query: { a: [1, 2] } }),
  url.format(url.parse("https://u:p@h.com/x?y#z")),
  url.format(new URL("http://a.com/b")),
);
out.push(url.resolve("/one/two/three", "four"), url.resolve("http://example.com/", "/one"), url.resolve("http://example.com/one", "/two"), url.resolve("http://a/b/c/d;p?q", "../g"), url.resolve("one/two", "../three"));
out.push(String(url.parse("http://a/") instanceof url.Url));
globalThis.out = out;
export default () => globalThis.out;
