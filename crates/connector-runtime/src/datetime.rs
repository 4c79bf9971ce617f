//! Cursor value formats and date windows.
//!
//! Each API writes its cursors differently (`2024-01-05 10:00:00Z`, epoch seconds as strings,
//! `2024-03-15T10:00:00+0000`), and each official connector accepts a few older spellings in
//! state. A [`CursorFormat`] names the one format we write and every format we read; all
//! comparisons happen on parsed instants, never on strings.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;

/// One way of writing an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatetimeFormat {
    /// A chrono `strftime` pattern. Patterns without a zone are read as UTC; date-only
    /// patterns mean midnight UTC.
    Strftime(String),
    /// Seconds since the epoch (a JSON number or a numeric string on input; a string on output).
    EpochSeconds,
    /// RFC 3339 / ISO 8601 with any offset, `Z`, or fractions (input only; writes RFC 3339).
    Rfc3339,
}

impl DatetimeFormat {
    pub fn strftime(pattern: &str) -> Self {
        DatetimeFormat::Strftime(pattern.to_string())
    }

    pub fn parse_str(&self, text: &str) -> Option<DateTime<Utc>> {
        let text = text.trim();
        match self {
            DatetimeFormat::EpochSeconds => {
                if let Ok(i) = text.parse::<i64>() {
                    return Utc.timestamp_opt(i, 0).single();
                }
                text.parse::<f64>()
                    .ok()
                    .and_then(|f| Utc.timestamp_opt(f.trunc() as i64, 0).single())
            }
            DatetimeFormat::Rfc3339 => DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|d| d.with_timezone(&Utc))
                .or_else(|| {
                    DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z")
                        .ok()
                        .map(|d| d.with_timezone(&Utc))
                }),
            DatetimeFormat::Strftime(p) => parse_strftime(text, p),
        }
    }

    pub fn parse(&self, value: &Value) -> Option<DateTime<Utc>> {
        match value {
            Value::String(s) => self.parse_str(s),
            Value::Number(n) if *self == DatetimeFormat::EpochSeconds => n
                .as_i64()
                .or_else(|| n.as_f64().map(|f| f.trunc() as i64))
                .and_then(|i| Utc.timestamp_opt(i, 0).single()),
            _ => None,
        }
    }

    pub fn format(&self, dt: DateTime<Utc>) -> String {
        match self {
            DatetimeFormat::EpochSeconds => dt.timestamp().to_string(),
            DatetimeFormat::Rfc3339 => dt.to_rfc3339(),
            DatetimeFormat::Strftime(p) => dt.format(p).to_string(),
        }
    }
}

fn parse_strftime(text: &str, pattern: &str) -> Option<DateTime<Utc>> {
    let has_zone = pattern.contains("%z") || pattern.contains("%:z") || pattern.contains("%#z");
    if has_zone {
        if let Ok(d) = DateTime::parse_from_str(text, pattern) {
            return Some(d.with_timezone(&Utc));
        }
        // Accept `+00:00` where `+0000` is declared and vice versa, and a literal `Z`.
        let alt = if let Some(head) = text.strip_suffix('Z') {
            format!("{head}+0000")
        } else if text.len() > 6 && text.as_bytes()[text.len() - 3] == b':' {
            let (head, tail) = text.split_at(text.len() - 3);
            format!("{head}{}", &tail[1..])
        } else {
            return None;
        };
        return DateTime::parse_from_str(&alt, pattern)
            .ok()
            .map(|d| d.with_timezone(&Utc));
    }
    if let Ok(dt) = NaiveDateTime::parse_from_str(text, pattern) {
        return Some(dt.and_utc());
    }
    NaiveDate::parse_from_str(text, pattern)
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|dt| dt.and_utc())
}

/// The format a cursor is written in, and the formats it may be read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorFormat {
    pub output: DatetimeFormat,
    pub inputs: Vec<DatetimeFormat>,
}

impl CursorFormat {
    pub fn new(output: DatetimeFormat) -> Self {
        CursorFormat {
            output,
            inputs: Vec::new(),
        }
    }

    /// Also accept `format` when reading records or state.
    pub fn accept(mut self, format: DatetimeFormat) -> Self {
        self.inputs.push(format);
        self
    }

