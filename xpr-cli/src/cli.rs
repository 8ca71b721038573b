//! Command-line arguments (clap types only; no behaviour).

use clap::{Args, Parser, Subcommand};

const AFTER_HELP: &str = "\
Configuration: ExPyRe's config.json, found in $EXPYRE_ROOT, or in .expyre/ or _expyre/ folders
from the current directory up to $HOME, plus ~/.expyre; the built-in system `local` needs none.

Exit codes: 0 success, 1 error, 2 bad usage, 3 configuration error, 4 no partition fits the request.";

/// Run work on HPC clusters from a laptop.
#[derive(Debug, Parser)]
#[command(name = "xpr", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the configured systems: scheduler, host and partitions.
    Systems(JsonFlag),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Find the partition and node counts for a request, and show the job header.
    Nodes(NodesArgs),
    /// Open a long-lived SSH master connection to a system by hand (for clusters with
    /// two-factor login); later xpr runs reuse it instead of connecting themselves.
    Connect(SystemArg),
    /// Close the master connection opened with `xpr connect`.
    Disconnect(SystemArg),
    /// List tasks in the jobs DB.
    Ls(LsArgs),
    /// Check the jobs DB can be written, waiting for live writers, and fold its write-ahead log
    /// back into the file (never replaces the file under other processes).
    #[command(name = "db_unlock", alias = "db-unlock")]
    DbUnlock(DbArgs),
}

/// Where the jobs DB is.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// The jobs DB file (default: `jobs.db` in the stage root of the config).
    #[arg(long, value_name = "FILE")]
    pub dbfile: Option<std::path::PathBuf>,
}

/// ExPyRe's task filters.
#[derive(Debug, Args)]
pub struct FilterArgs {
    /// Task id regexps (each matches a whole id), comma-separated.
    #[arg(
        short = 'i',
        long = "id",
        value_name = "RE[,RE...]",
        value_delimiter = ','
    )]
    pub ids: Vec<String>,
    /// Task name regexps, comma-separated.
    #[arg(
        short = 'n',
        long = "name",
        value_name = "RE[,RE...]",
        value_delimiter = ','
    )]
    pub names: Vec<String>,
    /// Statuses or groups (`ongoing`, `can_produce_results`), comma-separated.
    #[arg(
        short = 's',
        long = "status",
        value_name = "S[,S...]",
        value_delimiter = ','
    )]
    pub statuses: Vec<String>,
    /// System regexps, comma-separated.
    #[arg(
        short = 'S',
        long = "system",
        value_name = "RE[,RE...]",
        value_delimiter = ','
    )]
    pub systems: Vec<String>,
}

/// `xpr ls ...`
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Which tasks.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Long form: also run dirs, node and reason.
    #[arg(short = 'l', long)]
    pub long: bool,
    /// Print JSON records.
    #[arg(long)]
    pub json: bool,
    /// Where the jobs DB is.
    #[command(flatten)]
    pub db: DbArgs,
}

/// A system name alone.
#[derive(Debug, Args)]
pub struct SystemArg {
    /// The system, as named in config.json.
    pub system: String,
}

/// `--json` alone.
#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `xpr config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Load and validate the configuration; print the merged result and where each system came
    /// from, or every error.
    Check(JsonFlag),
}

/// `xpr nodes ...`
#[derive(Debug, Args)]
pub struct NodesArgs {
    /// The system, as named in config.json (or `local`).
    pub system: String,
    /// Longest run time: seconds, `30m`, `4h`, `2d`, `HH:MM:SS` or `D-HH:MM:SS`.
    #[arg(long, value_name = "T")]
    pub max_time: String,
    /// Whole nodes to use.
    #[arg(
        long,
        value_name = "N",
        required_unless_present = "num_cores",
        conflicts_with = "num_cores"
    )]
    pub num_nodes: Option<u32>,
    /// Cores to use (a whole number of nodes unless --no-exact-fit or --partial-node).
    #[arg(long, value_name = "N")]
    pub num_cores: Option<u32>,
    /// Memory for the whole job, e.g. `64GB`.
    #[arg(long, value_name = "M", conflicts_with = "max_mem_per_core")]
    pub max_mem_tot: Option<String>,
    /// Memory per core, e.g. `2GB`.
    #[arg(long, value_name = "M")]
    pub max_mem_per_core: Option<String>,
    /// Regular expressions, each matching a whole partition name; comma-separated.
    #[arg(long, value_name = "RE[,RE...]", value_delimiter = ',')]
    pub partitions: Vec<String>,
    /// Allow core counts that are not a whole number of nodes (rounded up to whole nodes).
    #[arg(long)]
    pub no_exact_fit: bool,
    /// Allow one partly used node with exactly the cores asked.
    #[arg(long)]
    pub partial_node: bool,
    /// Print JSON: {"partition", "num_nodes", "num_cores", "num_cores_per_node", "header"}.
    #[arg(long)]
    pub json: bool,
}
