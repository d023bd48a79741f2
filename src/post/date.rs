//! Dates in front matter and file names.
//!
//! One small parser accepts every form SPEC §1 lists — `YYYY-MM-DD HH:MM:SS ±HHMM`,
//! `… ±HH:MM`, `YYYY-MM-DD HH:MM[:SS]`, `YYYY-MM-DD`, RFC 3339 and YAML timestamps (single-digit
//! month/day/hour, `t`/`T`/spaces as separator, fractions, `Z`, `±H`). The offset written in the
//! post is kept as it is: `+0800` stays `+08:00` in every feed, never re-zoned.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};

/// Parses a front-matter date; a date without an offset is taken in `default_tz`.
pub fn parse_date(text: &str, default_tz: FixedOffset) -> Option<DateTime<FixedOffset>> {
    let mut s = Cursor::new(text.trim());
    let date = s.date()?;
    if s.at_end() {
        return single(default_tz.from_local_datetime(&date.and_time(NaiveTime::MIN)));
    }
    // Separator: `T`, `t`, or one or more spaces/tabs.
    if !s.eat_one_of(b"Tt") && s.spaces() == 0 {
        return None;
    }
    let time = s.time()?;
    let naive = NaiveDateTime::new(date, time);
    s.spaces();
    if s.at_end() {
        return single(default_tz.from_local_datetime(&naive));
    }
    let offset = parse_offset(s.rest())?;
    single(offset.from_local_datetime(&naive))
}

fn single(r: chrono::LocalResult<DateTime<FixedOffset>>) -> Option<DateTime<FixedOffset>> {
    match r {
        chrono::LocalResult::Single(d) => Some(d),
        _ => None,
    }
}

