//! The Fetch Standard's objects and the File API's: `Headers`, `Request`,
//! `Response`, `FormData`, `Blob`, `File`, implemented in
//! `js/fetch_api.js`. (`fetch` itself exists only in a worker granted an
//! http gateway, see `crate::fetch`.)

use super::js::export;
use super::LazyGlobal;

macro_rules! fetch_api {
    ($($name:literal),* $(,)?) => {
        pub const GLOBALS: &[LazyGlobal] = &[$(LazyGlobal {
            name: $name,
            build: |ctx| export(ctx, "fetch_api", $name),
        }),*];
    };
}

fetch_api!("Headers", "Request", "Response", "FormData", "Blob", "File");
