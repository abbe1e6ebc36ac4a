//! RFC 9218 extensible priorities: a response's urgency (0, most urgent,
//! to 7) and whether it may be delivered incrementally, as the `priority`
//! header field and PRIORITY_UPDATE frames carry them (a Structured Field
//! dictionary: `u=2, i`).

use sfv::visitor::{DictionaryVisitor, EntryVisitor, Ignored, ItemVisitor, ParameterVisitor};
use sfv::{BareItemFromInput, KeyRef, Parser};
use std::convert::Infallible;

/// The urgency of a stream that said nothing (§4.1).
pub const DEFAULT_URGENCY: u8 = 3;

/// The lowest urgency (§4.1).
pub const LOWEST_URGENCY: u8 = 7;

/// A stream's priority parameters (§4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Urgency {
    /// 0 (most urgent) to 7.
    pub urgency: u8,
    /// Whether a client can use the response as it arrives, so that
    /// sharing the connection with others of the same urgency helps.
    pub incremental: bool,
}

impl Default for Urgency {
    fn default() -> Self {
        Urgency {
            urgency: DEFAULT_URGENCY,
            incremental: false,
        }
    }
}

impl Urgency {
    /// Parses a Priority field value. Parameters left out take their
    /// defaults, unknown ones and values of the wrong type or range are
    /// ignored (§4, §4.1, §4.2); `None` for a value that is not a
    /// dictionary at all (the signal is then ignored).
    pub fn parse(value: &[u8]) -> Option<Urgency> {
        let mut found = Found::default();
        Parser::new(value)
            .parse_dictionary_with_visitor(&mut found)
            .ok()?;
        Some(Urgency {
            urgency: found.urgency.unwrap_or(DEFAULT_URGENCY),
            incremental: found.incremental.unwrap_or(false),
        })
    }

    /// The field value that says this (`u=2, i`), defaults left out.
    pub fn to_field(self) -> String {
        match (self.urgency, self.incremental) {
            (DEFAULT_URGENCY, false) => String::new(),
            (DEFAULT_URGENCY, true) => "i".into(),
            (u, false) => format!("u={u}"),
            (u, true) => format!("u={u}, i"),
        }
    }
}

/// What a dictionary said of `u` and `i` (the last of each counts).
#[derive(Default)]
struct Found {
    urgency: Option<u8>,
    incremental: Option<bool>,
}

/// Which member a value belongs to.
enum Member<'a> {
    Urgency(&'a mut Found),
    Incremental(&'a mut Found),
}

impl<'de> DictionaryVisitor<'de> for &mut Found {
    type Out = ();
    type Error = Infallible;

    fn entry(&mut self, key: &'de KeyRef) -> Result<impl EntryVisitor<'de>, Infallible> {
        Ok(if key.as_str() == "u" {
            Some(Member::Urgency(self))
        } else if key.as_str() == "i" {
            Some(Member::Incremental(self))
        } else {
            None
        })
    }

    fn finish(self) -> Result<(), Infallible> {
        Ok(())
    }
}

impl<'de> EntryVisitor<'de> for Member<'_> {
    type Error = Infallible;

    fn item(self) -> Result<impl ItemVisitor<'de>, Infallible> {
        Ok(self)
    }

    fn inner_list(self) -> Result<impl sfv::visitor::InnerListVisitor<'de>, Infallible> {
        // A list where an item belongs: the wrong type, ignored (a later
        // member of the same name still counts).
        match self {
            Member::Urgency(f) => f.urgency = None,
            Member::Incremental(f) => f.incremental = None,
        }
        Ok(Ignored)
    }
}

impl<'de> ItemVisitor<'de> for Member<'_> {
    type Out = ();
    type Error = Infallible;

    fn bare_item(
        self,
        item: BareItemFromInput<'de>,
    ) -> Result<impl ParameterVisitor<'de, Out = ()>, Infallible> {
        match self {
            Member::Urgency(f) => {
                f.urgency = match item {
                    BareItemFromInput::Integer(n) => {
                        u8::try_from(n).ok().filter(|u| *u <= LOWEST_URGENCY)
                    }
                    _ => None,
                };
            }
            Member::Incremental(f) => {
                f.incremental = match item {
                    BareItemFromInput::Boolean(b) => Some(b),
                    _ => None,
                };
            }
        }
        Ok(Ignored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(v: &str) -> Option<(u8, bool)> {
        Urgency::parse(v.as_bytes()).map(|u| (u.urgency, u.incremental))
    }

    #[test]
    fn parameters_and_their_defaults() {
        assert_eq!(parsed("u=0"), Some((0, false)));
        assert_eq!(parsed("u=5, i"), Some((5, true)));
        assert_eq!(parsed("i"), Some((3, true)));
        assert_eq!(parsed("i=?0"), Some((3, false)));
        assert_eq!(parsed(""), Some((3, false)));
    }

    /// §4: unknown parameters, and values out of range or of the wrong
    /// type, are ignored; the last member of a name counts.
    #[test]
    fn what_is_not_understood_is_ignored() {
        assert_eq!(parsed("u=8"), Some((3, false)));
        assert_eq!(parsed("u=-1, i"), Some((3, true)));
        assert_eq!(parsed("u=1.5"), Some((3, false)));
        assert_eq!(parsed("u=\"1\""), Some((3, false)));
        assert_eq!(parsed("i=1"), Some((3, false)));
        assert_eq!(parsed("x=?1, u=2, y=(a b)"), Some((2, false)));
        assert_eq!(parsed("u=1, u=6"), Some((6, false)));
        assert_eq!(parsed("u=(1 2)"), Some((3, false)));
        assert_eq!(parsed("u=1;p=2, i;q"), Some((1, true)));
    }

    #[test]
    fn a_value_that_is_no_dictionary_is_refused() {
        assert_eq!(parsed("u=1,"), None);
        assert_eq!(parsed("U=1"), None);
        assert_eq!(parsed("u=1 i"), None);
        assert_eq!(parsed("\u{7f}"), None);
    }

    #[test]
    fn written_back_without_defaults() {
        for v in ["u=0", "u=5, i", "i", ""] {
            let u = Urgency::parse(v.as_bytes()).unwrap();
            assert_eq!(u.to_field(), v);
        }
    }
}
