// WHATWG URL Pattern Standard: the examples of its introduction and
// explainer, and edge cases from WPT's urlpatterntestdata.json.
const fails = (f) => { try { f(); return "no error"; } catch (e) { return e.constructor.name; } };

export default function run() {
  const out = {};

  // The standard's first example: a pathname pattern with a named group.
  const books = new URLPattern({ pathname: "/books/:id" });
  out.books = [
    books.test("https://example.com/books/123"),
    books.exec("https://example.com/books/123").pathname.groups,
    books.test("https://example.com/books/123/chapters"),
    books.pathname, books.protocol, books.hasRegExpGroups,
  ];

  // A constructor string with a base URL; wildcards become numbered groups.
  const api = new URLPattern("/api/*", "https://example.com");
  const hit = api.exec("https://example.com/api/v1/users?x=1");
  out.constructorString = [api.protocol, api.hostname, api.pathname, api.search, hit.pathname.groups, hit.inputs];
  out.baseArgument = [api.test("/api/x", "https://example.com"), api.test("/api/x", "https://other.example")];

  // Regular-expression groups, optional and repeated modifiers.
  const version = new URLPattern({ pathname: "/v:major(\\d+).:minor(\\d+)?" });
  out.regexpGroups = [version.hasRegExpGroups, version.exec({ pathname: "/v1.2" })?.pathname.groups,
    version.test({ pathname: "/v1.x" })];
  const files = new URLPattern({ pathname: "/files/:path+" });
  out.repeated = [files.exec({ pathname: "/files/a/b/c" }).pathname.groups.path, files.test({ pathname: "/files/" })];
  const optional = new URLPattern({ pathname: "/product{/:type}?" });
  out.optional = [optional.test({ pathname: "/product" }), optional.test({ pathname: "/product/shoes" }),
    Object.entries(optional.exec({ pathname: "/product" }).pathname.groups).map(([k, v]) => `${k}=${v}`)];

  // Hostnames, ports and the default port of a scheme.
  const sub = new URLPattern({ hostname: "{:sub.}?example.com" });
  out.hostname = [sub.exec("https://api.example.com/").hostname.groups, sub.test("https://example.com/"),
    sub.test("https://example.org/")];
  const port = new URLPattern({ protocol: "https", port: "" });
  out.defaultPort = [port.test("https://example.com:443/"), port.test("https://example.com:8443/")];

  // ignoreCase, and canonicalized input.
  const caseless = new URLPattern({ pathname: "/FOO" }, { ignoreCase: true });
  out.ignoreCase = [caseless.test({ pathname: "/foo" }), new URLPattern({ pathname: "/FOO" }).test({ pathname: "/foo" })];
  out.canonical = new URLPattern({ pathname: "/caf\u00e9" }).pathname;

  // Inputs that are not URLs match nothing; bad patterns are TypeErrors.
  out.notAUrl = [books.test("not a url"), books.exec("not a url")];
  out.errors = [fails(() => new URLPattern("/relative")), fails(() => new URLPattern({ pathname: "/:id(" })),
    fails(() => new URLPattern({ pathname: "/(\\p{Nope})" })), fails(() => new URLPattern({ pathname: "/" }, "https://base"))];
  out.tag = Object.prototype.toString.call(books);
  return out;
}
