//! Command-line arguments (clap types only; no behaviour).

use clap::{Args, Parser, Subcommand};

const AFTER_HELP: &str = "\
Configuration: ExPyRe's config.json, found in $EXPYRE_ROOT, or in .expyre/ or _expyre/ folders
from the current directory up to $HOME, plus ~/.expyre; the built-in system `local` needs none.
A config with problems stops only what needs it: the jobs DB, a task's results and logs, and the
built-in `local` system stay usable, with a warning naming each problem.

Exit codes: 0 success (also when stdout is closed early, as by `| head`), 1 error, 2 bad usage
(including values that do not parse, unknown statuses, a missing filter), 3 configuration error,
4 no partition fits the request, 5 a task failed without an exit code of its own (or its expected
outputs could not be delivered); `xpr run` exits with the job's exit code when it has one.";

/// Run work on HPC clusters from a laptop.
#[derive(Debug, Parser)]
#[command(name = "xpr", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Say more on stderr: -v what the engine decides (retries, site limits, warnings), -vv
    /// also each remote command with its duration and each poll round, -vvv everything.
    /// ExPyRe's EXPYRE_TIMING_VERBOSE=1 is -vv; RUST_LOG, when set, wins over both.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a shell completion script: `source <(xpr completions bash)`, or save it where
    /// your shell loads completions (zsh: a file `_xpr` on $fpath; fish:
    /// ~/.config/fish/completions/xpr.fish).
    Completions(CompletionsArgs),
    /// Write the man pages: xpr.1 and one per subcommand (xpr-run.1 ...) into DIR, or xpr.1
    /// alone on stdout (`xpr man | man -l -`).
    Man(ManArgs),
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
    /// Find out which scheduler a host runs (Slurm, PBS Pro, Torque, Grid Engine, LSF, or
    /// none) and its partitions, and print a ready `systems` entry, or add it to a config file.
    #[command(after_help = DISCOVER_AFTER_HELP)]
    Discover(DiscoverArgs),
    /// Check that systems are ready for xpr: config, SSH, a clean login shell, the scheduler's
    /// commands and accounting, the run dir and its free space, the partitions against the
    /// cluster's, clock skew; each pass / warn / fail with a hint (exit 1 when one fails).
    Doctor(DoctorArgs),
    /// List tasks in the jobs DB.
    Ls(LsArgs),
    /// Check the jobs DB can be written, waiting for live writers, and fold its write-ahead log
    /// back into the file (never replaces the file under other processes).
    #[command(name = "db_unlock", alias = "db-unlock")]
    DbUnlock(DbArgs),
    /// Write every task of the jobs DB, with its dependencies, attempts and history, as one
    /// JSON document (schema: schemas/export.schema.json), to FILE or stdout.
    #[command(after_help = EXPORT_AFTER_HELP)]
    Export(ExportArgs),
    /// Run a command as a task and wait: outputs land here (or --dest; a different file of the
    /// same name there is kept as NAME.~N~), its stdout and stderr are printed, and xpr exits
    /// with the job's exit code.
    Run(RunArgs),
    /// Submit a command as a task and return at once, printing the task id.
    Submit(TaskArgs),
    /// Submit a parameter sweep: one task per point of a grid (`-p`), a zip (`--zip`) or a
    /// points file (`--points`), as separate jobs, job arrays or packed into few jobs.
    /// Re-running the same sweep submits only the points with no usable result.
    #[command(after_help = SWEEP_AFTER_HELP)]
    Sweep(SweepArgs),
    /// Ask the schedulers once about ongoing tasks, bring back finished ones, and list tasks.
    Status(SelectArgs),
    /// Follow tasks until they finish.
    Wait(WaitArgs),
    /// A live view of every system in the terminal: counts per state, the tasks running now,
    /// the latest failures; keys to filter, read a task's logs and cancel it. Follows the
    /// tasks meanwhile, as `xpr status` does once.
    Top(TopArgs),
    /// Ask the schedulers once and bring back the outputs of finished tasks.
    Sync(SelectArgs),
    /// A task's status, end state, exit code, attempts, run dir, why it failed (the
    /// scheduler's words, run time, peak memory, error lines of its logs) and the tails of its
    /// stdout and stderr.
    Results(ResultsArgs),
    /// A task's whole stdout and stderr (of its latest attempt, or of `--attempt N`).
    Logs(LogsArgs),
    /// Cancel tasks through their scheduler.
    Cancel(SelectArgs),
    /// Run failed or died tasks again as a new attempt (the old attempt's logs are kept).
    Retry(SelectArgs),
    /// Remove tasks' run directories, remote and local (never the inputs you gave), and the
    /// directories of the arrays and packs whose tasks are all cleaned; with --orphans, list
    /// the run dirs no task owns (left by `xpr rm` without -c), and remove them with -y.
    Clean(CleanArgs),
    /// Mark tasks processed: their results are used; an identical task will run anew.
    #[command(name = "mark_processed", alias = "mark-processed")]
    MarkProcessed(SelectArgs),
    /// Remove tasks from the jobs DB.
    Rm(RmArgs),
    /// Set tasks' status by hand (e.g. back to `created` to run again).
    #[command(name = "reset_status", alias = "reset-status")]
    ResetStatus(ResetArgs),
}

