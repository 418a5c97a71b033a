//! A worker's environment bindings: checks the capabilities and interface
//! schemas a client grants, compiles `.capnp` source with the embedded
//! compiler (cached by content hash), and keeps each binding so it can be
//! loaded onto a host again after a host dies.

use caplet::caplet_capnp::{binding, compiled_schema, interface_schema};
use caplet_capnp_js::compile::SchemaCompiler;
use caplet_capnp_js::schema::SchemaSet;
use capnp::message::{Builder, HeapAllocator};
use std::sync::Arc;

use crate::grant::Grant;
use crate::membrane::Membrane;
use std::rc::Rc;

use crate::error::Error;

/// Most bindings one worker may have.
pub const MAX_BINDINGS: u32 = 64;

/// One checked binding.
pub struct Bound {
    pub name: String,
    /// The granted capability, seen through the broker's membrane.
    pub client: capnp::capability::Client,
    /// Its budget and revocation (`Worker.revoker`).
    pub grant: Rc<Grant>,
    /// A serialized `CompiledSchema` message with every node the interface
    /// needs (kept at its exact size, like the worker's spec).
    schema: Vec<u8>,
}

impl Bound {
    /// Writes this binding into a host's `WorkerSpec.env` entry.
    pub fn write(&self, mut out: binding::Builder<'_>) -> Result<(), Error> {
        out.set_name(&self.name);
        out.reborrow()
            .init_cap()
            .set_as_capability(self.client.hook.add_ref());
        let schema = capnp::serialize::read_message_from_flat_slice(
            &mut self.schema.as_slice(),
            crate::reader_options(),
        )?;
        out.init_interface_schema()
            .set_compiled(schema.get_root::<compiled_schema::Reader>()?)?;
        Ok(())
    }

    /// The compiled schema as canonical words, for comparing worker code.
    pub fn schema_words(&self) -> &[u8] {
        &self.schema
    }
}

/// A JavaScript identifier of 1–64 ASCII letters, digits, `_` or `$`, not
/// starting with a digit.
fn check_name(name: &str) -> Result<(), Error> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
        && !name.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(())
    } else {
        Err(Error::BadCode(format!(
            "binding name {name:?} must be a JavaScript identifier of 1 to 64 ASCII characters"
        )))
    }
}

