// node:util/types: util.types of node:util.
import { types } from "node:util";

export const {
  isDate, isRegExp, isMap, isSet, isWeakMap, isWeakSet, isPromise, isNativeError, isArrayBuffer,
  isAnyArrayBuffer, isArrayBufferView, isTypedArray, isUint8Array, isDataView, isAsyncFunction,
  isGeneratorFunction, isGeneratorObject, isBoxedPrimitive, isProxy,
} = types;
export default types;
