//! When a failed operation is tried again: the caller's [`Retry`] flag (may this command run
//! twice?) and the [`RetryPolicy`] (how many attempts, how far apart), read from `EXPYRE_RETRY`.
//!
//! The rules are documented on [`Retry`].

use std::time::Duration;

/// May the transport run a command again if the connection drops while it runs?
///
/// Rules, applied by [`SshTransport`](super::SshTransport):
/// - Connecting (or reconnecting) is attempted up to `attempts` times, `delay` apart, for
///   transient failures only (unreachable host, connection reset); a refused key, an unknown or
///   changed host key and an unresolvable name fail at once: waiting does not fix them.
/// - A command whose session could not even be opened (the master was already gone) never ran:
///   the transport reconnects and sends it again, whatever the flag.
/// - A command that was running when the connection dropped is sent again only with
///   [`Retry::Safe`], up to `attempts` runs in all, `delay` apart. With [`Retry::Never`]
///   (submissions, anything not idempotent) the caller gets
///   [`ConnectionDropped`](super::TransportErrorKind::ConnectionDropped) and decides.
/// - Streaming runs are [`Retry::Never`]: their input has been consumed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Yes: running it twice is harmless (queries: `squeue`, `cat`, `ls`, `mkdir -p`).
    Safe,
    /// No: it must run at most once (submissions, cancellations, appends).
    Never,
}

/// How many times to attempt an operation and how long to wait between attempts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, at least 1.
    pub attempts: u32,
    /// Wait between two attempts.
    pub delay: Duration,
}

impl Default for RetryPolicy {
    /// ExPyRe's default, `EXPYRE_RETRY='3 5'`: 3 attempts, 5 s apart.
    fn default() -> Self {
        Self {
            attempts: 3,
            delay: Duration::from_secs(5),
        }
    }
}

/// `EXPYRE_RETRY` (or another retry setting) that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid EXPYRE_RETRY value {value:?}: {reason} (hint: use 'N T': N attempts, at least 1, \
     T seconds apart, e.g. '3 5')"
)]
pub struct InvalidRetryPolicy {
    /// The value as given.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

impl RetryPolicy {
    /// The environment variable ExPyRe reads: `"N T"`.
    pub const ENV: &'static str = "EXPYRE_RETRY";

    /// Parses `"N T"`: `N` attempts (an integer, at least 1) and `T` seconds between them (a
    /// non-negative number, fractions allowed).
    pub fn parse(value: &str) -> Result<Self, InvalidRetryPolicy> {
        let bad = |reason: &str| InvalidRetryPolicy {
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        let words: Vec<&str> = value.split_whitespace().collect();
        let [n, t] = words[..] else {
            return Err(bad("expected two numbers, attempts and seconds"));
        };
        let attempts: u32 = n
            .parse()
            .map_err(|_| bad("the number of attempts is not a whole number"))?;
        if attempts == 0 {
            return Err(bad("the number of attempts must be at least 1"));
        }
        let seconds: f64 = t
            .parse()
            .map_err(|_| bad("the wait is not a number of seconds"))?;
        let delay = Duration::try_from_secs_f64(seconds)
            .map_err(|_| bad("the wait must be a non-negative number of seconds"))?;
        Ok(Self { attempts, delay })
    }

    /// The policy from `EXPYRE_RETRY`, or the default (`3 5`) when it is unset or blank.
    pub fn from_env() -> Result<Self, InvalidRetryPolicy> {
        Self::from_env_value(std::env::var_os(Self::ENV))
    }

    /// [`from_env`](Self::from_env) for a given value of the variable.
    fn from_env_value(value: Option<std::ffi::OsString>) -> Result<Self, InvalidRetryPolicy> {
        let Some(value) = value else {
            return Ok(Self::default());
        };
        let Some(text) = value.to_str() else {
            return Err(InvalidRetryPolicy {
                value: value.to_string_lossy().into_owned(),
                reason: "not valid UTF-8".to_owned(),
            });
        };
        if text.trim().is_empty() {
            Ok(Self::default())
        } else {
            Self::parse(text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_attempts_and_seconds() {
        assert_eq!(
            RetryPolicy::parse("3 5").unwrap(),
            RetryPolicy {
                attempts: 3,
                delay: Duration::from_secs(5)
            }
        );
        assert_eq!(
            RetryPolicy::parse("  1\t0.5 ").unwrap(),
            RetryPolicy {
                attempts: 1,
                delay: Duration::from_millis(500)
            }
        );
    }

    #[test]
    fn unset_or_blank_means_the_default() {
        assert_eq!(
            RetryPolicy::from_env_value(None),
            Ok(RetryPolicy::default())
        );
        assert_eq!(
            RetryPolicy::from_env_value(Some(" ".into())),
            Ok(RetryPolicy::default())
        );
        assert!(RetryPolicy::from_env_value(Some("three".into())).is_err());
    }

    #[test]
    fn bad_values_say_what_is_wrong() {
        for (value, reason) in [
            ("3", "expected two numbers"),
            ("3 5 7", "expected two numbers"),
            ("x 5", "not a whole number"),
            ("2.5 5", "not a whole number"),
            ("0 5", "at least 1"),
            ("3 soon", "not a number of seconds"),
            ("3 -1", "non-negative"),
        ] {
            let err = RetryPolicy::parse(value).unwrap_err();
            assert!(
                err.to_string().contains(reason),
                "{value:?} gave {err}, expected {reason:?}"
            );
            assert!(err.to_string().contains("hint: use 'N T'"), "{err}");
        }
    }
}
