// Counts the lines of a worker's output (its default export: an array of
// strings) that differ between caplet and Node.js (V8, ICU 78, CLDR 48):
//   node tests/platform/census/compare.mjs tests/platform/census/intl_money.js [--list]
// CAPLET names the binary (default target/debug/caplet). A census, not a
// test: the conformance cases of tests/platform/ assert what must match.
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [file, flag] = process.argv.slice(2);
const caplet = process.env.CAPLET ?? "target/debug/caplet";
const limits = ["--limit-default", "cpuTimeMs=60000", "--limit-default", "wallTimeMs=120000"];
const ours = JSON.parse(
  execFileSync(caplet, ["run", ...limits, file], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], maxBuffer: 1 << 28 }),
);
const theirs = (await import(pathToFileURL(resolve(file)).href)).default();
let differ = 0;
for (let i = 0; i < theirs.length; i++) {
  if (ours[i] === theirs[i]) continue;
  differ++;
  if (flag === "--list") console.log(`- ${theirs[i]}\n+ ${ours[i]}`);
}
console.log(`${differ} of ${theirs.length} cases differ from Node ${process.versions.node} (ICU ${process.versions.icu}, CLDR ${process.versions.cldr})`);