/// Where the jobs DB is.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// The jobs DB file (default: `jobs.db` in the stage root of the config).
    #[arg(long, value_name = "FILE")]
    pub dbfile: Option<std::path::PathBuf>,
}

const EXPORT_AFTER_HELP: &str = "\
The document holds exported_at (RFC 3339, UTC), total (the number of tasks) and tasks, each with
its status, end state, identity, stored spec, dependencies, attempts and history. It is read in one
snapshot: an export taken while `xpr wait` runs shows one state of the DB, never half of two.

FILE is written whole or not at all (a temporary file in its directory, renamed into place), and
an existing FILE is never replaced unless --force is given.

Examples:
  xpr export state.json
  xpr export | jq '.tasks[] | {name, status, attempts: (.attempts | length)}'";

/// `xpr export ...`
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The file to write; none, or `-`, prints to stdout.
    #[arg(value_name = "FILE")]
    pub file: Option<std::path::PathBuf>,
    /// Replace FILE if it exists.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Where the jobs DB is.
    #[command(flatten)]
    pub db: DbArgs,
}

const SWEEP_AFTER_HELP: &str = "\
Each point's parameters reach the task as {name} placeholders in the command and the task name
(substituted as whole quoted words, never pasted into a shell line) and as a JSON object in
$XPR_ARGS_FILE. Tasks are named NAME-<index> unless --name gives a template such as
'train-{lr}'. A point whose task already has a usable result (or is running) is not submitted
again: a sweep re-run after an interruption, or after adding points, submits only what is
missing.

Examples:
  xpr sweep lr -m archer2 -p lr=0.1,0.01,0.001 -p seed=@range(0,5) --pack 8 -- python train.py --lr {lr} --seed {seed}
  xpr sweep fit --points points.csv --array -i data.xyz -o out.json -- ./fit {structure}
  xpr ls --sweep lr; xpr wait --sweep lr; xpr cancel --sweep lr";

/// How tasks reach the scheduler: `--array`, `--pack K` or `--jobs J` (default: a job each).
#[derive(Debug, Args, Clone)]
pub struct SubmissionArgs {
    /// Submit the tasks as job arrays (chunked under the site's array size limit); on a
    /// scheduler without arrays (local) as jobs of their own.
    #[arg(long, conflicts_with_all = ["pack", "jobs"])]
    pub array: bool,
    /// Pack K tasks into each job (run as many at once as the job's cores allow).
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..), conflicts_with = "jobs")]
    pub pack: Option<u32>,
    /// Pack the tasks into J jobs.
    #[arg(long, value_name = "J", value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
}

