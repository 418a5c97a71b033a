// What the platform's modules share and workers never see.

/** Prototypes of platform classes whose instances structuredClone refuses
 *  (DataCloneError), as HTML says of platform objects that are not
 *  serializable. Each module adds its classes when it is evaluated. */
export const unclonable = new WeakSet();

/** Prototypes of HTML's serializable platform classes (Blob, File,
 *  CryptoKey), each with the function structuredClone copies an instance
 *  with; it returns undefined for an object that only inherits from the
 *  prototype (not a real instance), which then cannot be cloned. */
export const serializable = new WeakMap();

/** Throws a TypeError unless `given` arguments cover `needed`. */
export function requiredArguments(given, needed, what) {
  if (given < needed) {
    throw new TypeError(
      `${what}: ${needed} argument${needed === 1 ? "" : "s"} required, but only ${given} present`,
    );
  }
}

/** Defines `Symbol.toStringTag` on a class's prototype, as WebIDL does. */
export function tag(klass, name = klass.name) {
  Object.defineProperty(klass.prototype, Symbol.toStringTag, { value: name, configurable: true });
}
