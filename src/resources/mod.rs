//! Resource requests, time and memory units, and the node finder.
//!
//! Data flow: a request comes from code (the `Resources` builder methods, which the CLI's
//! `xpr nodes` flags map to) or from an ExPyRe resource dict ([`Resources::from_json`]);
//! [`find_nodes`] matches it against a [`crate::config::System`]'s partitions and returns a
//! [`NodeAllocation`] (partition, nodes, cores) that feeds the header template keys, or a
//! [`NodeFinderError`] listing every partition with the reason it was turned down.
//!
//! - [`request`]: [`Resources`] and how it is read from JSON (the partition regexps included);
//! - [`finder`]: [`find_nodes`], ExPyRe's partition choice with xpr's documented departures.
//!   It depends on `request`, never the other way;
//! - the units (`parse_time`, `parse_mem`, their JSON forms, `format_hms`) are
//!   [`crate::units`], one layer down, re-exported here.
//!
//! Everything here is pure: no I/O.
//!
//! ```
//! use serde_json::json;
//! use xpr::resources::{CountRequest, MemRequest, Resources};
//!
//! let request = Resources::from_json(&json!({
//!     "max_time": "1h", "num_nodes": 1, "max_mem_per_core": "17GB", "partitions": ".*bigmem",
//! }))
//! .unwrap();
//! assert_eq!(request.max_time, Some(3600));
//! assert_eq!(request.count, CountRequest::Nodes(1));
//! assert_eq!(request.mem, Some(MemRequest::PerCore(17 * 1024 * 1024)));
//! assert_eq!(request.partitions, [".*bigmem"]);
//! ```

pub mod finder;
pub mod request;

pub use finder::{
    MemShares, NodeAllocation, NodeFinderError, NodeFinderErrorKind, RejectReason, Rejection,
    find_nodes,
};
pub use request::{
    CountRequest, FALLBACK_MAX_TIME, MemRequest, Resources, ResourcesError, check_account,
};
// The units live below the config (which reads `max_time` and `max_mem` with them); they
// stay reachable here, as `xpr::resources::units` and `xpr::resources::parse_time`, for code
// written before they moved.
pub use crate::units::{
    self, UnitError, format_hms, format_mem, format_mem_exact, mem_from_json, parse_mem,
    parse_time, time_from_json,
};
