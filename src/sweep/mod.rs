//! Parameter sweeps: a spec expanded into points, and a point's values put into a task.
//!
//! This module is pure (its only I/O is [`load_points`] reading a points file); the CLI and the
//! engine build tasks from what it gives.
//!
//! # Points
//!
//! A [`SweepSpec`] makes [`Point`]s, each an ordered map from parameter name to JSON value plus
//! its index (from 0) in the sweep:
//!
//! - [`SweepSpec::Grid`]: the cartesian product of the parameters' values, the last parameter
//!   varying fastest, as nested `for` loops in the order given: `a=1,2 b=x,y` gives
//!   `(1,x) (1,y) (2,x) (2,y)`.
//! - [`SweepSpec::Zip`]: the i-th values of every parameter together; every list has the same
//!   length.
//! - [`SweepSpec::Points`]: points as listed, usually from a file ([`load_points`]: a JSON
//!   array of objects, JSON lines, or CSV with a header row).
//!
//! One mode per spec. A spec with no parameters, a parameter with no values, two parameters of
//! one name, or a name that is not an identifier (`[A-Za-z_][A-Za-z0-9_]*`, so that `{name}`
//! can stand for it) is an error. [`SweepSpec::len`] counts points without making them;
//! [`SweepSpec::points`] makes them one at a time, so a sweep of 100,000 points is never held
//! whole (beyond a [`SweepSpec::Points`] list itself).
//!
//! Expansion is deterministic: one spec gives the same points, in the same order, with the same
//! JSON values, every time. That matters because the engine recognises a task it has already
//! run by its identity, which hashes the name, the command and the arguments: re-running a
//! sweep must give the same tasks, so that only new or failed points run again.
//!
//! # Putting a point into a task
//!
//! [`Point::to_args`] is the JSON object for the task's `args` (`xpr_args.json`). [`substitute`]
//! replaces `{name}` placeholders in a [`TaskCommand`](crate::task::TaskCommand) by the point's
//! values, [`substitute_str`] in a task name, and [`point_name`] gives the default name
//! `<sweep>-<index>`. See [`substitute`] for the quoting rules.
//!
//! ```
//! use xpr::sweep::{Param, SweepSpec, point_name, substitute};
//! use xpr::task::{TaskCommand, TaskSpec};
//!
//! let spec = SweepSpec::Grid(vec![
//!     Param::parse("lr=0.1,0.01")?,
//!     Param::parse("seed=@range(0,2)")?,
//! ]);
//! assert_eq!(spec.len()?, 4);
//! let template = TaskSpec::shell("train", "python train.py --lr {lr} --seed {seed}");
//! let tasks = spec.points()?.map(|point| {
//!     let mut task = template.clone();
//!     task.name = point_name(&template.name, &point);
//!     task.command = substitute(&template.command, &point)?;
//!     task.args = Some(point.to_args());
//!     Ok(task)
//! });
//! let last = tasks.last().unwrap()?;
//! assert_eq!(last.name, "train-3");
//! assert_eq!(last.command, TaskCommand::Shell("python train.py --lr 0.01 --seed 1".into()));
//! assert_eq!(last.args, Some(serde_json::json!({"lr": 0.01, "seed": 1})));
//! # Ok::<(), xpr::sweep::SweepError>(())
//! ```

mod file;
mod spec;
mod substitute;

use std::path::PathBuf;

pub use file::load_points;
pub use spec::{MAX_RANGE_VALUES, Param, Point, PointIter, SweepSpec, is_param_name};
pub use substitute::{point_name, substitute, substitute_str};

/// A sweep that cannot be expanded or substituted; names the parameter, file or template at
/// fault and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SweepError {
    /// A parameter that is malformed: its CLI form, its name, its values or its range.
    #[error("parameter `{param}`: {why}")]
    BadParam {
        /// The parameter as given (its CLI form, or its name).
        param: String,
        /// What is wrong, with a hint.
        why: String,
    },
    /// Two parameters with one name.
    #[error(
        "parameter `{name}` is given twice (hint: give each parameter once, with all its values: `{name}=v1,v2`)"
    )]
    DuplicateParam {
        /// The repeated name.
        name: String,
    },
    /// A spec with no parameters or no points.
    #[error(
        "the sweep has no {what} (hint: give at least one parameter `name=v1,v2`, or a points file)"
    )]
    Empty {
        /// What is missing: `parameters` or `points`.
        what: &'static str,
    },
    /// Zip parameters whose lists differ in length.
    #[error(
        "a zip sweep takes the i-th value of every parameter, but their lengths differ: {} (hint: give every parameter the same number of values, or sweep a grid)",
        .lengths.iter().map(|(name, n)| format!("{name} has {n}")).collect::<Vec<_>>().join(", ")
    )]
    ZipLengths {
        /// Each parameter's name and number of values, in order.
        lengths: Vec<(String, usize)>,
    },
    /// A grid whose number of points does not fit in a `usize`.
    #[error(
        "the grid over {params} has more points than can be counted (hint: sweep fewer values, or list the points in a file)"
    )]
    TooManyPoints {
        /// The parameters, as `name (n values)`.
        params: String,
    },
    /// A point of a [`SweepSpec::Points`] list that cannot be used.
    #[error("point {index}: {why}")]
    BadPoint {
        /// Its index in the list (from 0).
        index: usize,
        /// What is wrong, with a hint.
        why: String,
    },
    /// A points file that could not be read.
    #[error("cannot read points file {}: {source}", .path.display())]
    ReadPoints {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A points file whose content is wrong: its format, a line, a record or a key.
    #[error("{}{}: {why}", .path.display(), .at.as_deref().map(|at| format!(" {at}")).unwrap_or_default())]
    PointsFile {
        /// The file.
        path: PathBuf,
        /// Where in it (`line 7`, `item 3`), when the fault is in one place.
        at: Option<String>,
        /// What is wrong, with a hint.
        why: String,
    },
    /// A `{name}` placeholder that names no parameter of the point.
    #[error(
        "unknown placeholder {{{name}}} in {template:?}: the point's parameters are {} (hint: write {{{{ and }}}} for literal braces, e.g. `${{{{HOME}}}}` in a shell line)",
        if .known.is_empty() { "none".to_owned() } else { .known.join(", ") }
    )]
    UnknownPlaceholder {
        /// The name between the braces.
        name: String,
        /// The template it is in.
        template: String,
        /// The point's parameter names, in order.
        known: Vec<String>,
    },
    /// A template that does not parse (an unclosed `{`, a lone `}`), or a value that cannot go
    /// into a command.
    #[error("template {template:?}: {why}")]
    BadTemplate {
        /// The template.
        template: String,
        /// What is wrong, with a hint.
        why: String,
    },
}
