//! Newtype identifiers, so that a system name, a task id and a scheduler's job id can never be
//! passed for one another.

use std::fmt;

use rusqlite::types::{FromSql, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::{Deserialize, Serialize};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a string as this identifier (no validation: see the module that produces it).
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        /// Stored as its text in the jobs DB.
        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::Borrowed(ValueRef::Text(self.0.as_bytes())))
            }
        }

        /// Read back from its text in the jobs DB.
        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                value.as_str().map(Self::new)
            }
        }
    };
}

string_id!(
    /// The name of a system in the config (`"archer2"`, `"local"`).
    SystemName
);
string_id!(
    /// xpr's own identifier of a task; carried in the scheduler's job name.
    TaskId
);
string_id!(
    /// xpr's identifier of a job that runs several tasks (an array chunk or a pack): its
    /// scheduler job name and the name of its remote dir `grp_<id>`.
    GroupId
);
string_id!(
    /// The identifier a scheduler gave a submitted job (`"123"`, `"2_[0-4]"`, `"9830192.1-5:1"`).
    SchedulerJobId
);
