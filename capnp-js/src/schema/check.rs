//! Checking an interface ([`SchemaSet::check_interface`]): everything it
//! reaches exists and is supported by the codec (no generics, no
//! `AnyPointer`), with errors naming the place.

use std::collections::HashSet;

use super::types::*;
use super::SchemaSet;

impl SchemaSet {
    /// Checks that everything reachable from interface `id` (its
    /// superclasses, its methods' param and result structs, their fields
    /// recursively, and any interface those mention) exists and is supported
    /// by the codec: no generics, no AnyPointer. Errors name the place, e.g.
    /// `Inventory.find: params.filter: AnyPointer is not supported`.
    pub fn check_interface(&self, id: u64) -> Result<(), SchemaError> {
        let mut checker = Checker {
            set: self,
            seen_structs: HashSet::new(),
            seen_enums: HashSet::new(),
            seen_interfaces: HashSet::new(),
            pending_interfaces: vec![(id, String::new())],
        };
        while let Some((iid, place)) = checker.pending_interfaces.pop() {
            checker.interface(iid, &place)?;
        }
        Ok(())
    }
}

/// Walks an interface for [`SchemaSet::check_interface`].
struct Checker<'s> {
    set: &'s SchemaSet,
    seen_structs: HashSet<u64>,
    seen_enums: HashSet<u64>,
    seen_interfaces: HashSet<u64>,
    pending_interfaces: Vec<(u64, String)>,
}

impl Checker<'_> {
    fn unknown(id: u64, place: &str) -> SchemaError {
        let place = if place.is_empty() {
            String::new()
        } else {
            format!("{place}: ")
        };
        SchemaError::UnknownNode { id, place }
    }

    fn interface(&mut self, id: u64, place: &str) -> Result<(), SchemaError> {
        if !self.seen_interfaces.insert(id) {
            return Ok(());
        }
        let set = self.set;
        let Some(info) = set.interfaces.get(&id) else {
            return Err(match set.names.get(&id) {
                None => Self::unknown(id, place),
                Some(name) => SchemaError::Invalid(format!(
                    "{}{name} is not an interface",
                    if place.is_empty() {
                        String::new()
                    } else {
                        format!("{place}: ")
                    }
                )),
            });
        };
        if info.generic {
            return Err(SchemaError::Unsupported(format!(
                "{}: generic interfaces are not supported",
                info.name
            )));
        }
        if info.generic_superclass {
            return Err(SchemaError::Unsupported(format!(
                "{}: extends a generic interface instantiation; {}",
                info.name,
                Unsupported::Generic.message()
            )));
        }
        for &sup in &info.superclasses {
            self.pending_interfaces
                .push((sup, format!("{} extends", info.name)));
        }
        for m in &info.own_methods {
            let mplace = format!("{}.{}", info.name, m.name);
            if m.generic {
                return Err(SchemaError::Unsupported(format!(
                    "{mplace}: {}",
                    Unsupported::Generic.message()
                )));
            }
            self.root_struct(m.param_struct, &mplace, "params")?;
            self.root_struct(m.result_struct, &mplace, "results")?;
        }
        Ok(())
    }

    fn root_struct(&mut self, id: u64, method: &str, root: &str) -> Result<(), SchemaError> {
        let mut path = root.to_string();
        self.struct_(id, method, &mut path, 0)
    }

    fn struct_(
        &mut self,
        id: u64,
        method: &str,
        path: &mut String,
        depth: usize,
    ) -> Result<(), SchemaError> {
        if !self.seen_structs.insert(id) {
            return Ok(());
        }
        let set = self.set;
        let info = set
            .structs
            .get(&id)
            .ok_or_else(|| match set.names.get(&id) {
                None => Self::unknown(id, &format!("{method}: {path}")),
                Some(name) => {
                    SchemaError::Invalid(format!("{method}: {path}: {name} is not a struct"))
                }
            })?;
        if info.generic {
            return Err(SchemaError::Unsupported(format!(
                "{method}: {path}: {}",
                Unsupported::Generic.message()
            )));
        }
        self.layout(&info.layout, method, path, depth)
    }

    fn layout(
        &mut self,
        layout: &Layout,
        method: &str,
        path: &mut String,
        depth: usize,
    ) -> Result<(), SchemaError> {
        if depth > MAX_SCHEMA_DEPTH {
            return Err(SchemaError::Unsupported(format!(
                "{method}: {path}: nesting too deep"
            )));
        }
        for f in &layout.fields {
            let len = path.len();
            path.push('.');
            path.push_str(&f.name);
            match &f.kind {
                FieldKind::Slot { ty, .. } => self.type_(ty, method, path, depth + 1)?,
                FieldKind::Group(g) => self.layout(g, method, path, depth + 1)?,
            }
            path.truncate(len);
        }
        Ok(())
    }

    fn type_(
        &mut self,
        ty: &Type,
        method: &str,
        path: &mut String,
        depth: usize,
    ) -> Result<(), SchemaError> {
        if depth > MAX_SCHEMA_DEPTH {
            return Err(SchemaError::Unsupported(format!(
                "{method}: {path}: nesting too deep"
            )));
        }
        match ty {
            Type::Unsupported(u) => Err(SchemaError::Unsupported(format!(
                "{method}: {path}: {}",
                u.message()
            ))),
            Type::List(elem) => {
                let len = path.len();
                path.push_str("[]");
                self.type_(elem, method, path, depth + 1)?;
                path.truncate(len);
                Ok(())
            }
            Type::Struct(id) => self.struct_(*id, method, path, depth + 1),
            Type::Enum(id) => {
                if self.seen_enums.insert(*id) && !self.set.enums.contains_key(id) {
                    return Err(match self.set.names.get(id) {
                        None => Self::unknown(*id, &format!("{method}: {path}")),
                        Some(name) => {
                            SchemaError::Invalid(format!("{method}: {path}: {name} is not an enum"))
                        }
                    });
                }
                Ok(())
            }
            Type::Interface(id) => {
                if !self.seen_interfaces.contains(id) {
                    self.pending_interfaces
                        .push((*id, format!("{method}: {path}")));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}