/// `xpr sweep NAME ...`
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The sweep's name (`xpr ls --sweep NAME`); re-running a sweep of that name submits only
    /// the points it lacks results for.
    #[arg(value_name = "NAME")]
    pub sweep: String,
    /// A parameter and its values, `NAME=V1,V2,...` or `NAME=@range(START,STOP[,STEP])`
    /// (repeatable); values that parse as JSON numbers or booleans are those, else strings.
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUES")]
    pub params: Vec<String>,
    /// Pair the parameters' values up (all lists the same length) instead of taking every
    /// combination.
    #[arg(long, requires = "params")]
    pub zip: bool,
    /// Points from a file: a JSON list of objects (.json), JSON lines (.jsonl), or CSV with a
    /// header row (.csv).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["params", "zip"])]
    pub points: Option<std::path::PathBuf>,
    /// How the tasks reach the scheduler.
    #[command(flatten)]
    pub submission: SubmissionArgs,
    /// Wait for every task of the sweep, with a progress line per system.
    #[arg(long)]
    pub wait: bool,
    /// The task (its name is a template: default `NAME-{index}`).
    #[command(flatten)]
    pub task: TaskArgs,
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
    /// Only the tasks of this sweep.
    #[arg(long, value_name = "NAME")]
    pub sweep: Option<String>,
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
    /// Only the N newest of the tasks that match (still listed oldest first).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Print JSON records.
    #[arg(long)]
    pub json: bool,
    /// Where the jobs DB is.
    #[command(flatten)]
    pub db: DbArgs,
}

/// `xpr completions SHELL`
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `xpr man [DIR]`
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Where to write the pages (created if missing); none: xpr.1 on stdout.
    pub dir: Option<std::path::PathBuf>,
}

const DISCOVER_AFTER_HELP: &str = "\
One round trip runs every scheduler's commands (sinfo and scontrol; qstat -Q -f and pbsnodes -a;
qconf -sq and qhost -q; bqueues -l and lshosts -w); a scheduler counts when its commands answer.
Cores and memory per node are the least among a partition's nodes, capped by its limits; what was
left out or rounded is printed on stderr. Without --write the entry is printed on stdout as
{\"systems\": {NAME: {...}}}; with --write FILE it is added to FILE (created if missing), keeping
everything else, written whole or not at all.

Examples:
  xpr discover login.cluster.ac.uk --name mycluster
  xpr discover hpc --remsh-cmd \"ssh -F ~/.ssh/hpc_config\" --write ~/.expyre/config.json
  xpr discover localhost --scheduler local";

/// `xpr discover HOST ...`
#[derive(Debug, Args)]
pub struct DiscoverArgs {
    /// The host: an ssh host (your ssh config applies) or `user@host`; `localhost` or `local`
    /// for this machine (no SSH, `"host": null`).
    pub host: String,
    /// The system's name (default: the host without `user@`; `localhost` for this machine).
    #[arg(long)]
    pub name: Option<String>,
    /// Add the system to this config file (created if missing), keeping what it holds.
    #[arg(long, value_name = "FILE")]
    pub write: Option<std::path::PathBuf>,
    /// Replace a system of the same name in FILE.
    #[arg(long, requires = "write")]
    pub force: bool,
    /// The system's remote run dir (default `run_expyre`, under the remote home).
    #[arg(long, value_name = "DIR")]
    pub rundir: Option<String>,
    /// How to reach the host, e.g. "ssh -F ~/.ssh/hpc_config" (default $EXPYRE_RSH, else
    /// ssh); kept as the system's `remsh_cmd`.
    #[arg(long, value_name = "CMD")]
    pub remsh_cmd: Option<String>,
    /// Look only for this scheduler: slurm, pbs, sge, lsf, or local (no batch system: jobs
    /// run on the host); needed where several answer.
    #[arg(long, value_name = "KIND")]
    pub scheduler: Option<String>,
    /// Print a JSON report (scheduler, version, notes, the entry, the file written).
    #[arg(long)]
    pub json: bool,
}

/// `xpr doctor [SYSTEM...]`
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The systems to check (default: every configured one).
    pub systems: Vec<String>,
    /// Print JSON: a list of {"system", "host", "checks": [{"kind", "outcome", "detail", "hint"}]}.
    #[arg(long)]
    pub json: bool,
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
    /// from, or every problem (each naming its file and JSON path; exit 3).
    Check(JsonFlag),
}

