//! Checks of the values a remote reply carries, shared by the parsers: nothing from the remote
//! side is trusted. A partition or queue name goes into the config as a key and into job
//! scripts (`#SBATCH --partition={partition}`), so it is held to a short, safe alphabet; every
//! number is parsed whole, without sign or fraction unless the format has one.

use super::error::ReplyError;

/// The most characters a partition or queue name may have.
pub const MAX_NAME_LEN: usize = 64;

/// True when `name` may be a partition or queue name: 1 to 64 ASCII letters,
/// digits, `_`, `-`, `.` and `+`, starting with a letter, digit or `_` (the names Slurm, PBS,
/// Grid Engine and LSF sites use, e.g. `debug`, `all.q`, `gpu-a100`, `short_48h`).
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= MAX_NAME_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+'))
}

/// `name` when it is a valid partition or queue name, else an error naming `command`.
pub fn checked_name(command: &'static str, name: &str) -> Result<String, ReplyError> {
    if is_valid_name(name) {
        Ok(name.to_owned())
    } else {
        Err(ReplyError::new(
            command,
            "partition or queue name",
            name,
            format!(
                "xpr takes names of 1 to {MAX_NAME_LEN} letters, digits, `_`, `-`, `.` and `+` \
                 (hint: leave it out of the config by hand if the site really has it)"
            ),
        ))
    }
}

/// A whole number of cores (at least 1).
pub fn cores(command: &'static str, what: &'static str, text: &str) -> Result<u32, ReplyError> {
    match text.parse::<u32>() {
        Ok(n) if n >= 1 && text.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(ReplyError::new(
            command,
            what,
            text,
            "expected a whole number of at least 1",
        )),
    }
}

/// A size with a unit letter (`K`, `M`, `G`, `T`, `P`, any case, an optional `B`, an optional
/// decimal fraction) in kB, the unit `default_unit_kb` applying to a bare number; `None` when
/// it does not have that shape. Binary multiples, as the config's units.
pub fn size_kb(text: &str, default_unit_kb: u64) -> Option<u64> {
    let t = text.trim();
    let digits_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(digits_end);
    if number.is_empty() || number.starts_with('.') || number.matches('.').count() > 1 {
        return None;
    }
    let unit = unit.trim().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let scale: u64 = match unit {
        "" => default_unit_kb,
        "k" => 1,
        "m" => 1 << 10,
        "g" => 1 << 20,
        "t" => 1 << 30,
        "p" => 1 << 40,
        _ => return None,
    };
    let value = number.parse::<f64>().ok()? * scale as f64;
    (0.0..1.8e19).contains(&value).then_some(value as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_held_to_a_safe_alphabet() {
        for ok in ["debug", "all.q", "gpu-a100", "short_48h", "_x", "a+b", "Q1"] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in [
            "",
            "-x",
            ".q",
            "a b",
            "a\nb",
            "a;b",
            "a$b",
            "ä",
            &"x".repeat(65),
        ] {
            assert!(!is_valid_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn sizes_take_unit_letters() {
        assert_eq!(size_kb("8000", 1024), Some(8000 * 1024));
        assert_eq!(size_kb("23.5G", 1), Some(24_641_536));
        assert_eq!(size_kb("196608kb", 1), Some(196_608));
        assert_eq!(size_kb("16gb", 1), Some(16 << 20));
        assert_eq!(size_kb("7807M", 1), Some(7807 << 10));
        assert_eq!(size_kb("-", 1), None);
        assert_eq!(size_kb("1e3", 1), None);
        assert_eq!(size_kb("5x", 1), None);
    }
}
