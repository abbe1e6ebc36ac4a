//! Received header lists, shared between the HPACK decoder and events.

use super::HeaderField;
use std::ops::Deref;
use std::sync::Arc;

/// A received header list. Clones share one list: the HPACK decoder
/// answers a repeated block with the list it decoded before at the cost
/// of a reference count, and [`HeaderList::same`] tells such lists apart
/// without comparing their fields.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct HeaderList(Arc<Vec<HeaderField>>);

impl HeaderList {
    /// Whether both are the one list (not merely equal lists).
    pub fn same(&self, other: &HeaderList) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// The first value of the field `name` (lowercase, as HTTP/2 sends
    /// names), if the list has one.
    pub fn get(&self, name: &str) -> Option<&bytes::Bytes> {
        super::find(self, name)
    }

    /// The fields, copied only if the list is shared.
    pub fn into_vec(self) -> Vec<HeaderField> {
        Arc::try_unwrap(self.0).unwrap_or_else(|shared| (*shared).clone())
    }
}

impl Deref for HeaderList {
    type Target = [HeaderField];

    fn deref(&self) -> &[HeaderField] {
        &self.0
    }
}

impl From<Vec<HeaderField>> for HeaderList {
    fn from(fields: Vec<HeaderField>) -> Self {
        HeaderList(Arc::new(fields))
    }
}

impl std::fmt::Debug for HeaderList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl PartialEq<Vec<HeaderField>> for HeaderList {
    fn eq(&self, other: &Vec<HeaderField>) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<HeaderList> for Vec<HeaderField> {
    fn eq(&self, other: &HeaderList) -> bool {
        *self == *other.0
    }
}

impl PartialEq<[HeaderField]> for HeaderList {
    fn eq(&self, other: &[HeaderField]) -> bool {
        **self.0 == *other
    }
}

impl<const N: usize> PartialEq<[HeaderField; N]> for HeaderList {
    fn eq(&self, other: &[HeaderField; N]) -> bool {
        **self.0 == other[..]
    }
}

impl<'a> IntoIterator for &'a HeaderList {
    type Item = &'a HeaderField;
    type IntoIter = std::slice::Iter<'a, HeaderField>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_are_the_same_list_and_equal_lists_are_not() {
        let fields = vec![HeaderField::new(":status", "200")];
        let a = HeaderList::from(fields.clone());
        let b = a.clone();
        let c = HeaderList::from(fields.clone());
        assert!(a.same(&b) && a == b);
        assert!(!a.same(&c) && a == c && a == fields);
        // A shared list is copied out; the last holder's is moved.
        assert_eq!(b.into_vec(), fields);
        assert_eq!(a.into_vec(), fields);
    }
}