/// Parses a UTC offset: `Z`, `+08:00`, `+0800`, `+08`, `-5`.
pub fn parse_offset(text: &str) -> Option<FixedOffset> {
    if text == "Z" || text == "z" {
        return FixedOffset::east_opt(0);
    }
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
    let (h, m) = if let Some((h, m)) = rest.split_once(':') {
        if !digits(h) || m.len() != 2 || !digits(m) {
            return None;
        }
        (h, m)
    } else if rest.len() == 4 && rest.bytes().all(|b| b.is_ascii_digit()) {
        (&rest[..2], &rest[2..])
    } else if digits(rest) {
        (rest, "0")
    } else {
        return None;
    };
    let h: i32 = h.parse().ok()?;
    let m: i32 = m.parse().ok()?;
    if h > 23 || m > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

/// The `YYYY-MM-DD-` prefix of a file name, if it has one.
pub fn file_name_date(stem: &str) -> Option<(NaiveDate, &str)> {
    let bytes = stem.as_bytes();
    if bytes.len() < 11 || bytes[10] != b'-' {
        return None;
    }
    let mut c = Cursor::new(&stem[..10]);
    let date = c.strict_date()?;
    Some((date, &stem[11..]))
}

/// A date at midnight in `tz`.
pub fn midnight(date: NaiveDate, tz: FixedOffset) -> Option<DateTime<FixedOffset>> {
    single(tz.from_local_datetime(&date.and_time(NaiveTime::MIN)))
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a str) -> Self {
        Cursor { s, pos: 0 }
    }
    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }
    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn eat_one_of(&mut self, set: &[u8]) -> bool {
        match self.peek() {
            Some(b) if set.contains(&b) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }
    fn spaces(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        self.pos - start
    }
    /// `min..=max` ASCII digits as a number.
    fn number(&mut self, min: usize, max: usize) -> Option<u32> {
        let start = self.pos;
        while self.pos - start < max && matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        let n = self.pos - start;
        if n < min {
            return None;
        }
        self.s[start..self.pos].parse().ok()
    }
    /// `YYYY-M[M]-D[D]` (YAML allows one-digit month and day).
    fn date(&mut self) -> Option<NaiveDate> {
        let y = self.number(4, 4)?;
        if !self.eat(b'-') {
            return None;
        }
        let m = self.number(1, 2)?;
        if !self.eat(b'-') {
            return None;
        }
        let d = self.number(1, 2)?;
        NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d)
    }
    /// `YYYY-MM-DD` exactly.
    fn strict_date(&mut self) -> Option<NaiveDate> {
        let y = self.number(4, 4)?;
        if !self.eat(b'-') {
            return None;
        }
        let m = self.number(2, 2)?;
        if !self.eat(b'-') {
            return None;
        }
        let d = self.number(2, 2)?;
        if !self.at_end() {
            return None;
        }
        NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d)
    }
    /// `H[H]:MM[:SS[.fraction]]`.
    fn time(&mut self) -> Option<NaiveTime> {
        let h = self.number(1, 2)?;
        if !self.eat(b':') {
            return None;
        }
        let m = self.number(2, 2)?;
        let mut s = 0;
        let mut nanos = 0;
        if self.eat(b':') {
            s = self.number(2, 2)?;
            if self.eat(b'.') || self.eat(b',') {
                let start = self.pos;
                while matches!(self.peek(), Some(b'0'..=b'9')) {
                    self.pos += 1;
                }
                let frac = &self.s[start..self.pos];
                if frac.is_empty() {
                    return None;
                }
                let mut scaled = String::from(&frac[..frac.len().min(9)]);
                while scaled.len() < 9 {
                    scaled.push('0');
                }
                nanos = scaled.parse().ok()?;
            }
        }
        // A leap second (`:60`) is folded into the last nanosecond range chrono allows.
        NaiveTime::from_hms_nano_opt(h, m, s, nanos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tz(h: i32) -> FixedOffset {
        FixedOffset::east_opt(h * 3600).unwrap()
    }

    fn rfc(text: &str, default: i32) -> String {
        parse_date(text, tz(default))
            .map(|d| d.to_rfc3339())
            .unwrap_or_else(|| "NONE".into())
    }

    #[test]
    fn every_spec_form() {
        assert_eq!(
            rfc("2021-12-21 08:10:27 +0800", 0),
            "2021-12-21T08:10:27+08:00"
        );
        assert_eq!(
            rfc("2021-12-21 08:10:27 +08:00", 0),
            "2021-12-21T08:10:27+08:00"
        );
        assert_eq!(
            rfc("2021-12-21 08:10:27 -0500", 0),
            "2021-12-21T08:10:27-05:00"
        );
        assert_eq!(rfc("2021-12-21 08:10:27", 8), "2021-12-21T08:10:27+08:00");
        assert_eq!(rfc("2021-12-21 08:10", 0), "2021-12-21T08:10:00+00:00");
        assert_eq!(rfc("2021-12-21", 8), "2021-12-21T00:00:00+08:00");
        assert_eq!(
            rfc("2021-12-21T08:10:27+08:00", 0),
            "2021-12-21T08:10:27+08:00"
        );
        assert_eq!(rfc("2021-12-21T08:10:27Z", 8), "2021-12-21T08:10:27+00:00");
        assert_eq!(
            rfc("2021-12-21T08:10:27.5-03:30", 0),
            "2021-12-21T08:10:27.500-03:30"
        );
    }

    #[test]
    fn yaml_timestamps() {
        // Examples from the YAML 1.1 timestamp type.
        assert_eq!(
            rfc("2001-12-14t21:59:43.10-05:00", 0),
            "2001-12-14T21:59:43.100-05:00"
        );
        assert_eq!(
            rfc("2001-12-14 21:59:43.10 -5", 0),
            "2001-12-14T21:59:43.100-05:00"
        );
        assert_eq!(
            rfc("2001-12-15 2:59:43.10", 0),
            "2001-12-15T02:59:43.100+00:00"
        );
        assert_eq!(rfc("2002-1-2", 0), "2002-01-02T00:00:00+00:00");
        assert_eq!(rfc("2001-12-14 21:59:43 Z", 3), "2001-12-14T21:59:43+00:00");
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "yesterday",
            "2021-13-01",
            "2021-02-30",
            "2021-12-21 25:00",
            "2021-12-21 08:10:27 +2500",
            "2021-12-21 08:10:27 PST",
            "2021-12-21x08:10",
            "21-12-21",
            "2021-12-21 08:10:27 +08:00 extra",
            "2021-12-21 08:10:27.",
        ] {
            assert!(
                parse_date(bad, tz(0)).is_none(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn offsets() {
        assert_eq!(parse_offset("+08:00").unwrap().local_minus_utc(), 28800);
        assert_eq!(parse_offset("+0800").unwrap().local_minus_utc(), 28800);
        assert_eq!(parse_offset("-5").unwrap().local_minus_utc(), -18000);
        assert_eq!(parse_offset("Z").unwrap().local_minus_utc(), 0);
        assert!(parse_offset("0800").is_none());
        assert!(parse_offset("+08:0").is_none());
        assert!(parse_offset("+").is_none());
    }

    #[test]
    fn file_name_prefix() {
        let (d, rest) = file_name_date("2021-12-21-port-news").unwrap();
        assert_eq!(d, NaiveDate::from_ymd_opt(2021, 12, 21).unwrap());
        assert_eq!(rest, "port-news");
        assert!(file_name_date("2021-12-21").is_none());
        assert!(file_name_date("2021-1-21-x").is_none());
        assert!(file_name_date("about-this-site").is_none());
        assert!(file_name_date("2021-02-31-x").is_none());
    }
}
