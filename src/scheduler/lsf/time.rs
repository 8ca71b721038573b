//! LSF's time stamps in `bjobs` output: `Feb  2 00:46`, `Dec 28 19:56 L`, `Dec 28 19:56:03`.
//!
//! `bjobs` prints month, day and time, optionally seconds (`-hms`) and a year, and for times it
//! only predicts a one-letter suffix: `L` when the time is worked out from the job's run limit,
//! `E` from its estimated run time (IBM LSF 10.1 `bjobs -o` field descriptions). The suffix must
//! not make the value unreadable. Padding is irregular (`Feb  2`, and `Dec  31` in a public
//! sample), so the text is split on any run of spaces.

use std::fmt;

/// One `bjobs` time stamp. There is no time zone or (usually) year: LSF prints local time of
/// the current year, so this stays a display value, not an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LsfTime {
    /// 1 to 12.
    pub month: u8,
    /// 1 to 31.
    pub day: u8,
    /// 0 to 23.
    pub hour: u8,
    /// 0 to 59.
    pub minute: u8,
    /// Present with `bjobs -hms`.
    pub second: Option<u8>,
    /// Present when LSF prints one (jobs from another year, `LSB_DISPLAY_YEAR`).
    pub year: Option<u16>,
    /// The suffix letter: `L` (from the run limit) or `E` (from the estimated run time), for
    /// a time LSF predicts rather than records.
    pub qualifier: Option<char>,
}

impl LsfTime {
    /// True when LSF predicted this time (it carries a suffix letter).
    pub fn is_estimate(&self) -> bool {
        self.qualifier.is_some()
    }
}

impl fmt::Display for LsfTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let month = MONTHS[usize::from(self.month.clamp(1, 12)) - 1];
        write!(
            f,
            "{month} {:2} {:02}:{:02}",
            self.day, self.hour, self.minute
        )?;
        if let Some(s) = self.second {
            write!(f, ":{s:02}")?;
        }
        if let Some(y) = self.year {
            write!(f, " {y}")?;
        }
        if let Some(q) = self.qualifier {
            write!(f, " {q}")?;
        }
        Ok(())
    }
}

/// Parses one time field. `-` and the empty string (no value) give `Ok(None)`; anything else
/// that is not a time gives an error message.
pub fn parse_lsf_time(text: &str) -> Result<Option<LsfTime>, String> {
    let text = text.trim();
    if text.is_empty() || text == "-" {
        return Ok(None);
    }
    let mut tokens = text.split_whitespace();
    let month_name = tokens.next().unwrap_or_default();
    let month = match month_name {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return Err(format!("{month_name:?} is not a month")),
    };
    let day: u8 = tokens
        .next()
        .and_then(|d| d.parse().ok())
        .filter(|d| (1..=31).contains(d))
        .ok_or("no day of the month")?;
    let mut time = LsfTime {
        month,
        day,
        hour: 0,
        minute: 0,
        second: None,
        year: None,
        qualifier: None,
    };
    let mut seen_clock = false;
    for token in tokens {
        if token.contains(':') && !seen_clock {
            let parts: Vec<&str> = token.split(':').collect();
            let num = |i: usize, max: u8| -> Result<u8, String> {
                parts
                    .get(i)
                    .and_then(|p| p.parse::<u8>().ok())
                    .filter(|n| *n <= max)
                    .ok_or_else(|| format!("{token:?} is not a time of day"))
            };
            if !(2..=3).contains(&parts.len()) {
                return Err(format!("{token:?} is not a time of day"));
            }
            time.hour = num(0, 23)?;
            time.minute = num(1, 59)?;
            if parts.len() == 3 {
                time.second = Some(num(2, 60)?);
            }
            seen_clock = true;
        } else if token.len() == 4
            && token.bytes().all(|b| b.is_ascii_digit())
            && time.year.is_none()
        {
            time.year = token.parse().ok();
        } else if token.len() == 1
            && token.bytes().all(|b| b.is_ascii_uppercase())
            && time.qualifier.is_none()
        {
            time.qualifier = token.chars().next();
        } else {
            return Err(format!("unexpected {token:?}"));
        }
    }
    if !seen_clock {
        return Err("no time of day".to_owned());
    }
    Ok(Some(time))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let t = parse_lsf_time("Dec 28 19:56 L").unwrap().unwrap();
        assert_eq!(
            (t.month, t.day, t.hour, t.minute, t.qualifier),
            (12, 28, 19, 56, Some('L'))
        );
        assert!(t.is_estimate());
        assert_eq!(t.to_string(), "Dec 28 19:56 L");
        let t = parse_lsf_time("Feb  2 00:46").unwrap().unwrap();
        assert_eq!((t.day, t.qualifier), (2, None));
        let t = parse_lsf_time("Dec  31 23:48:05 2023 E").unwrap().unwrap();
        assert_eq!(
            (t.day, t.second, t.year, t.qualifier),
            (31, Some(5), Some(2023), Some('E'))
        );
        assert_eq!(parse_lsf_time(" - ").unwrap(), None);
        assert_eq!(parse_lsf_time("").unwrap(), None);
    }

    #[test]
    fn garbage_is_an_error() {
        for bad in [
            "Foo 2 00:46",
            "Feb 40 00:46",
            "Feb 2",
            "Feb 2 25:00",
            "Feb 2 10:00 LL",
            "15.00% L",
        ] {
            assert!(parse_lsf_time(bad).is_err(), "{bad}");
        }
    }
}