/// The bindings of `env` with their names, checked: at most
/// [`MAX_BINDINGS`], each name a JavaScript identifier, none twice.
pub fn entries<'a>(
    env: capnp::struct_list::Reader<'a, binding::Owned>,
) -> Result<Vec<(String, binding::Reader<'a>)>, Error> {
    if env.len() > MAX_BINDINGS {
        return Err(Error::BadCode(format!(
            "a worker may have at most {MAX_BINDINGS} bindings, got {}",
            env.len()
        )));
    }
    let mut out: Vec<(String, binding::Reader<'a>)> = Vec::new();
    for entry in env.iter() {
        let name = entry
            .get_name()?
            .to_str()
            .map_err(|_| Error::BadCode("a binding name is not valid utf-8".into()))?
            .to_string();
        check_name(&name)?;
        if out.iter().any(|(seen, _)| *seen == name) {
            return Err(Error::BadCode(format!("binding {name:?} appears twice")));
        }
        out.push((name, entry));
    }
    Ok(out)
}

/// Checks and compiles every binding of `env`.
/// Calls through the bindings are recorded in `calls`, and counted in
/// `metrics`.
pub fn read(
    env: capnp::struct_list::Reader<'_, binding::Owned>,
    compiler: &SchemaCompiler,
    calls: &std::rc::Rc<crate::calls::CallLog>,
    metrics: &std::rc::Rc<crate::metrics::Metrics>,
) -> Result<Vec<Bound>, Error> {
    let mut bound: Vec<Bound> = Vec::new();
    for (name, entry) in entries(env)? {
        let client: capnp::capability::Client = entry
            .get_cap()
            .get_as_capability()
            .map_err(|e| Error::BadCode(format!("binding {name:?}: no capability: {e}")))?;
        let interface = resolve(
            entry.get_interface_schema()?,
            compiler,
            &format!("binding {name:?}"),
        )?;
        let schema = capnp::serialize::write_message_to_words(&interface.compiled);
        let budget = if entry.has_budget() {
            Some(entry.get_budget()?)
        } else {
            None
        };
        let grant = Grant::for_binding(&name, &interface.set, interface.interface_id, budget)?;
        let client = Membrane::wrap_recorded(
            client,
            interface.set,
            interface.interface_id,
            grant.clone(),
            calls.clone(),
            &name,
            metrics.clone(),
        );
        bound.push(Bound {
            name,
            client,
            grant,
            schema,
        });
    }
    Ok(bound)
}

/// An interface schema, checked for use from JS.
pub struct Interface {
    pub interface_id: u64,
    /// A `CompiledSchema` message with every node, for a host.
    pub compiled: Builder<HeapAllocator>,
    /// The nodes, for the broker's membranes.
    pub set: Arc<SchemaSet>,
}

/// Compiles (cached) or reads an `InterfaceSchema` and checks that JS can use
/// the interface; errors start with `what`.
pub fn resolve(
    schema: interface_schema::Reader<'_>,
    compiler: &SchemaCompiler,
    what: &str,
) -> Result<Interface, Error> {
    let (set, interface_id) = resolve_unchecked(schema, compiler, what)?;
    set.check_interface(interface_id)
        .map_err(|e| Error::Schema(format!("{what}: {e}")))?;
    Ok(Interface {
        interface_id,
        compiled: compiled_message(&set, interface_id)?,
        set,
    })
}

/// Compiles (cached) or reads an `InterfaceSchema` without checking that
/// JS can use it (`Broker.audit` reports what JS could not use).
pub fn resolve_unchecked<'a>(
    schema: interface_schema::Reader<'a>,
    compiler: &SchemaCompiler,
    what: &str,
) -> Result<(Arc<SchemaSet>, u64), Error> {
    Ok(match schema.which()? {
        interface_schema::Which::Source(source) => {
            let source = source?;
            let mut files = Vec::new();
            let utf8 = |text: capnp::text::Reader<'a>, field: &str| {
                text.to_str()
                    .map_err(|_| Error::Schema(format!("{what}: {field} is not valid utf-8")))
            };
            for file in source.get_files()? {
                files.push((
                    utf8(file.get_name()?, "a file name")?,
                    utf8(file.get_text()?, "a file's text")?,
                ));
            }
            let compiled = compiler
                .compile(
                    &files,
                    utf8(source.get_interface_name()?, "the interface name")?,
                )
                .map_err(|e| Error::Schema(format!("{what}: {e}")))?;
            (compiled.schema, compiled.interface_id)
        }
        interface_schema::Which::Compiled(compiled) => {
            let compiled = compiled?;
            let set = SchemaSet::from_nodes(compiled.get_nodes()?.iter())
                .map_err(|e| Error::Schema(format!("{what}: {e}")))?;
            (Arc::new(set), compiled.get_interface_id())
        }
    })
}

/// Copies every node of `set` into a `CompiledSchema` message.
pub(crate) fn compiled_message(
    set: &SchemaSet,
    interface_id: u64,
) -> Result<Builder<HeapAllocator>, Error> {
    let mut message = Builder::new_default();
    let mut root = message.init_root::<compiled_schema::Builder>();
    root.set_interface_id(interface_id);
    let ids: Vec<u64> = set.node_ids().collect();
    let mut nodes = root.init_nodes(ids.len() as u32);
    for (i, id) in ids.iter().enumerate() {
        let node = set.node(*id).map_err(|e| Error::Schema(e.to_string()))?;
        nodes.set_with_caveats(i as u32, node.get()?)?;
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_names_are_identifiers() {
        for good in ["fs", "kv2", "_x", "$"] {
            check_name(good).unwrap();
        }
        for bad in ["", "2x", "a-b", "a b", "ü"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name(&"a".repeat(65)).is_err());
    }
}