    pub fn parse(&self, value: &Value) -> Option<DateTime<Utc>> {
        std::iter::once(&self.output)
            .chain(self.inputs.iter())
            .find_map(|f| f.parse(value))
    }

    pub fn format(&self, dt: DateTime<Utc>) -> String {
        self.output.format(dt)
    }
}

/// A closed interval `[start, end]` of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Cuts `[start, end]` into windows of `step`, the way the declarative CDK does: while the
/// lower bound is before the upper bound, a window that fits entirely ends one `granularity`
/// before the next starts, and the last window ends exactly at `end`. A range with
/// `start >= end` yields no window; `step == None` yields the whole range as one window.
pub fn windows(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    step: Option<Duration>,
    granularity: Duration,
) -> Vec<Window> {
    let mut out = Vec::new();
    if start >= end {
        return out;
    }
    let Some(step) = step.filter(|s| *s > Duration::zero()) else {
        out.push(Window { start, end });
        return out;
    };
    let mut lower = start;
    while lower < end {
        let next = lower + step;
        if next < end {
            out.push(Window {
                start: lower,
                end: next - granularity,
            });
            lower = next;
        } else {
            out.push(Window { start: lower, end });
            break;
        }
    }
    out
}

/// Midnight UTC of the day holding `dt`.
pub fn start_of_day(dt: DateTime<Utc>) -> DateTime<Utc> {
    dt.date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc())
        .unwrap_or(dt)
}

/// Parses `YYYY-MM-DD` as midnight UTC.
pub fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    DatetimeFormat::strftime("%Y-%m-%d").parse_str(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> DateTime<Utc> {
        parse_date(s).unwrap()
    }

    #[test]
    fn cuts_windows_like_the_declarative_cdk() {
        let w = windows(
            d("2024-01-01"),
            d("2024-03-15"),
            Some(Duration::days(30)),
            Duration::days(1),
        );
        let got: Vec<_> = w
            .iter()
            .map(|w| {
                (
                    w.start.format("%F").to_string(),
                    w.end.format("%F").to_string(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("2024-01-01".into(), "2024-01-30".into()),
                ("2024-01-31".into(), "2024-02-29".into()),
                ("2024-03-01".into(), "2024-03-15".into())
            ]
        );
        let w = windows(
            d("2024-01-01"),
            d("2024-01-04"),
            Some(Duration::days(1)),
            Duration::days(1),
        );
        assert_eq!(w.len(), 3);
        assert_eq!(w[2].start, d("2024-01-03"));
        assert_eq!(w[2].end, d("2024-01-04"));
        assert!(windows(d("2024-01-01"), d("2024-01-01"), None, Duration::days(1)).is_empty());
    }

    #[test]
    fn parses_every_declared_spelling() {
        let f = CursorFormat::new(DatetimeFormat::strftime("%Y-%m-%dT%H:%M:%S%z"))
            .accept(DatetimeFormat::strftime("%Y-%m-%dT%H:%M:%S%.f%z"))
            .accept(DatetimeFormat::strftime("%Y-%m-%d %H:%M:%S%z"));
        let want = DateTime::parse_from_rfc3339("2024-03-15T10:00:00Z").unwrap();
        for text in [
            "2024-03-15T10:00:00+0000",
            "2024-03-15T10:00:00+00:00",
            "2024-03-15T10:00:00.000+00:00",
            "2024-03-15 10:00:00+00:00",
            "2024-03-15T10:00:00Z",
        ] {
            assert_eq!(f.parse(&Value::from(text)), Some(want.into()), "{text}");
        }
        assert_eq!(f.format(want.into()), "2024-03-15T10:00:00+0000");
        let tiktok = CursorFormat::new(DatetimeFormat::strftime("%Y-%m-%d %H:%M:%SZ"));
        assert_eq!(tiktok.format(want.into()), "2024-03-15 10:00:00Z");
        assert!(tiktok.parse(&Value::from("2024-03-15 10:00:00Z")).is_some());
    }

    #[test]
    fn epoch_seconds_read_numbers_and_strings_and_write_strings() {
        let f = CursorFormat::new(DatetimeFormat::EpochSeconds);
        let a = f.parse(&Value::from(1712102400)).unwrap();
        let b = f.parse(&Value::from("1712102400")).unwrap();
        assert_eq!(a, b);
        assert_eq!(f.format(a), "1712102400");
        assert!(f.parse(&Value::Null).is_none());
    }
}
