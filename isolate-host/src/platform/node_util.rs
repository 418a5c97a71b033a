//! The native half of `node:util`: a promise's state, which JavaScript
//! cannot read synchronously, for `util.inspect` (`Promise { 1 }`,
//! `Promise { <pending> }`) and `console`. A native module,
//! `caplet:util-native`, that only the `node:` modules can import.

use rquickjs::module::{Declarations, Exports, ModuleDef};
use rquickjs::promise::PromiseState;
use rquickjs::{Array, Ctx, Function, Result, Value};

/// The native module's name.
pub const MODULE: &str = "caplet:util-native";

/// `promiseState(value)`: `undefined` for anything but a promise, else
/// `["pending"]`, `["fulfilled", value]` or `["rejected", reason]`. Reading
/// the state runs no code of the worker's and marks no rejection handled.
pub(super) fn promise_state<'js>(ctx: Ctx<'js>, value: Value<'js>) -> Result<Value<'js>> {
    let Some(promise) = value.as_promise() else {
        return Ok(Value::new_undefined(ctx));
    };
    let out = Array::new(ctx.clone())?;
    match promise.state() {
        PromiseState::Pending => out.set(0, "pending")?,
        PromiseState::Resolved => {
            out.set(0, "fulfilled")?;
            out.set(1, promise.result::<Value>().transpose()?)?;
        }
        PromiseState::Rejected => {
            out.set(0, "rejected")?;
            // `result` rethrows a rejection; the reason is that exception.
            let reason = match promise.result::<Value>() {
                Some(Err(rquickjs::Error::Exception)) => ctx.catch(),
                Some(Err(other)) => return Err(other),
                Some(Ok(value)) => value,
                None => Value::new_undefined(ctx.clone()),
            };
            out.set(1, reason)?;
        }
    }
    Ok(out.into_value())
}

/// `caplet:util-native`: `promiseState(value)`.
pub struct UtilNative;

impl ModuleDef for UtilNative {
    fn declare<'js>(decl: &Declarations<'js>) -> Result<()> {
        decl.declare("promiseState")?;
        Ok(())
    }

    fn evaluate<'js>(ctx: &Ctx<'js>, exports: &Exports<'js>) -> Result<()> {
        exports.export("promiseState", Function::new(ctx.clone(), promise_state)?)?;
        Ok(())
    }
}
