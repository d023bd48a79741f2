//! Front matter: split the file, then parse the YAML, then read the keys.
//!
//! Splitting is separate from parsing so that each failure names what went wrong: no front
//! matter at all, a block that never ends, or YAML that does not parse (with its line in the
//! file, not in the block).

use serde_yaml_ng::{Mapping, Value};

use super::PostErrorKind;

/// A file cut into its front matter and body.
#[derive(Debug, PartialEq, Eq)]
pub struct Split<'a> {
    /// The YAML text between the delimiters.
    pub yaml: &'a str,
    /// The body after the closing delimiter.
    pub body: &'a str,
    /// The file line (1-based) on which the YAML starts.
    pub yaml_first_line: usize,
}

/// Cuts `text` (BOM and CR already removed) at its `---` delimiters.
pub fn split(text: &str) -> Result<Split<'_>, PostErrorKind> {
    let first_end = text.find('\n').unwrap_or(text.len());
    if text[..first_end].trim_end() != "---" {
        return Err(PostErrorKind::NoFrontMatter);
    }
    let yaml_start = (first_end + 1).min(text.len());
    let mut pos = yaml_start;
    while pos < text.len() {
        let end = text[pos..].find('\n').map_or(text.len(), |i| pos + i);
        let line = text[pos..end].trim_end();
        if line == "---" || line == "..." {
            let body_start = (end + 1).min(text.len());
            return Ok(Split {
                yaml: &text[yaml_start..pos],
                body: &text[body_start..],
                yaml_first_line: 2,
            });
        }
        pos = end + 1;
    }
    Err(PostErrorKind::UnterminatedFrontMatter)
}

/// Parses the YAML block into a mapping; an empty block is an empty mapping.
/// Rewrites libyaml's `… at line L column C` marks (lines of the YAML block) as file lines,
/// `… (line N)`, and returns the line of the `while …` context if there is one.
///
/// libyaml says e.g. "found unexpected end of stream at line 4 column 1, while scanning a
/// quoted scalar at line 2 column 8": the problem, then the construct it was reading.
fn file_lines(msg: &str, first_line: usize) -> (String, Option<usize>) {
    const MARK: &str = " at line ";
    let mut out = String::with_capacity(msg.len());
    let mut context_line = None;
    let mut rest = msg;
    while let Some(i) = rest.find(MARK) {
        let before = &rest[..i];
        let after = &rest[i + MARK.len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let Ok(n) = after[..digits].parse::<usize>() else {
            out.push_str(&rest[..i + MARK.len()]);
            rest = after;
            continue;
        };
        let line = first_line + n.saturating_sub(1);
        out.push_str(before);
        out.push_str(&format!(" (line {line})"));
        if out.contains("while ") {
            context_line = Some(line);
        }
        // Drop the column: the line is what an editor jumps to.
        let mut tail = &after[digits..];
        if let Some(t) = tail.strip_prefix(" column ") {
            tail = t.trim_start_matches(|c: char| c.is_ascii_digit());
        }
        rest = tail;
    }
    out.push_str(rest);
    (out, context_line)
}

pub fn parse(split: &Split<'_>) -> Result<Mapping, (Option<usize>, PostErrorKind)> {
    if split.yaml.trim().is_empty() {
        return Ok(Mapping::new());
    }
    match serde_yaml_ng::from_str::<Value>(split.yaml) {
        Ok(Value::Mapping(m)) => Ok(m),
        Ok(Value::Null) => Ok(Mapping::new()),
        Ok(other) => Err((
            Some(split.yaml_first_line),
            PostErrorKind::Yaml(format!(
                "front matter must be a mapping of keys to values, found {}",
                kind_name(&other)
            )),
        )),
        Err(e) => {
            let (msg, context_line) = file_lines(&e.to_string(), split.yaml_first_line);
            let problem_line = e
                .location()
                .map(|l| split.yaml_first_line + l.line().saturating_sub(1));
            // A scanner that ran to the end of the block (an unclosed quote or bracket) gave
            // up at the closing `---`: the construct's own line is the one to fix.
            let line = if msg.contains("end of stream") {
                context_line.or(problem_line)
            } else {
                problem_line
            };
            Err((line, PostErrorKind::Yaml(msg)))
        }
    }
}

/// A short name for a YAML value's type, for error messages.
pub fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// Typed access to the front matter's keys, with aliases and error messages naming the key.
pub struct Fields<'a> {
    map: &'a Mapping,
}

impl<'a> Fields<'a> {
    pub fn new(map: &'a Mapping) -> Self {
        Fields { map }
    }