/// A resource request: the flags of `xpr nodes`, shared by `run` and `submit`.
#[derive(Debug, Args, Clone)]
pub struct ResourceArgs {
    /// Longest run time: seconds, `30m`, `4h`, `2d`, `HH:MM:SS` or `D-HH:MM:SS` (default: the
    /// system's `default_max_time`; with no resource flag at all, that or one hour).
    #[arg(long, value_name = "T")]
    pub max_time: Option<String>,
    /// Whole nodes to use.
    #[arg(long, value_name = "N", conflicts_with = "num_cores")]
    pub num_nodes: Option<u32>,
    /// Cores to use (a whole number of nodes unless --no-exact-fit or --partial-node; with
    /// neither --num-cores nor --num-nodes: one core on a node it may share).
    #[arg(long, value_name = "N")]
    pub num_cores: Option<u32>,
    /// Memory for the whole job, e.g. `64GB` (kB as a bare number, ExPyRe's unit). Steers the
    /// node finder; reaches the job where the system has `resource_lines` or a header line
    /// uses `{max_mem_tot}` / `{mem_per_node}`.
    #[arg(
        long,
        visible_alias = "mem",
        value_name = "M",
        conflicts_with = "max_mem_per_core"
    )]
    pub max_mem_tot: Option<String>,
    /// Memory per core, e.g. `2GB` (as --mem for the rest).
    #[arg(long, visible_alias = "mem-per-core", value_name = "M")]
    pub max_mem_per_core: Option<String>,
    /// GPUs per node. Must reach the job: the system needs `resource_lines` or a header
    /// line using `{gpus}` / `{num_gpus}`.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub gpus: Option<u32>,
    /// The account (project) the job is charged to. Must reach the job: the system needs
    /// `resource_lines` or a header line using `{account}`.
    #[arg(long, value_name = "NAME")]
    pub account: Option<String>,
    /// Regular expressions, each matching a whole partition name; comma-separated.
    #[arg(long, value_name = "RE[,RE...]", value_delimiter = ',')]
    pub partitions: Vec<String>,
    /// Allow core counts that are not a whole number of nodes (rounded up to whole nodes).
    #[arg(long)]
    pub no_exact_fit: bool,
    /// Allow one partly used node with exactly the cores asked.
    #[arg(long)]
    pub partial_node: bool,
}

/// `xpr nodes ...` (no flags: what a task that asks for nothing gets).
#[derive(Debug, Args)]
pub struct NodesArgs {
    /// The system, as named in config.json (or `local`).
    pub system: String,
    /// What to ask for.
    #[command(flatten)]
    pub resources: ResourceArgs,
    /// Print JSON: {"partition", "num_nodes", "num_cores", "num_cores_per_node", "header"}.
    #[arg(long)]
    pub json: bool,
}

