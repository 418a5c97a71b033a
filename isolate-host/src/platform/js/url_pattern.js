// URLPattern (WHATWG URL Pattern Standard) over the urlpattern crate: the
// native parses a pattern into one ECMAScript regular expression per
// component and canonicalizes the URLs to match; this glue holds the
// standard's object shapes and matches with the engine's RegExp.
import { requiredArguments, tag, unclonable } from "./internal.js";

export function install(native) {
  const COMPONENTS = ["protocol", "username", "password", "hostname", "port", "pathname", "search", "hash"];
  const INIT_KEYS = [...COMPONENTS, "baseURL"];
  const usv = (v) => String(v).toWellFormed();

  // URLPatternInput: a USVString or a URLPatternInit dictionary.
  function inputOf(input) {
    if (input === undefined) return {};
    if (input === null || typeof input !== "object") return usv(input);
    const init = {};
    for (const key of INIT_KEYS) {
      const value = input[key];
      if (value !== undefined) init[key] = usv(value);
    }
    return init;
  }

  function optionsOf(options) {
    if (options === undefined || options === null) return false;
    if (typeof options !== "object") throw new TypeError("URLPattern: options must be an object");
    return Boolean(options.ignoreCase);
  }

  // [components, [input, baseURL]] of what to match, or null.
  function matchInput(input, baseURL) {
    const json = native.matchInput(JSON.stringify(inputOf(input)), baseURL === undefined ? undefined : usv(baseURL));
    return json === null ? null : JSON.parse(json);
  }

  class URLPattern {
    #components;
    #hasRegExpGroups;

    constructor(input = undefined, baseURLOrOptions = undefined, options = undefined) {
      let baseURL;
      if (typeof baseURLOrOptions === "string") {
        requiredArguments(arguments.length, 1, "URLPattern");
        baseURL = baseURLOrOptions;
      } else {
        options = baseURLOrOptions;
      }
      const ignoreCase = optionsOf(options);
      const parsed = JSON.parse(native.parse(JSON.stringify(inputOf(input)), baseURL, ignoreCase));
      const components = {};
      for (const key of COMPONENTS) {
        const c = parsed[key];
        let regexp;
        try {
          regexp = new RegExp(c.regexpString, ignoreCase ? "ui" : "u");
        } catch (e) {
          throw new TypeError(`invalid URLPattern: ${key} is not a valid regular expression: ${e.message}`);
        }
        components[key] = { pattern: c.patternString, regexp, groups: c.groupNameList };
      }
      this.#components = components;
      this.#hasRegExpGroups = parsed.hasRegexpGroups;
    }

    get protocol() { return this.#components.protocol.pattern; }
    get username() { return this.#components.username.pattern; }
    get password() { return this.#components.password.pattern; }
    get hostname() { return this.#components.hostname.pattern; }
    get port() { return this.#components.port.pattern; }
    get pathname() { return this.#components.pathname.pattern; }
    get search() { return this.#components.search.pattern; }
    get hash() { return this.#components.hash.pattern; }
    get hasRegExpGroups() { return this.#hasRegExpGroups; }

    test(input = undefined, baseURL = undefined) {
      const matched = matchInput(input, baseURL);
      if (matched === null) return false;
      const [values] = matched;
      return COMPONENTS.every((key) => this.#components[key].regexp.test(values[key]));
    }

    exec(input = undefined, baseURL = undefined) {
      const matched = matchInput(input, baseURL);
      if (matched === null) return null;
      const [values, [given, givenBase]] = matched;
      const result = { inputs: [given] };
      if (givenBase !== null) result.inputs.push(givenBase);
      for (const key of COMPONENTS) {
        const { regexp, groups: names } = this.#components[key];
        const match = regexp.exec(values[key]);
        if (match === null) return null;
        const groups = {};
        names.forEach((name, i) => { groups[name] = match[i + 1]; });
        result[key] = { input: values[key], groups };
      }
      return result;
    }
  }
  tag(URLPattern);
  unclonable.add(URLPattern.prototype);
  return { URLPattern };
}
