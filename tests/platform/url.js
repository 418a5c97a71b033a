// WHATWG URL: parsing edge cases from the standard and WPT's urltestdata,
// setters, and errors.
export default function run() {
  const href = (input, base) => {
    try {
      return new URL(input, base).href;
    } catch (e) {
      return `${e.name}`;
    }
  };
  const u = new URL("https://user:pa%20ss@EXAMPLE.com:8080/a/./b/../c?x=1 2#frag ment");
  const setters = new URL("http://a.com/p");
  setters.pathname = "x y";
  setters.hash = "h";
  setters.port = "99";
  setters.protocol = "https";
  setters.search = "q='1'";
  setters.hostname = "b.org";
  setters.port = "not a port";
  setters.username = "me@";
  const special = new URL("http://a/");
  special.protocol = "mailto";
  return {
    parts: [u.href, u.origin, u.protocol, u.username, u.password, u.host, u.hostname, u.port,
      u.pathname, u.search, u.hash],
    wpt: [
      href("http://example\t.\norg", "http://example.org/foo/bar"),
      href("  :foo.com   \n", "http://example.org/foo/bar"),
      href("http://f:21/ b ? d # e ", "http://example.org/foo/bar"),
      href("http://[1:0::]"),
      href("http://0x7f.1/"),
      href("HTTP://EXAMPLE.COM/Path"),
      href("http://ex.com:80/"),
      href("//host/path", "https://base/"),
      href("?x", "http://h/a/b?y#z"),
      href("#f", "http://h/a?y"),
      href("../../../x", "http://h/a/b/c"),
      href("http://münchen.de/"),
      href("file:///C:/a/../b"),
      href("non-special://host/p q"),
      href("http://a.b:65536"),
      href("http://[::1"),
      href("nope"),
      href("https://"),
    ],
    origins: [new URL("blob:https://a.com/uuid").origin, new URL("data:text/plain,hi").origin,
      new URL("https://a.com:443/").origin],
    setters: [setters.href, special.protocol],
    statics: [URL.canParse("nope"), URL.canParse("b", "http://a/"), URL.parse("nope"),
      URL.parse("/p", "http://a/q").href],
    json: JSON.stringify({ u: new URL("a:b") }),
    error: (() => { try { new URL("nope"); } catch (e) { return [e instanceof TypeError, e.message]; } })(),
    tag: Object.prototype.toString.call(u),
  };
}
