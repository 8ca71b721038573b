//! The physical limit: what the scheduler itself costs for N trivial tasks, measured as one SSH
//! session that creates the N input files on the head node, submits them directly, waits
//! (polling `squeue` every [`POLL`]) until none of its jobs is in the queue, and sends the N
//! output files back as one tar stream. Nothing a tool can do over SSH is faster than this.
//!
//! How the tasks are submitted ([`Mode`]): N `sbatch` (a job each); `sbatch --array` (chunked
//! under the site's `MaxArraySize`, read from `scontrol show config`, as xpr chunks); or J
//! jobs, each running its contiguous share of the tasks one after another.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Link, Task};

/// How often the limit's wait loop asks `squeue`.
pub const POLL: &str = "0.2";
/// Polls per second at [`POLL`].
const POLLS_PER_SECOND: u64 = 5;

/// How the limit submits its tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// One `sbatch` per task.
    Individual,
    /// Job arrays, chunked under `MaxArraySize`.
    Array,
    /// This many jobs, each running its share of the tasks in turn.
    Packed(usize),
}

/// The lines that submit the N tasks in `$base/t<i>` (the job script `job.sh` runs the
/// command in its working directory).
fn submit_lines(mode: Mode, n: usize) -> String {
    match mode {
        Mode::Individual => format!(
            r#"i=0
while [ "$i" -lt {n} ]; do
  sbatch --parsable --job-name="$name" --output=/dev/null --chdir="$base/t$i" "$base/job.sh" >/dev/null
  i=$((i+1))
done
"#
        ),
        Mode::Array => format!(
            r#"printf '#!/bin/sh
cd "t$((SLURM_ARRAY_TASK_ID + $1))" && %s
' "$3" > array.sh
max=$(scontrol show config | awk '$1 == "MaxArraySize" {{ print $3 }}')
off=0
while [ "$off" -lt {n} ]; do
  count=$(( {n} - off < max ? {n} - off : max ))
  sbatch --parsable --job-name="$name" --output=/dev/null --chdir="$base" --array=0-$((count - 1)) "$base/array.sh" "$off" >/dev/null
  off=$((off + count))
done
"#
        ),
        Mode::Packed(jobs) => {
            let size = n.div_ceil(jobs.max(1));
            format!(
                r#"printf '#!/bin/sh
for d in "$@"; do (cd "$d" && %s); done
' "$3" > pack.sh
k=0
while [ $((k * {size})) -lt {n} ]; do
  set --
  i=$((k * {size}))
  while [ "$i" -lt $(( (k + 1) * {size} )) ] && [ "$i" -lt {n} ]; do set -- "$@" "t$i"; i=$((i+1)); done
  sbatch --parsable --job-name="$name" --output=/dev/null --chdir="$base" "$base/pack.sh" "$@" >/dev/null
  k=$((k+1))
done
"#
            )
        }
    }
}

/// The shell script the limit's SSH session runs (`sh -s BASE NAME COMMAND` on stdin).
fn script(mode: Mode, tasks: &[Task], timeout: Duration) -> String {
    let mut s = String::from(
        r#"set -eu
base=$HOME/$1
name=$2
mkdir -p "$base"
cd "$base"
printf '#!/bin/sh\n%s\n' "$3" > job.sh
"#,
    );
    for (i, task) in tasks.iter().enumerate() {
        // Contents are the bench's own ASCII words (see `Task::input`): no quoting needed
        // beyond the single quotes.
        s.push_str(&format!(
            "mkdir t{i} && printf '%s' '{}' > t{i}/in.txt\n",
            task.input
        ));
    }
    s.push_str(&submit_lines(mode, tasks.len()));
    s.push_str(&format!(
        r#"polls=0
while [ -n "$(squeue --noheader --name="$name" --user="$(id -un)" --format=%i)" ]; do
  polls=$((polls+1))
  [ "$polls" -le {max_polls} ] || {{ echo "the queue did not empty within {timeout} s" >&2; exit 1; }}
  sleep {POLL}
done
exec tar -c -f - t*/out.txt
"#,
        timeout = timeout.as_secs(),
        max_polls = timeout.as_secs() * POLLS_PER_SECOND,
    ));
    s
}

/// Runs the limit for `tasks` over `link` under `~/<remote_dir>`; returns its wall time after
/// checking every output came back. Gives up when the queue has not emptied after `timeout`.
pub fn run(
    link: &Link,
    mode: Mode,
    remote_dir: &str,
    job_name: &str,
    command: &str,
    tasks: &[Task],
    timeout: Duration,
) -> Result<Duration, String> {
    let script = script(mode, tasks, timeout);
    let started = Instant::now();
    let mut child = Command::new("ssh")
        .arg("-F")
        .arg(&link.ssh_config)
        .arg("xpr-local")
        .args(["sh", "-s", remote_dir, job_name])
        .arg(shell_word(command))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting ssh: {e}"))?;
    let mut stdin = child.stdin.take().expect("piped");
    let writer = std::thread::spawn(move || stdin.write_all(script.as_bytes()));
    let out = child
        .wait_with_output()
        .map_err(|e| format!("waiting for ssh: {e}"))?;
    let elapsed = started.elapsed();
    let _ = writer.join();
    if !out.status.success() {
        return Err(format!(
            "the limit's ssh session failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let mut archive = tar::Archive::new(&out.stdout[..]);
    let mut found = 0;
    for entry in archive.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let path = entry.path().map_err(|e| e.to_string())?.into_owned();
        let index: usize = path
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str()?.strip_prefix('t')?.parse().ok())
            .ok_or_else(|| format!("unexpected entry {path:?} in the limit's tar"))?;
        let mut text = String::new();
        std::io::Read::read_to_string(&mut entry, &mut text).map_err(|e| e.to_string())?;
        if tasks.get(index).map(|t| t.expected()) != Some(text) {
            return Err(format!("limit: wrong output for task {index}"));
        }
        found += 1;
    }
    if found != tasks.len() {
        return Err(format!(
            "limit: {found} of {} outputs came back",
            tasks.len()
        ));
    }
    Ok(elapsed)
}

/// `word` quoted for the remote login shell (ssh joins its arguments with spaces).
pub fn shell_word(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}
