//! The attribute-block layout PBS's `qstat -Q -f` and `pbsnodes -a` print (PBS Pro and
//! Torque alike), split into blocks (pure; the two parsers read the attributes).
//!
//! ```text
//! Queue: workq                         <- a block starts at a line without indent
//!     queue_type = Execution           <- an attribute: indent, name, ` = `, value
//!     resources_max.walltime = 24:00:00
//!         ...continued                 <- a TAB-indented line continues the value above
//! ```

use std::collections::BTreeMap;

use super::error::ReplyError;

/// One block: its header line and its attributes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Block {
    /// The header line, trimmed (`Queue: workq`, `node01`).
    pub header: String,
    /// The attributes by name.
    pub attrs: BTreeMap<String, String>,
}

impl Block {
    /// The value of `key`, if the block has it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.attrs.get(key).map(String::as_str)
    }
}

/// The blocks of `text`; `command` names it in errors.
pub fn parse_blocks(command: &'static str, text: &str) -> Result<Vec<Block>, ReplyError> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut last_key: Option<String> = None;
    for raw in text.lines() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            continue;
        }
        if !line.starts_with([' ', '\t']) {
            blocks.push(Block {
                header: line.trim().to_owned(),
                attrs: BTreeMap::new(),
            });
            last_key = None;
            continue;
        }
        let Some(block) = blocks.last_mut() else {
            return Err(ReplyError::new(
                command,
                "line",
                line,
                "an attribute before any block",
            ));
        };
        if line.starts_with('\t')
            && let Some(value) = last_key.as_ref().and_then(|k| block.attrs.get_mut(k))
        {
            value.push_str(line.trim());
            continue;
        }
        let Some((key, value)) = line.trim().split_once(" = ") else {
            return Err(ReplyError::new(
                command,
                "line",
                line,
                "expected `name = value`",
            ));
        };
        block
            .attrs
            .insert(key.trim().to_owned(), value.trim().to_owned());
        last_key = Some(key.trim().to_owned());
    }
    Ok(blocks)
}

/// A PBS size (`16gb`, `196608kb`, `4tb`, `1024mb`, bytes with `b` or none, words `w` of 8
/// bytes) in kB; `None` when it has another shape.
pub fn pbs_size_kb(text: &str) -> Option<u64> {
    let t = text.trim().to_ascii_lowercase();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let number: u64 = number.parse().ok()?;
    let bytes_per: u64 = match unit {
        "" | "b" => 1,
        "w" => 8,
        "kb" => 1 << 10,
        "kw" => 8 << 10,
        "mb" => 1 << 20,
        "mw" => 8 << 20,
        "gb" => 1 << 30,
        "gw" => 8 << 30,
        "tb" => 1 << 40,
        "pb" => 1 << 50,
        _ => return None,
    };
    Some(number.checked_mul(bytes_per)? / 1024)
}

/// A PBS duration in seconds: the scheduler adapter's parser, which reads jobs' walltimes.
pub use crate::scheduler::pbs::parse_duration as pbs_duration;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pbs_units() {
        assert_eq!(pbs_size_kb("16gb"), Some(16 << 20));
        assert_eq!(pbs_size_kb("196608kb"), Some(196_608));
        assert_eq!(pbs_size_kb("2048"), Some(2));
        assert_eq!(pbs_size_kb("1.5gb"), None);
        assert_eq!(pbs_duration("24:00:00"), Some(86_400));
        assert_eq!(pbs_duration("720:00:00"), Some(2_592_000));
        assert_eq!(pbs_duration("3600"), Some(3600));
        assert_eq!(pbs_duration("1:2:3:4"), None);
    }
}
