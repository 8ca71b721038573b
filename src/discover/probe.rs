//! The one remote round trip of discovery: `probe.sh` runs every scheduler's commands at once
//! and frames their replies; [`parse_frames`] takes the frames apart (pure).
//!
//! A frame is the line `@xpr-discover KIND STEP STATUS OUT_BYTES ERR_BYTES` followed by exactly
//! that many bytes of stdout and stderr, so a reply may hold any bytes at all, blank lines and
//! lines that look like frame headers included. Text before the first frame (a login banner)
//! is kept apart, for the caller to warn about.

use std::ffi::OsString;

use crate::command::{CommandSpec, shell_program};

/// The probe program, kept in `probe.sh`.
pub const PROBE_PROGRAM: &str = shell_program!(include_str!("probe.sh"));

/// What starts every frame header.
const FRAME_MARK: &[u8] = b"@xpr-discover ";

/// The command that probes for `kinds` (`slurm`, `pbs`, `sge`, `lsf`, `local`).
pub fn probe_command<'a>(kinds: impl IntoIterator<Item = &'a str>) -> CommandSpec {
    let mut args = vec![
        OsString::from("-c"),
        OsString::from(PROBE_PROGRAM),
        OsString::from("xpr-discover"),
    ];
    args.extend(kinds.into_iter().map(OsString::from));
    CommandSpec::new("sh").args(args)
}

/// One step's reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The kind it belongs to (`slurm`, ...).
    pub kind: String,
    /// The step (`version`, `sinfo`, `absent`, ...).
    pub step: String,
    /// Its exit status (127: not there; 124: ran out of time).
    pub status: i32,
    /// Its stdout.
    pub stdout: Vec<u8>,
    /// Its stderr.
    pub stderr: Vec<u8>,
}

impl Frame {
    /// True when the step exited 0.
    pub fn succeeded(&self) -> bool {
        self.status == 0
    }

    /// Its stdout as text (invalid UTF-8 replaced).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// The first line of its stderr (or of stdout when stderr is empty), for messages.
    pub fn complaint(&self) -> String {
        let text = if self.stderr.iter().all(u8::is_ascii_whitespace) {
            &self.stdout
        } else {
            &self.stderr
        };
        let text = String::from_utf8_lossy(text);
        let line = text.lines().map(str::trim).find(|l| !l.is_empty());
        let mut line: String = line.unwrap_or("(no output)").chars().take(200).collect();
        if self.status == 124 {
            line = format!("it ran out of time ({line})");
        }
        line
    }
}

/// The probe's reply: its frames in order, and whatever came before the first one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProbeReply {
    /// Bytes before the first frame (a login banner); empty on a clean shell.
    pub preamble: Vec<u8>,
    /// The frames, in order.
    pub frames: Vec<Frame>,
}

impl ProbeReply {
    /// The frame of `step` of `kind`, if it ran.
    pub fn frame(&self, kind: &str, step: &str) -> Option<&Frame> {
        self.frames
            .iter()
            .find(|f| f.kind == kind && f.step == step)
    }

    /// The frames of `kind`.
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Frame> + 'a {
        self.frames.iter().filter(move |f| f.kind == kind)
    }
}

/// Takes the probe's stdout apart into frames. Errors say what is wrong (a header that does
/// not parse, a frame cut short).
pub fn parse_frames(bytes: &[u8]) -> Result<ProbeReply, String> {
    let start = find_mark(bytes, 0).ok_or_else(|| {
        format!(
            "no frame at all in {} bytes of output ({:?})",
            bytes.len(),
            String::from_utf8_lossy(&bytes[..bytes.len().min(120)])
        )
    })?;
    let mut reply = ProbeReply {
        preamble: bytes[..start].to_vec(),
        frames: Vec::new(),
    };
    let mut at = start;
    while at < bytes.len() {
        let end = bytes[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| at + i)
            .ok_or("a frame header without its end of line")?;
        let header = String::from_utf8_lossy(&bytes[at + FRAME_MARK.len()..end]).into_owned();
        let words: Vec<&str> = header.split_whitespace().collect();
        let [kind, step, status, out_len, err_len] = words[..] else {
            return Err(format!("frame header {header:?} does not have five words"));
        };
        let number = |w: &str| {
            w.parse::<usize>()
                .map_err(|_| format!("frame header {header:?}: {w:?} is not a byte count"))
        };
        let status: i32 = status
            .parse()
            .map_err(|_| format!("frame header {header:?}: {status:?} is not a status"))?;
        let (out_len, err_len) = (number(out_len)?, number(err_len)?);
        let body = end + 1;
        let stop = body
            .checked_add(out_len)
            .and_then(|s| s.checked_add(err_len))
            .filter(|&s| s <= bytes.len())
            .ok_or_else(|| format!("frame {kind} {step} is cut short"))?;
        reply.frames.push(Frame {
            kind: kind.to_owned(),
            step: step.to_owned(),
            status,
            stdout: bytes[body..body + out_len].to_vec(),
            stderr: bytes[body + out_len..stop].to_vec(),
        });
        at = stop;
        if at < bytes.len() && !bytes[at..].starts_with(FRAME_MARK) {
            return Err(format!(
                "text after frame {kind} {step} is not a frame: {:?}",
                String::from_utf8_lossy(&bytes[at..bytes.len().min(at + 80)])
            ));
        }
    }
    Ok(reply)
}

/// The offset of the first frame mark at the start of a line, from `from`.
fn find_mark(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while at < bytes.len() {
        if bytes[at..].starts_with(FRAME_MARK) {
            return Some(at);
        }
        at += bytes[at..].iter().position(|&b| b == b'\n')? + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_hold_any_bytes_and_a_banner_is_kept_apart() {
        let reply =
            b"Welcome!\n@xpr-discover slurm sinfo 0 3 2\n@x\nno@xpr-discover pbs absent 127 0 0\n";
        let parsed = parse_frames(reply).unwrap();
        assert_eq!(parsed.preamble, b"Welcome!\n");
        assert_eq!(parsed.frames.len(), 2);
        assert_eq!(parsed.frames[0].stdout, b"@x\n");
        assert_eq!(parsed.frames[0].stderr, b"no");
        assert_eq!(parsed.frames[1].status, 127);
        assert!(parse_frames(b"@xpr-discover a b 0 10 0\nshort").is_err());
        assert!(parse_frames(b"nothing").is_err());
        assert!(parse_frames(b"@xpr-discover a b 0 0 0\ntrailing").is_err());
    }
}
