// import.meta (HTML "resolve a module specifier", without an import map):
// a worker's module has the URL file:/// + its module name, as a bundled
// module on Cloudflare Workers, never a path of the host; resolve() joins
// relative specifiers to it as URLs do, keeps absolute URLs, maps a
// Node.js built-in to node:NAME and refuses a bare name it cannot resolve.
// As in Deno and Node.js, main says whether this is the main module, and
// filename and dirname are the path of its URL.
export default async function run() {
  let bare;
  try { import.meta.resolve("no-such-package"); } catch (e) { bare = `${e.name}: ${e.message}`; }
  const self = await import(import.meta.url);
  return {
    url: import.meta.url,
    main: import.meta.main,
    filename: import.meta.filename,
    dirname: import.meta.dirname,
    sibling: import.meta.resolve("./lib/a b.js"),
    up: import.meta.resolve("../x.js"),
    rooted: import.meta.resolve("/y.js"),
    absolute: import.meta.resolve("https://example.com/m.js?q#h"),
    node: import.meta.resolve("node:path"),
    bareNode: import.meta.resolve("buffer"),
    itself: import.meta.resolve("import_meta.js"),
    viaUrl: new URL("./z.js", import.meta.url).href,
    selfImport: self.default === run,
    resolveName: import.meta.resolve.name,
    bare,
  };
}
