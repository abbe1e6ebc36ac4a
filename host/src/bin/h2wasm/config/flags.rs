//! Tables of a configuration file that hold command-line options
//! (`[server]`, and an `app` route's): each key is the option's name,
//! turned into the flag it stands for and checked by clap with the very
//! parser, range and default the flag has. One definition per option.

use super::{ConfigError, Source};
use clap::{Arg, ArgAction, Command};
use std::collections::BTreeMap;
use std::ffi::OsString;
use toml::{Spanned, Value};

/// How a table's keys are named after flags.
#[derive(Clone, Copy)]
pub(crate) enum Naming {
    /// `[server]`: the flag's own name (`max-connections`).
    Server,
    /// An `app` route: `component` for `--app`, and `--app-NAME` as
    /// `NAME` (`instances`, `allow-outbound`).
    App,
}

impl Naming {
    /// The key a flag has in the table (none: not settable there).
    pub(crate) fn key(self, long: &str) -> Option<String> {
        match self {
            Naming::Server => Some(long.to_string()),
            Naming::App if long == "app" => Some("component".into()),
            Naming::App => long.strip_prefix("app-").map(str::to_string),
        }
    }

    fn table(self) -> &'static str {
        match self {
            Naming::Server => "[server]",
            Naming::App => "app",
        }
    }
}

/// A table's keys as command-line arguments for `command`, each key's
/// arguments with its arg id; an unknown key or a value of the wrong
/// kind is an error at its line.
pub(crate) fn to_args(
    table: &BTreeMap<Spanned<String>, Spanned<Value>>,
    command: &Command,
    naming: Naming,
    src: &Source,
    place: &str,
) -> Result<Vec<(String, Vec<OsString>)>, ConfigError> {
    let mut out = Vec::new();
    for (key, value) in table {
        let arg = command.get_arguments().find(|a| {
            !a.is_hide_set()
                && a.get_long().and_then(|l| naming.key(l)).as_deref() == Some(key.get_ref())
        });
        let Some(arg) = arg else {
            return Err(src.error(
                key.span(),
                format!("{place}{}", key.get_ref()),
                format!(
                    "unknown key in {}: expected one of {}",
                    naming.table(),
                    keys(command, naming).join(", ")
                ),
            ));
        };
        let flag = format!("--{}", arg.get_long().expect("found by its long name"));
        let args = values(arg, &flag, value.get_ref())
            .map_err(|why| src.error(value.span(), format!("{place}{}", key.get_ref()), why))?;
        out.push((arg.get_id().to_string(), args));
    }
    Ok(out)
}

/// The keys a table may have.
pub(crate) fn keys(command: &Command, naming: Naming) -> Vec<String> {
    command
        .get_arguments()
        .filter(|a| !a.is_hide_set())
        .filter_map(|a| a.get_long().and_then(|l| naming.key(l)))
        .collect()
}

fn values(arg: &Arg, flag: &str, value: &Value) -> Result<Vec<OsString>, String> {
    let takes_value = arg.get_action().takes_values();
    let scalar = |v: &Value| -> Result<String, String> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Integer(i) => Ok(i.to_string()),
            Value::Float(f) => Ok(f.to_string()),
            other => Err(format!(
                "expected a string or a number, found {}",
                other.type_str()
            )),
        }
    };
    let mut out: Vec<OsString> = Vec::new();
    match value {
        Value::Boolean(b) if !takes_value => {
            if *b {
                out.push(flag.into());
            }
        }
        Value::Boolean(_) => {
            return Err(format!("expected {}, found a boolean", expected(arg)));
        }
        _ if !takes_value => return Err("expected true or false".into()),
        Value::Array(items) if matches!(arg.get_action(), ArgAction::Append) => {
            for item in items {
                out.push(flag.into());
                out.push(scalar(item)?.into());
            }
        }
        Value::Table(entries) if matches!(arg.get_action(), ArgAction::Append) => {
            for (k, v) in entries {
                out.push(flag.into());
                out.push(format!("{k}={}", scalar(v)?).into());
            }
        }
        Value::Array(_) | Value::Table(_) => {
            return Err(format!(
                "expected {}, found {}",
                expected(arg),
                value.type_str()
            ));
        }
        v => {
            out.push(flag.into());
            out.push(scalar(v)?.into());
        }
    }
    Ok(out)
}

