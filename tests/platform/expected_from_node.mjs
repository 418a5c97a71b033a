// Writes the expected output of Intl conformance cases from Node.js (ICU 78,
// CLDR 48), never from caplet: `node tests/platform/expected_from_node.mjs
// tests/platform/intl_currency.js` runs the case's default export and writes
// NAME.out in the format of tests/all/platform.rs (`=> ` and the JSON).
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

for (const file of process.argv.slice(2)) {
  const module = await import(pathToFileURL(resolve(file)).href);
  writeFileSync(file.replace(/\.js$/, ".out"), "=> " + JSON.stringify(module.default()) + "\n");
}
