// Imports resolve only among the worker's own modules:
//   caplet run examples/imports.js --module greet.js=examples/greet.js
import { greeting } from "./greet.js";

export default async function (input) {
  return greeting(input?.name ?? "modules");
}