/// What a flag's value looks like, for errors.
fn expected(arg: &Arg) -> String {
    let name = arg
        .get_value_names()
        .and_then(|n| n.first())
        .map_or("a value".to_string(), |n| n.to_string());
    let choices: Vec<String> = arg
        .get_possible_values()
        .iter()
        .map(|v| format!("{:?}", v.get_name()))
        .collect();
    if choices.is_empty() {
        name
    } else {
        format!("one of {}", choices.join(", "))
    }
}

/// Parses `args` (from [`to_args`]) with `command`; clap's complaint
/// is reported at the line of the key it is about.
pub(crate) fn parse(
    command: Command,
    args: &[(String, Vec<OsString>)],
    table: &BTreeMap<Spanned<String>, Spanned<Value>>,
    naming: Naming,
    src: &Source,
    place: &str,
) -> Result<clap::ArgMatches, ConfigError> {
    let argv = std::iter::once(OsString::from("h2wasm"))
        .chain(args.iter().flat_map(|(_, a)| a.iter().cloned()));
    command.clone().try_get_matches_from(argv).map_err(|e| {
        let about = e
            .get(clap::error::ContextKind::InvalidArg)
            .map(|v| v.to_string())
            .unwrap_or_default();
        // "--app-instances <N>" → the key written in the file.
        let key = table.keys().find(|k| {
            command.get_arguments().any(|a| {
                a.get_long().and_then(|l| naming.key(l)).as_deref() == Some(k.get_ref())
                    && a.get_long().is_some_and(|l| {
                        about.starts_with(&format!("--{l} ")) || about == format!("--{l}")
                    })
            })
        });
        let message = clap_message(&e, naming);
        match key {
            Some(k) => src.error(k.span(), format!("{place}{}", k.get_ref()), message),
            None => src.error(0..0, format!("{place}{}", naming.table()), message),
        }
    })
}

/// clap's first line, without its `error: ` and with flags named as the
/// file names them.
fn clap_message(e: &clap::Error, naming: Naming) -> String {
    let rendered = e.render().to_string();
    let line = rendered.lines().next().unwrap_or("invalid value");
    let line = line.strip_prefix("error: ").unwrap_or(line).to_string();
    match naming {
        Naming::Server => line,
        Naming::App => line
            .replace("'--app ", "'component ")
            .replace("'--app-", "'")
            .replace("--app-", ""),
    }
}

/// The table's keys as a Markdown table, from the flags' own help.
pub(crate) fn reference(command: &Command, naming: Naming) -> String {
    let mut out = String::from("| Key | Value | Default | Meaning |\n|---|---|---|---|\n");
    for arg in command.get_arguments().filter(|a| !a.is_hide_set()) {
        let Some(key) = arg.get_long().and_then(|l| naming.key(l)) else {
            continue;
        };
        let takes_value = arg.get_action().takes_values();
        let value = if !takes_value {
            "true or false".to_string()
        } else if matches!(arg.get_action(), ArgAction::Append) {
            format!("array of {}", expected(arg))
        } else {
            expected(arg)
        };
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|d| d.to_string_lossy().into_owned())
            .collect();
        let default = if !takes_value {
            "false".to_string()
        } else if defaults.is_empty() {
            String::new()
        } else {
            defaults.join(", ")
        };
        let help = arg
            .get_long_help()
            .or(arg.get_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        let help = match naming {
            Naming::App => help
                .replace("the --app component", "the app")
                .replace("--app-", ""),
            Naming::Server => help,
        };
        out.push_str(&format!(
            "| `{key}` | {} | {} | {} |\n",
            value.replace('|', "\\|"),
            default.replace('|', "\\|"),
            help.replace('\n', " ").replace('|', "\\|")
        ));
    }
    out
}
