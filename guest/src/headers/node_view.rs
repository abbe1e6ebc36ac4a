//! Node's incoming header object (`request.headers` / the `response`
//! event's headers): `:status` as a number, repeated singleton fields
//! dropped after the first, `set-cookie` always a list, `cookie` joined with
//! "; ", every other repeated field joined with ", ". The raw pairs stay
//! available alongside (Node's `rawHeaders`).

use super::HeaderField;

/// One entry of the header object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum NodeValue {
    Text(String),
    List(Vec<String>),
    Number(u16),
}

/// Fields Node keeps only once (the first value wins), as listed in its
/// documentation of the headers object.
const SINGLETONS: [&str; 20] = [
    "age",
    "authorization",
    "content-length",
    "content-type",
    "etag",
    "expires",
    "from",
    "host",
    "if-modified-since",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "proxy-authorization",
    "referer",
    "retry-after",
    "server",
    "user-agent",
    ":method",
    ":path",
];

/// Builds Node's header object from received fields, keeping first-seen
/// order of names.
pub(crate) fn node_headers(fields: &[HeaderField]) -> Vec<(String, NodeValue)> {
    let mut out: Vec<(String, NodeValue)> = Vec::new();
    for f in fields {
        let name = String::from_utf8_lossy(&f.name).into_owned();
        let value = String::from_utf8_lossy(&f.value).into_owned();
        let existing = out.iter_mut().find(|(n, _)| *n == name);
        match (existing, name.as_str()) {
            (None, ":status") => {
                let v = value
                    .parse()
                    .map_or(NodeValue::Text(value), NodeValue::Number);
                out.push((name, v));
            }
            (None, "set-cookie") => out.push((name, NodeValue::List(vec![value]))),
            (None, _) => out.push((name, NodeValue::Text(value))),
            (Some((_, NodeValue::List(list))), _) => list.push(value),
            (Some(_), n) if n.starts_with(':') || SINGLETONS.contains(&n) => {}
            (Some((_, NodeValue::Text(text))), "cookie") => {
                text.push_str("; ");
                text.push_str(&value);
            }
            (Some((_, NodeValue::Text(text))), _) => {
                text.push_str(", ");
                text.push_str(&value);
            }
            (Some(_), _) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(n: &'static str, v: &'static str) -> HeaderField {
        HeaderField::new(n, v)
    }

    #[test]
    fn node_semantics() {
        let view = node_headers(&[
            f(":status", "200"),
            f("set-cookie", "a=1"),
            f("cookie", "x=1"),
            f("content-type", "text/html"),
            f("accept", "text/html"),
            f("set-cookie", "b=2"),
            f("cookie", "y=2"),
            f("content-type", "text/plain"),
            f("accept", "*/*"),
        ]);
        assert_eq!(
            view,
            vec![
                (":status".into(), NodeValue::Number(200)),
                (
                    "set-cookie".into(),
                    NodeValue::List(vec!["a=1".into(), "b=2".into()])
                ),
                ("cookie".into(), NodeValue::Text("x=1; y=2".into())),
                ("content-type".into(), NodeValue::Text("text/html".into())),
                ("accept".into(), NodeValue::Text("text/html, */*".into())),
            ]
        );
    }
}
