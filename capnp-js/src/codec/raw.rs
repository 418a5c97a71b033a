//! Raw access to Cap'n Proto's layout from sizes known only at run time:
//! the one place in the workspace that uses `capnp::private`.
//!
//! # Safety argument
//!
//! `capnp::private::layout` is capnp-rust's untyped layout API, written for
//! generated code, which knows every struct's size at compile time. Most of
//! it checks what it touches against the message: readers check every
//! offset against the struct or list they read (an offset past the end
//! reads as zero or as a null pointer, as for a struct from an older
//! schema), and list element accessors assert their index. Four methods of
//! its `StructBuilder` do not: `set_data_field` (and `_mask`),
//! `set_bool_field` (and `_mask`), `get_pointer_field` and
//! `is_pointer_field_null` add the offset to the struct's start and write
//! or read there. With a schema from a hostile client, an unchecked offset
//! would write outside the struct.
//!
//! So this module never hands out capnp's `StructBuilder`. Its
//! [`StructBuilder`] carries the size the struct was made with (capnp makes
//! a struct at least that large: `init_struct` exactly, `get_struct` and a
//! struct list's elements grow to it), and checks every data and pointer
//! offset against that size before it writes, returning an error (never
//! writing) when one is outside. The codec's own offsets were also checked
//! when the [`SchemaSet`](crate::SchemaSet) was built, so for the codec that
//! error is a second line of defence; for callers that take offsets from
//! elsewhere (the broker's membrane, the benchmark's provider) it is the
//! first. Clippy's `disallowed-methods` (`clippy.toml`) refuses the
//! unchecked methods everywhere else.
//!
//! The rest is re-exported as is: pointer and list builders and every
//! reader check bounds themselves, and `ClientHook` / `CapTable` are the
//! capability plumbing an RPC integrator needs.

use capnp::private::layout;
use capnp::traits::{FromPointerBuilder, FromPointerReader};

pub use capnp::private::capability::ClientHook;
pub use capnp::private::layout::{
    CapTable, CapTableReader, ElementSize, ListBuilder, ListReader, PointerBuilder, PointerReader,
    PrimitiveElement, StructReader, StructSize,
};

/// A primitive that a struct's data section holds: the type of a data
/// field (the integers, `f32` and `f64`). Its mask, the default's bits it
/// is XORed with, is the type itself for integers and the bits (`u32`,
/// `u64`) for floats.
pub trait DataField: Copy + sealed::Field {}

mod sealed {
    use capnp::private::layout;

    /// Kept private so nothing outside this module calls `set_unchecked`.
    pub trait Field {
        type Mask;
        const BITS: usize;
        fn set_unchecked(
            b: &layout::StructBuilder<'_>,
            offset: usize,
            value: Self,
            mask: Self::Mask,
        );
    }
}

macro_rules! data_field {
    ($($t:ty => $mask:ty),* $(,)?) => {$(
        impl DataField for $t {}
        impl sealed::Field for $t {
            type Mask = $mask;
            const BITS: usize = 8 * std::mem::size_of::<$t>();
            #[allow(clippy::disallowed_methods)] // only called by StructBuilder::set_data, which checks
            fn set_unchecked(b: &layout::StructBuilder<'_>, offset: usize, value: Self, mask: $mask) {
                b.set_data_field_mask::<$t>(offset, value, mask)
            }
        }
    )*};
}

data_field!(
    u8 => u8, u16 => u16, u32 => u32, u64 => u64,
    i8 => i8, i16 => i16, i32 => i32, i64 => i64,
    f32 => u32, f64 => u64,
);

fn outside(what: &str, at: usize, size: StructSize) -> capnp::Error {
    capnp::Error::failed(format!(
        "{what} {at} lies outside a struct of {} data words and {} pointers",
        size.data, size.pointers
    ))
}

/// A struct being built, with the size it was made with: every write is
/// checked against it (see the module docs).
pub struct StructBuilder<'a> {
    inner: layout::StructBuilder<'a>,
    size: StructSize,
}

impl<'a> StructBuilder<'a> {
    /// Makes `pointer` a new struct of exactly `size`.
    pub fn init(pointer: PointerBuilder<'a>, size: StructSize) -> StructBuilder<'a> {
        StructBuilder {
            inner: pointer.init_struct(size),
            size,
        }
    }

    /// The struct `pointer` holds, grown to at least `size` (a new one of
    /// `size` if null).
    pub fn get(pointer: PointerBuilder<'a>, size: StructSize) -> capnp::Result<StructBuilder<'a>> {
        Ok(StructBuilder {
            inner: pointer.get_struct(size, None)?,
            size,
        })
    }

    /// The size every offset is checked against.
    pub fn size(&self) -> StructSize {
        self.size
    }

    pub fn reborrow(&mut self) -> StructBuilder<'_> {
        StructBuilder {
            inner: self.inner.reborrow(),
            size: self.size,
        }
    }

    pub fn as_reader(&self) -> StructReader<'_> {
        self.inner.as_reader()
    }

    /// Writes `value ^ mask` as the data field at `offset` (in units of
    /// `T`'s width, as in the schema), or fails if it lies outside.
    pub fn set_data<T: DataField>(
        &self,
        offset: usize,
        value: T,
        mask: <T as sealed::Field>::Mask,
    ) -> capnp::Result<()> {
        let end_bits = offset
            .checked_add(1)
            .and_then(|n| n.checked_mul(<T as sealed::Field>::BITS));
        if end_bits.is_none_or(|end| end > usize::from(self.size.data) * 64) {
            return Err(outside("data field", offset, self.size));
        }
        <T as sealed::Field>::set_unchecked(&self.inner, offset, value, mask);
        Ok(())
    }

