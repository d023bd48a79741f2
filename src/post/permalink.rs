//! A post's path on the site: Jekyll's permalink patterns and built-in styles.

use chrono::{DateTime, FixedOffset};

use super::file::normalize_path;
use crate::slug::slugify;

/// The permalink pattern when `site.permalink` is not set (Jekyll's default).
pub const DEFAULT_PERMALINK: &str = "/:categories/:year/:month/:day/:title.html";

/// Names `site.permalink` may take instead of a pattern (Jekyll's built-in styles).
pub const PERMALINK_STYLES: [&str; 4] = ["date", "pretty", "ordinal", "none"];

/// Expands a permalink pattern (Jekyll placeholders and the built-in styles).
pub fn expand_permalink(
    pattern: &str,
    date: &DateTime<FixedOffset>,
    categories: &[String],
    file_slug: &str,
    title: &str,
) -> String {
    let pattern = match pattern {
        "date" => "/:categories/:year/:month/:day/:title.html",
        "pretty" => "/:categories/:year/:month/:day/:title/",
        "ordinal" => "/:categories/:year/:y_day/:title.html",
        "none" => "/:categories/:title.html",
        p => p,
    };
    let mut cats: Vec<String> = Vec::new();
    for c in categories {
        let s = slugify(c);
        if !s.is_empty() && !cats.contains(&s) {
            cats.push(s);
        }
    }
    let title_slug = {
        let s = slugify(file_slug);
        if s.is_empty() {
            slugify(title)
        } else {
            s
        }
    };
    let title_slug = if title_slug.is_empty() {
        "post".to_owned()
    } else {
        title_slug
    };
    use chrono::Datelike;
    /// What a placeholder's value is made from.
    struct Vars<'a> {
        date: &'a DateTime<FixedOffset>,
        cats: &'a [String],
        slug: &'a str,
    }
    // Each name beside its value, which is made only if the pattern uses it (formatting all of
    // them for every post was 2% of a cold build). Longest names first so `:i_month` is not
    // read as `:i` + `_month`.
    type Value = fn(&Vars<'_>) -> String;
    const PLACEHOLDERS: [(&str, Value); 14] = [
        (":categories", |v| v.cats.join("/")),
        (":short_year", |v| v.date.format("%y").to_string()),
        (":output_ext", |_| ".html".to_owned()),
        (":i_month", |v| v.date.month().to_string()),
        (":i_day", |v| v.date.day().to_string()),
        (":y_day", |v| format!("{:03}", v.date.ordinal())),
        (":minute", |v| v.date.format("%M").to_string()),
        (":second", |v| v.date.format("%S").to_string()),
        (":month", |v| format!("{:02}", v.date.month())),
        (":title", |v| v.slug.to_owned()),
        (":slug", |v| v.slug.to_owned()),
        (":year", |v| v.date.format("%Y").to_string()),
        (":hour", |v| v.date.format("%H").to_string()),
        (":day", |v| format!("{:02}", v.date.day())),
    ];
    let vars = Vars {
        date,
        cats: &cats,
        slug: &title_slug,
    };
    let mut out = String::with_capacity(pattern.len() + 32);
    let mut rest = pattern;
    while let Some(i) = rest.find(':') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        match PLACEHOLDERS
            .iter()
            .find_map(|(k, value)| Some((tail.strip_prefix(k)?, value)))
        {
            Some((after, value)) => {
                out.push_str(&value(&vars));
                rest = after;
            }
            None => {
                out.push(':');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    normalize_path(&out)
}