/// `xpr run ...` and `xpr submit ...`: a task and where to run it.
#[derive(Debug, Args)]
pub struct TaskArgs {
    /// The system to run on (default: the profile's, else $EXPYRE_SYS, else `local`).
    #[arg(long, short = 'm', value_name = "SYSTEM")]
    pub system: Option<String>,
    /// A profile from config.json: its system, resources, header lines and environment are
    /// the defaults (flags given here win).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// What to ask for (default: 1 core, or the profile's resources).
    #[command(flatten)]
    pub resources: ResourceArgs,
    /// An input file, directory or glob (repeatable); relative paths are kept, absolute ones
    /// flattened to their base name.
    #[arg(long = "input", short = 'i', value_name = "PATH")]
    pub inputs: Vec<String>,
    /// An output file or glob to bring back (repeatable); missing ones fail the task. With
    /// `xpr run`, a file of that name already in the destination with other content is kept
    /// as NAME.~N~ (the next free N), one with the same content is left as it is.
    #[arg(long = "output", short = 'o', value_name = "GLOB")]
    pub outputs: Vec<String>,
    /// The task's name (default: the program's name).
    #[arg(long)]
    pub name: Option<String>,
    /// An environment variable for the command (repeatable).
    #[arg(long = "env", short = 'e', value_name = "K=V")]
    pub env: Vec<String>,
    /// JSON arguments, written to xpr_args.json in the run dir ($XPR_ARGS_FILE).
    #[arg(long, value_name = "JSON")]
    pub args: Option<String>,
    /// Run it even if an identical task (same name, command, arguments, environment and
    /// input contents) can still produce results (ExPyRe's `force_rerun`).
    #[arg(long)]
    pub force_rerun: bool,
    /// Print the task's id, run dir, inputs, job script and the remote commands a start
    /// would run, and start nothing (no DB row, no connection). With --json, as JSON.
    #[arg(long)]
    pub dry_run: bool,
    /// Submit only once these tasks (ids or names) succeeded; never if one fails.
    #[arg(long, value_name = "TASK[,TASK...]", value_delimiter = ',')]
    pub after_ok: Vec<String>,
    /// Submit only once these tasks ended without success; never if one succeeds.
    #[arg(long, value_name = "TASK[,TASK...]", value_delimiter = ',')]
    pub after_fail: Vec<String>,
    /// Take the outputs of task PARENT (id or name) matching GLOB as inputs, once it
    /// succeeded (implies --after-ok PARENT); PARENT may run on another system.
    #[arg(long, value_name = "PARENT:GLOB")]
    pub input_from: Vec<String>,
    /// Submit once these tasks ended, however.
    #[arg(long, value_name = "TASK[,TASK...]", value_delimiter = ',')]
    pub after_any: Vec<String>,
    /// Retry at most N times when an attempt ends in a class of `--retry-on` (any retry
    /// flag replaces the profile's or system's retry defaults as a whole).
    #[arg(long, value_name = "N")]
    pub max_retries: Option<u32>,
    /// The ends that retry (default node_fail,preempted,vanished; also timeout,
    /// out_of_memory, failed (a non-zero exit), missing_outputs, no_exit_status, job_failed;
    /// never cancelled).
    #[arg(long, value_name = "CLASS[,CLASS...]", value_delimiter = ',')]
    pub retry_on: Vec<String>,
    /// On a time-limit retry, multiply the run time by F (capped by the partitions).
    #[arg(long, value_name = "F")]
    pub retry_time_factor: Option<f64>,
    /// On an out-of-memory retry, multiply the memory by F (capped by the partitions).
    #[arg(long, value_name = "F")]
    pub retry_mem_factor: Option<f64>,
    /// Print JSON instead of text. With `xpr run`, stdout then holds only the JSON record
    /// (status, exit code, outputs delivered, files kept aside, output tails); the job's stdout
    /// and stderr go to stderr.
    #[arg(long)]
    pub json: bool,
    /// Run this existing batch script instead of a command (python-cluster's `submit_file`):
    /// it is staged as an input and run by its `#!` interpreter in the run dir; its own
    /// `#SBATCH`/`#PBS`/`#$`/`#BSUB` directives are written after xpr's header lines, so its
    /// values win (its job name excepted: xpr finds its jobs by theirs).
    #[arg(long, value_name = "FILE", conflicts_with = "command")]
    pub script: Option<std::path::PathBuf>,
    /// The command and its arguments, after `--`.
    #[arg(
        last = true,
        required_unless_present = "script",
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

/// `xpr run ...`
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The task.
    #[command(flatten)]
    pub task: TaskArgs,
    /// Where the outputs land (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub dest: Option<std::path::PathBuf>,
    /// Give up waiting after this long (the job keeps running).
    #[arg(long, value_name = "T")]
    pub timeout: Option<String>,
}

