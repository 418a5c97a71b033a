//! The Streams Standard's classes, implemented in `js/streams.js`.

use super::js::export;
use super::LazyGlobal;

macro_rules! streams {
    ($($name:literal),* $(,)?) => {
        pub const GLOBALS: &[LazyGlobal] = &[$(LazyGlobal {
            name: $name,
            build: |ctx| export(ctx, "streams", $name),
        }),*];
    };
}

streams!(
    "ReadableStream",
    "ReadableStreamDefaultReader",
    "ReadableStreamBYOBReader",
    "ReadableStreamDefaultController",
    "ReadableByteStreamController",
    "ReadableStreamBYOBRequest",
    "WritableStream",
    "WritableStreamDefaultWriter",
    "WritableStreamDefaultController",
    "TransformStream",
    "TransformStreamDefaultController",
    "ByteLengthQueuingStrategy",
    "CountQueuingStrategy",
);
