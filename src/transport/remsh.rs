//! The remote shell command of a system: ExPyRe's `remsh_cmd` (or `EXPYRE_RSH`, or `ssh`),
//! possibly several words such as `ssh -p 2222 -F ~/.ssh/cluster_config`.
//!
//! xpr runs one OpenSSH master per host and sends every command through it, so the words are
//! taken apart into the `ssh` program and its options, and the options are given to the
//! master. Options that would fight the master (`-M`, `-S`, `-f`, `-N`, `-O`, `-E`, forwardings,
//! `-o Control*`) or that are not options at all (a host name, a command) fail loudly instead of
//! being dropped. Words are split on whitespace; quotes are refused rather than guessed at.

use std::fmt;
use std::path::PathBuf;

/// `remsh_cmd` / `EXPYRE_RSH` that xpr cannot honour.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot use remote shell command {command:?}: {reason}")]
pub struct InvalidRemoteShell {
    /// The command as given.
    pub command: String,
    /// Why it cannot be used.
    pub reason: String,
}

/// An OpenSSH client command: the program and the options given to every connection.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RemoteShell {
    program: String,
    options: Vec<String>,
}

/// ssh flags without an argument that are harmless on a master connection.
const FLAGS_OK: &[char] = &[
    '4', '6', 'A', 'a', 'C', 'g', 'K', 'k', 'n', 'q', 'T', 'v', 'X', 'x', 'Y', 'y',
];
/// ssh flags without an argument that change what the master is or does.
const FLAGS_REFUSED: &[char] = &['f', 'G', 'M', 'N', 's', 't', 'V'];
/// ssh options taking an argument that are harmless on a master connection.
const ARGS_OK: &[char] = &[
    'B', 'b', 'c', 'e', 'F', 'I', 'i', 'J', 'l', 'm', 'o', 'P', 'p',
];
/// ssh options taking an argument that xpr sets itself or that open forwardings/other modes.
const ARGS_REFUSED: &[char] = &['D', 'E', 'L', 'O', 'Q', 'R', 'S', 'W', 'w'];
/// `-o` keys xpr sets itself on the master.
const KEYS_REFUSED: &[&str] = &["controlmaster", "controlpath", "controlpersist"];

impl Default for RemoteShell {
    fn default() -> Self {
        Self::ssh()
    }
}

impl RemoteShell {
    /// The environment variable ExPyRe reads for the default remote shell.
    pub const ENV: &'static str = "EXPYRE_RSH";

    /// Plain `ssh` from `PATH`, no options.
    pub fn ssh() -> Self {
        Self {
            program: "ssh".to_owned(),
            options: Vec::new(),
        }
    }

    /// Parses a `remsh_cmd` such as `ssh -p 2222 -F cfg` or `/usr/bin/ssh -oBatchMode=yes`.
    ///
    /// The program must be an OpenSSH client (its file name ends in `ssh`); every other word must
    /// be an option ssh accepts and xpr can give to a master connection.
    pub fn parse(command: &str) -> Result<Self, InvalidRemoteShell> {
        let bad = |reason: String| InvalidRemoteShell {
            command: command.to_owned(),
            reason,
        };
        if let Some(c) = command
            .chars()
            .find(|c| matches!(c, '\'' | '"' | '\\' | '`' | '$'))
        {
            return Err(bad(format!(
                "words are split on spaces and {c:?} is not supported; \
                 put options with spaces in an ssh config file and pass it with -F"
            )));
        }
        let mut words = command.split_whitespace();
        let program = words
            .next()
            .ok_or_else(|| bad("it is empty".to_owned()))?
            .to_owned();
        let file_name = program.rsplit('/').next().unwrap_or(&program);
        if !file_name.ends_with("ssh") {
            return Err(bad(format!(
                "xpr runs commands through an OpenSSH master connection, so the program must be \
                 an OpenSSH `ssh`, not {program:?}"
            )));
        }
        let mut shell = Self {
            program,
            options: Vec::new(),
        };
        while let Some(word) = words.next() {
            let Some(letters) = word.strip_prefix('-').filter(|l| !l.is_empty()) else {
                return Err(bad(format!(
                    "{word:?} is not an option; remsh_cmd must not name the host or a command \
                     (an `-o` option is written `-oKey=value` or `-o Key=value`)"
                )));
            };
            // ssh uses getopt: flags may be grouped (`-qC`), and an option taking an argument
            // takes the rest of the word (`-p2222`) or the next word (`-p 2222`).
            for (i, letter) in letters.char_indices() {
                if FLAGS_OK.contains(&letter) {
                    shell.options.push(format!("-{letter}"));
                } else if FLAGS_REFUSED.contains(&letter) || ARGS_REFUSED.contains(&letter) {
                    return Err(bad(format!(
                        "option -{letter} cannot be used: xpr runs its own master connection \
                         (-M -S -f -N -E) and runs no forwardings or other modes"
                    )));
                } else if ARGS_OK.contains(&letter) {
                    let rest = &letters[i + letter.len_utf8()..];
                    let value = if rest.is_empty() {
                        words
                            .next()
                            .ok_or_else(|| bad(format!("option -{letter} needs a value")))?
                            .to_owned()
                    } else {
                        rest.to_owned()
                    };
                    shell.push_option(letter, value).map_err(bad)?;
                    break;
                } else {
                    return Err(bad(format!("-{letter} is not an ssh option xpr knows")));
                }
            }
        }
        Ok(shell)
    }