/// Tasks picked by filters, for commands acting on several.
#[derive(Debug, Args)]
pub struct SelectArgs {
    /// Task ids (exact), in addition to the filters.
    #[arg(value_name = "ID", id = "task_ids")]
    pub task_ids: Vec<String>,
    /// Filters.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Print the tasks acted on as JSON records (a list, each as the library's task record)
    /// instead of lines.
    #[arg(long)]
    pub json: bool,
}

/// `xpr clean ...`
#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Which tasks.
    #[command(flatten)]
    pub select: SelectArgs,
    /// Instead of tasks: the run dirs no task of the jobs DB owns, in the stage root and in
    /// this stage root's remote base on each system (-S picks systems by regexp).
    #[arg(long, conflicts_with_all = ["task_ids", "ids", "names", "statuses", "sweep"])]
    pub orphans: bool,
    /// With --orphans: remove them (without: only list them).
    #[arg(short = 'y', long, requires = "orphans")]
    pub yes: bool,
}

/// `xpr top ...`
#[derive(Debug, Args)]
pub struct TopArgs {
    /// Only systems matching these regexps (each a whole name), comma-separated.
    #[arg(
        short = 'S',
        long = "system",
        value_name = "RE[,RE...]",
        value_delimiter = ','
    )]
    pub systems: Vec<String>,
    /// Only the tasks of this sweep.
    #[arg(long, value_name = "NAME")]
    pub sweep: Option<String>,
    /// How often to ask the schedulers and redraw: `2s`, `1m` ... (at least 1 s).
    #[arg(long, value_name = "T", default_value = "2s")]
    pub interval: String,
}

/// `xpr wait ...`
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Which tasks (default: all ongoing).
    #[command(flatten)]
    pub select: SelectArgs,
    /// Give up after this long.
    #[arg(long, value_name = "T")]
    pub timeout: Option<String>,
    /// Print each task's events as JSON lines as they happen (recorded, released,
    /// submitted, started, retried, ended, never_ran, outputs_local, cancel_requested; each
    /// task's from its recording on), instead of the statuses at the end. Schema:
    /// schemas/events.schema.json.
    #[arg(long, conflicts_with = "json")]
    pub events: bool,
}

/// `xpr rm ...`
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Which tasks (at least one id or filter is required).
    #[command(flatten)]
    pub select: SelectArgs,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Also cancel the jobs and remove their run directories.
    #[arg(short = 'c', long)]
    pub clean: bool,
}

/// `xpr reset_status ...`
#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Which tasks (at least one id or filter is required).
    #[command(flatten)]
    pub select: SelectArgs,
    /// The status to set.
    #[arg(long, default_value = "created", value_name = "STATUS")]
    pub to: String,
}

/// `xpr results`.
#[derive(Debug, Args)]
pub struct ResultsArgs {
    /// The task id (see `xpr ls`).
    pub id: String,
    /// Print JSON (with every attempt) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `xpr logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The task id (see `xpr ls`).
    pub id: String,
    /// The attempt whose logs to show (1, 2 ...; `xpr results ID` lists them); default the
    /// latest.
    #[arg(long, value_name = "N", conflicts_with = "follow")]
    pub attempt: Option<u32>,
    /// Follow a running task's stdout and stderr as they grow (read in its run dir on the
    /// system, once a second), until it finishes.
    #[arg(short = 'f', long)]
    pub follow: bool,
}

/// One task id.
#[derive(Debug, Args)]
pub struct IdArg {
    /// The task id (see `xpr ls`).
    pub id: String,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