    /// The first of `keys` present with a non-null value, and the key it was found under.
    pub fn get(&self, keys: &[&'static str]) -> Option<(&'static str, &'a Value)> {
        keys.iter().find_map(|k| match self.map.get(*k) {
            Some(Value::Null) | None => None,
            Some(v) => Some((*k, untag(v))),
        })
    }

    /// A scalar as text (strings, numbers and booleans are all accepted).
    pub fn text(&self, keys: &[&'static str]) -> Result<Option<String>, PostErrorKind> {
        match self.get(keys) {
            None => Ok(None),
            Some((key, v)) => match scalar(v) {
                Some(s) => Ok(Some(s)),
                None => Err(PostErrorKind::Field {
                    key,
                    reason: format!("expected text, found {}", kind_name(v)),
                }),
            },
        }
    }

    /// A boolean flag (`true`/`false`, also `yes`/`no` written as strings).
    pub fn flag(&self, key: &'static str) -> Result<Option<bool>, PostErrorKind> {
        match self.get(&[key]) {
            None => Ok(None),
            Some((_, Value::Bool(b))) => Ok(Some(*b)),
            Some((_, Value::String(s))) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" => Ok(Some(true)),
                "false" | "no" | "off" => Ok(Some(false)),
                _ => Err(PostErrorKind::Field {
                    key,
                    reason: format!("expected true or false, found {s:?}"),
                }),
            },
            Some((_, v)) => Err(PostErrorKind::Field {
                key,
                reason: format!("expected true or false, found {}", kind_name(v)),
            }),
        }
    }

    /// A list of terms: a YAML list, or a string split on whitespace (the Jekyll rule).
    /// Terms from every alias present are combined, in order, without duplicates.
    pub fn terms(&self, keys: &[&'static str]) -> Result<Vec<String>, PostErrorKind> {
        let mut out: Vec<String> = Vec::new();
        let mut push = |t: String| {
            let t = t.trim().to_owned();
            if !t.is_empty() && !out.contains(&t) {
                out.push(t);
            }
        };
        for key in keys {
            let Some(v) = self.map.get(*key) else {
                continue;
            };
            match untag(v) {
                Value::Null => {}
                Value::Sequence(items) => {
                    for item in items {
                        match scalar(untag(item)) {
                            Some(s) => push(s),
                            None if matches!(item, Value::Null) => {}
                            None => {
                                return Err(PostErrorKind::Field {
                                    key,
                                    reason: format!(
                                        "list items must be text, found {}",
                                        kind_name(item)
                                    ),
                                })
                            }
                        }
                    }
                }
                Value::String(s) => crate::text::clean_text(s)
                    .split_whitespace()
                    .for_each(|t| push(t.to_owned())),
                other => match scalar(other) {
                    Some(s) => push(s),
                    None => {
                        return Err(PostErrorKind::Field {
                            key,
                            reason: format!(
                                "expected a list or a space-separated string, found {}",
                                kind_name(other)
                            ),
                        })
                    }
                },
            }
        }
        Ok(out)
    }
}

fn untag(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) => untag(&t.value),
        other => other,
    }
}

/// A scalar's text form.
/// YAML escapes (`"\x01"`) can produce characters XML cannot carry: they are removed here.
pub fn scalar(v: &Value) -> Option<String> {
    match untag(v) {
        Value::String(s) => Some(crate::text::clean_text(s)),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The trimmed, non-empty scalar text at `key` of a front-matter mapping (`author: {name}`,
/// `enclosure: {url, type, length}`).
pub fn mapping_text(m: &Mapping, key: &str) -> Option<String> {
    m.get(key)
        .and_then(scalar)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_delimiters() {
        let s = split("---\ntitle: x\n---\nbody\n").unwrap();
        assert_eq!(s.yaml, "title: x\n");
        assert_eq!(s.body, "body\n");
        let s = split("---\ntitle: x\n...\nbody").unwrap();
        assert_eq!(s.body, "body");
        let s = split("---   \n---").unwrap();
        assert_eq!(s.yaml, "");
        assert_eq!(s.body, "");
    }

    #[test]
    fn missing_and_unterminated() {
        assert_eq!(split("title: x\n"), Err(PostErrorKind::NoFrontMatter));
        assert_eq!(split(""), Err(PostErrorKind::NoFrontMatter));
        assert_eq!(split("----\n---\n"), Err(PostErrorKind::NoFrontMatter));
        assert_eq!(
            split("---\ntitle: x\nbody\n"),
            Err(PostErrorKind::UnterminatedFrontMatter)
        );
        assert_eq!(split("---"), Err(PostErrorKind::UnterminatedFrontMatter));
    }

    #[test]
    fn yaml_error_has_file_line() {
        let text = "---\ntitle: ok\ndate: 2021-01-01\ntags: [a, b\n---\n";
        let s = split(text).unwrap();
        let (line, kind) = parse(&s).unwrap_err();
        assert!(matches!(kind, PostErrorKind::Yaml(_)));
        let line = line.unwrap();
        assert!((4..=5).contains(&line), "line {line}");
    }

    #[test]
    fn non_mapping_is_an_error() {
        let s = split("---\n- a\n- b\n---\n").unwrap();
        assert!(parse(&s).is_err());
    }

    #[test]
    fn terms_rules() {
        let m: Mapping =
            serde_yaml_ng::from_str("categories: news  local\ncategory: [x, news, 2021]\n")
                .unwrap();
        let f = Fields::new(&m);
        assert_eq!(
            f.terms(&["categories", "category"]).unwrap(),
            vec!["news", "local", "x", "2021"]
        );
        let m: Mapping = serde_yaml_ng::from_str("tags:\n  - two words\n  - ''\n").unwrap();
        assert_eq!(Fields::new(&m).terms(&["tags"]).unwrap(), vec!["two words"]);
        let m: Mapping = serde_yaml_ng::from_str("tags: {a: 1}\n").unwrap();
        assert!(Fields::new(&m).terms(&["tags"]).is_err());
    }

    #[test]
    fn text_and_flags() {
        let m: Mapping =
            serde_yaml_ng::from_str("title: 2021\npublished: false\ndraft: 'yes'\nx: [1]\n")
                .unwrap();
        let f = Fields::new(&m);
        assert_eq!(f.text(&["title"]).unwrap().as_deref(), Some("2021"));
        assert_eq!(f.flag("published").unwrap(), Some(false));
        assert_eq!(f.flag("draft").unwrap(), Some(true));
        assert!(f.text(&["x"]).is_err());
        assert_eq!(f.text(&["missing"]).unwrap(), None);
    }
}
