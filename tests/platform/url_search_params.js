// WHATWG URL: URLSearchParams parsing, serialisation, sorting, and the
// link with its URL's query.
export default function run() {
  const p = new URLSearchParams("?a=1&b=2&a=3&c=%20+x");
  const url = new URL("https://example.org/?q=1");
  const params = url.searchParams;
  params.append("a", "b c");
  const appended = url.href;
  url.search = "?z=9";
  const afterSearch = [params.get("z"), params.get("q"), url.searchParams === params];
  params.delete("z");
  const emptied = [url.href, url.search];
  const sorted = new URLSearchParams("z=b&a=b&z=a&a=a");
  sorted.sort();
  const units = new URLSearchParams([["\uFFFD", "x"], ["\u{1F308}", "y"]]);
  units.sort();
  const set = new URLSearchParams("a=1&b=2&a=3");
  set.set("a", "x");
  const valued = new URLSearchParams("a=1&a=2&b=1");
  valued.delete("a", "2");
  return {
    get: [p.get("a"), p.getAll("a"), p.get("c"), p.has("b"), p.get("zz"), p.size],
    parse: [new URLSearchParams("a=b&c=d&&e&=f").toString(), new URLSearchParams("q=%zz%20").get("q")],
    serialize: [new URLSearchParams({ "a b": "c+d" }).toString(), new URLSearchParams({ x: "*-._~" }).toString(),
      new URLSearchParams({ e: "é&=" }).toString()],
    linked: [appended, afterSearch, emptied],
    sorted: [sorted.toString(), units.toString()],
    set: set.toString(),
    valued: [valued.toString(), valued.has("b", "1"), valued.has("b", "2")],
    iterate: [[...new URLSearchParams("x=1&y=2")], [...new URLSearchParams("x=1&y=2").keys()]],
    errors: [
      (() => { try { new URLSearchParams([["a"]]); } catch (e) { return e.name; } })(),
      (() => { try { new URLSearchParams().append("a"); } catch (e) { return e.name; } })(),
    ],
    tag: Object.prototype.toString.call(p),
  };
}