    /// The remote shell of a system: its `remsh_cmd`, else `$EXPYRE_RSH`, else `ssh`.
    pub fn from_setting(remsh_cmd: Option<&str>) -> Result<Self, InvalidRemoteShell> {
        if let Some(cmd) = remsh_cmd {
            return Self::parse(cmd);
        }
        match std::env::var(Self::ENV) {
            Ok(cmd) if !cmd.trim().is_empty() => Self::parse(&cmd),
            _ => Ok(Self::ssh()),
        }
    }

    /// Adds `-F file`: read this ssh config instead of `~/.ssh/config`.
    pub fn with_config_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.options.push("-F".to_owned());
        self.options
            .push(file.into().to_string_lossy().into_owned());
        self
    }

    /// Adds one `-o Key=value` option (refusing the ones xpr sets itself).
    pub fn with_option(mut self, key_value: &str) -> Result<Self, InvalidRemoteShell> {
        self.push_option('o', key_value.to_owned())
            .map_err(|reason| InvalidRemoteShell {
                command: format!("{self} -o {key_value}"),
                reason,
            })?;
        Ok(self)
    }

    fn push_option(&mut self, letter: char, mut value: String) -> Result<(), String> {
        if letter == 'o' {
            let key = value
                .split(['=', ' ', '\t'])
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            if KEYS_REFUSED.contains(&key.as_str()) {
                return Err(format!(
                    "-o {value} cannot be used: xpr manages the control master itself \
                     (use `xpr connect` for a master you open by hand)"
                ));
            }
        }
        if letter == 'F' {
            // A shell would have expanded `~/` in `ssh -F ~/x`; ssh itself does not.
            if let (Some(rest), Some(home)) = (value.strip_prefix("~/"), std::env::var_os("HOME")) {
                value = PathBuf::from(home)
                    .join(rest)
                    .to_string_lossy()
                    .into_owned();
            }
        }
        self.options.push(format!("-{letter}"));
        self.options.push(value);
        Ok(())
    }

    /// The ssh program (`ssh`, `/usr/bin/ssh`, ...).
    pub fn program(&self) -> &str {
        &self.program
    }

    /// The options given to every connection, as separate argv words.
    pub fn options(&self) -> &[String] {
        &self.options
    }

    /// The command a user would type to reach `host`, e.g. `ssh -F cfg xpr-hostA` (for hints).
    pub fn render(&self, host: &str) -> String {
        let mut words = vec![self.program.as_str()];
        words.extend(self.options.iter().map(String::as_str));
        words.push(host);
        words.join(" ")
    }
}

impl fmt::Display for RemoteShell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.program)?;
        for option in &self.options {
            write!(f, " {option}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_word_commands_become_program_and_options() {
        let shell =
            RemoteShell::parse("/usr/bin/ssh -p 2222  -F /etc/cfg -qC -oBatchMode=yes").unwrap();
        assert_eq!(shell.program(), "/usr/bin/ssh");
        assert_eq!(
            shell.options(),
            [
                "-p",
                "2222",
                "-F",
                "/etc/cfg",
                "-q",
                "-C",
                "-o",
                "BatchMode=yes"
            ]
        );
        let shell = RemoteShell::parse("ssh -p2222 -Jbastion -i key").unwrap();
        assert_eq!(
            shell.options(),
            ["-p", "2222", "-J", "bastion", "-i", "key"]
        );
        assert_eq!(shell.render("hpc"), "ssh -p 2222 -J bastion -i key hpc");
    }

    #[test]
    fn what_cannot_be_honoured_fails_loudly() {
        for (command, reason) in [
            ("", "empty"),
            ("rsh -l me", "OpenSSH"),
            ("ssh hostname", "not an option"),
            ("ssh -o Port 22", "not an option"),
            ("ssh -M", "-M cannot be used"),
            ("ssh -qS /tmp/sock", "-S cannot be used"),
            ("ssh -L 8080:localhost:80", "-L cannot be used"),
            ("ssh -o ControlPath=/tmp/x", "manages the control master"),
            ("ssh -oControlMaster=auto", "manages the control master"),
            ("ssh -p", "needs a value"),
            ("ssh -F 'my config'", "not supported"),
            ("ssh -Z", "not an ssh option"),
        ] {
            let err = RemoteShell::parse(command).unwrap_err();
            assert!(
                err.reason.contains(reason),
                "{command:?} gave {err}, expected {reason:?}"
            );
        }
    }
}