    /// Writes `value ^ mask` as the bool field at bit `offset`, or fails if
    /// it lies outside.
    #[allow(clippy::disallowed_methods)] // checked just before
    pub fn set_bool(&self, offset: usize, value: bool, mask: bool) -> capnp::Result<()> {
        if offset >= usize::from(self.size.data) * 64 {
            return Err(outside("bool field", offset, self.size));
        }
        self.inner.set_bool_field_mask(offset, value, mask);
        Ok(())
    }

    /// The pointer field at `index`, or an error if it lies outside.
    #[allow(clippy::disallowed_methods)] // checked just before
    pub fn pointer(self, index: usize) -> capnp::Result<PointerBuilder<'a>> {
        if index >= usize::from(self.size.pointers) {
            return Err(outside("pointer field", index, self.size));
        }
        Ok(self.inner.get_pointer_field(index))
    }
}

/// A list of structs being built, each element of the size the list was
/// made with; elements are [`StructBuilder`]s checked against that size.
pub struct StructListBuilder<'a> {
    list: capnp::struct_list::Builder<'a, RawStruct>,
    size: StructSize,
}

impl<'a> StructListBuilder<'a> {
    /// Makes `pointer` a new list of `len` structs of `size`.
    pub fn init(
        pointer: PointerBuilder<'a>,
        len: u32,
        size: StructSize,
    ) -> capnp::Result<StructListBuilder<'a>> {
        let mut pointer = pointer;
        pointer.reborrow().init_struct_list(len, size);
        Ok(StructListBuilder {
            list: capnp::struct_list::Builder::<RawStruct>::get_from_pointer(pointer, None)?,
            size,
        })
    }

    pub fn len(&self) -> u32 {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.len() == 0
    }

    /// Element `index`, or an error past the end.
    pub fn get(&mut self, index: u32) -> capnp::Result<StructBuilder<'_>> {
        if index >= self.list.len() {
            return Err(capnp::Error::failed(format!(
                "element {index} lies outside a list of {} structs",
                self.list.len()
            )));
        }
        Ok(StructBuilder {
            inner: self.list.reborrow().get(index).0,
            size: self.size,
        })
    }
}

/// The raw pointer behind an `any_pointer::Reader`
/// (`reader.get_as::<RawPointerReader>()`).
pub struct RawPointerReader<'a>(pub PointerReader<'a>);

impl<'a> FromPointerReader<'a> for RawPointerReader<'a> {
    fn get_from_pointer(
        reader: &PointerReader<'a>,
        _default: Option<&'a [capnp::Word]>,
    ) -> capnp::Result<Self> {
        Ok(RawPointerReader(*reader))
    }
}

/// The raw pointer behind an `any_pointer::Builder`
/// (`builder.get_as::<RawPointerBuilder>()`).
pub struct RawPointerBuilder<'a>(pub PointerBuilder<'a>);

impl<'a> FromPointerBuilder<'a> for RawPointerBuilder<'a> {
    fn init_pointer(builder: PointerBuilder<'a>, _length: u32) -> Self {
        RawPointerBuilder(builder)
    }
    fn get_from_pointer(
        builder: PointerBuilder<'a>,
        _default: Option<&'a [capnp::Word]>,
    ) -> capnp::Result<Self> {
        Ok(RawPointerBuilder(builder))
    }
}

/// A struct of run-time layout, as an element type of `struct_list`.
pub struct RawStruct;

/// Reader half of [`RawStruct`].
pub struct RawStructReader<'a>(pub StructReader<'a>);
/// Builder half of [`RawStruct`].
pub struct RawStructBuilder<'a>(layout::StructBuilder<'a>);

impl capnp::introspect::Introspect for RawStruct {
    fn introspect() -> capnp::introspect::Type {
        capnp::introspect::TypeVariant::AnyPointer.into()
    }
}

impl capnp::traits::OwnedStruct for RawStruct {
    type Reader<'a> = RawStructReader<'a>;
    type Builder<'a> = RawStructBuilder<'a>;
}

impl<'a> From<StructReader<'a>> for RawStructReader<'a> {
    fn from(r: StructReader<'a>) -> Self {
        RawStructReader(r)
    }
}

impl<'a> From<layout::StructBuilder<'a>> for RawStructBuilder<'a> {
    fn from(b: layout::StructBuilder<'a>) -> Self {
        RawStructBuilder(b)
    }
}

impl<'a> capnp::traits::IntoInternalStructReader<'a> for RawStructReader<'a> {
    fn into_internal_struct_reader(self) -> StructReader<'a> {
        self.0
    }
}

impl capnp::traits::SetterInput<RawStruct> for RawStructReader<'_> {
    fn set_pointer_builder(
        mut builder: PointerBuilder<'_>,
        input: Self,
        canonicalize: bool,
    ) -> capnp::Result<()> {
        builder.set_struct(&input.0, canonicalize)
    }
}

impl capnp::traits::HasStructSize for RawStructBuilder<'_> {
    // The smallest size: `get_struct_list` then keeps the list's real size.
    const STRUCT_SIZE: StructSize = StructSize {
        data: 0,
        pointers: 0,
    };
}
