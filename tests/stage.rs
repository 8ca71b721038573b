//! Staging through the public API: inputs round-trip byte for byte through a tar stream, and
//! hostile tar streams are refused without writing outside the extraction root.

use std::fs;
use std::path::Path;

use xpr::stage::{StageDir, StageError, extract_tar, plan_inputs, write_tar};

fn write(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

#[test]
fn inputs_round_trip_with_hostile_names_dirs_globs_and_absolute_paths() {
    let src = tempfile::tempdir().unwrap();
    let base = src.path().join("project");
    let hostile = "it's a \"file\" $(touch pwned) `x`\nline2.txt";
    write(&base.join(hostile), b"hostile");
    write(&base.join("data/sub/a.bin"), &[0u8, 255, 10, 13]);
    write(&base.join("g1.xyz"), b"one");
    write(&base.join("g2.xyz"), b"two");
    let elsewhere = src.path().join("elsewhere/abs input.dat");
    write(&elsewhere, b"absolute");

    let inputs = vec![
        hostile.to_owned(),
        "data".to_owned(),
        "*.xyz".to_owned(),
        elsewhere.to_string_lossy().into_owned(),
    ];
    let plan = plan_inputs(&base, &inputs).unwrap();
    let stream = write_tar(Vec::new(), &[StageDir::of_inputs("run_t1", plan)]).unwrap();

    let dest = tempfile::tempdir().unwrap();
    let files = extract_tar(stream.as_slice(), dest.path()).unwrap();
    let run = dest.path().join("run_t1");
    assert_eq!(fs::read(run.join(hostile)).unwrap(), b"hostile");
    assert_eq!(
        fs::read(run.join("data/sub/a.bin")).unwrap(),
        [0u8, 255, 10, 13]
    );
    assert_eq!(fs::read(run.join("g1.xyz")).unwrap(), b"one");
    assert_eq!(fs::read(run.join("g2.xyz")).unwrap(), b"two");
    // Absolute inputs are flattened to their base name (ExPyRe's rule).
    assert_eq!(fs::read(run.join("abs input.dat")).unwrap(), b"absolute");
    assert_eq!(files.len(), 5);
    assert!(!dest.path().join("pwned").exists() && !run.join("pwned").exists());
}

/// Files xpr makes (the job script, the arguments) travel from memory next to the inputs,
/// private to the run dir's owner only through the run dir: readable, never executable.
#[test]
fn files_from_memory_travel_with_the_inputs() {
    use std::os::unix::fs::PermissionsExt;
    let src = tempfile::tempdir().unwrap();
    write(&src.path().join("in.txt"), b"input");
    let dir = StageDir {
        name: "run_t2".into(),
        written: vec![("xpr_job.sh".into(), b"#!/bin/sh\necho hi\n".to_vec())],
        inputs: plan_inputs(src.path(), &["in.txt".into()]).unwrap(),
    };
    let stream = write_tar(Vec::new(), &[dir]).unwrap();
    let dest = tempfile::tempdir().unwrap();
    let files = extract_tar(stream.as_slice(), dest.path()).unwrap();
    let run = dest.path().join("run_t2");
    assert_eq!(
        fs::read(run.join("xpr_job.sh")).unwrap(),
        b"#!/bin/sh\necho hi\n"
    );
    assert_eq!(fs::read(run.join("in.txt")).unwrap(), b"input");
    let mode = fs::metadata(run.join("xpr_job.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, xpr::stage::WRITTEN_FILE_MODE);
    assert_eq!(files.len(), 2);
    // A stream naming a file to write outside its run dir is refused.
    let bad = StageDir {
        name: "run_t3".into(),
        written: vec![("../evil".into(), Vec::new())],
        inputs: Vec::new(),
    };
    assert!(write_tar(Vec::new(), &[bad]).is_err());
}

/// The stream is read to its end, past the archive's end (tar pads to a whole record; a
/// sender of more would otherwise see a broken pipe), also when an entry is refused.
#[test]
fn extraction_reads_its_input_to_the_end() {
    let src = tempfile::tempdir().unwrap();
    write(&src.path().join("in.txt"), b"x");
    let plan = plan_inputs(src.path(), &["in.txt".into()]).unwrap();
    let mut stream = write_tar(Vec::new(), &[StageDir::of_inputs("run_t5", plan)]).unwrap();
    stream.extend(std::iter::repeat_n(0u8, 100_000));
    let dest = tempfile::tempdir().unwrap();
    let mut input = std::io::Cursor::new(stream.clone());
    extract_tar(&mut input, dest.path()).unwrap();
    assert_eq!(input.position() as usize, stream.len());
    // Refused: a link out of the run dir, then more bytes.
    let mut bad = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Symlink);
    header.set_size(0);
    bad.append_link(&mut header, "run_t6/evil", "/etc/hostname")
        .unwrap();
    let mut bad = bad.into_inner().unwrap();
    bad.extend(std::iter::repeat_n(0u8, 100_000));
    let mut input = std::io::Cursor::new(bad.clone());
    assert!(extract_tar(&mut input, dest.path()).is_err());
    assert_eq!(input.position() as usize, bad.len());
}

/// What `keep` leaves out is read past (and still checked); what it keeps is written, with
/// the directories it needs.
#[test]
fn extraction_leaves_out_what_keep_refuses() {
    let src = tempfile::tempdir().unwrap();
    write(&src.path().join("data/a.txt"), b"a");
    write(&src.path().join("data/b.txt"), b"b");
    write(&src.path().join("top.txt"), b"t");
    let plan = plan_inputs(src.path(), &["data".into(), "top.txt".into()]).unwrap();
    let stream = write_tar(Vec::new(), &[StageDir::of_inputs("run_t4", plan)]).unwrap();
    let dest = tempfile::tempdir().unwrap();
    let mut asked = Vec::new();
    let files = xpr::stage::extract_tar_keeping(stream.as_slice(), dest.path(), &mut |p, _| {
        asked.push(p.to_path_buf());
        p != Path::new("run_t4/data") && p != Path::new("run_t4/data/a.txt")
    })
    .unwrap();
    let run = dest.path().join("run_t4");
    assert!(!run.join("data/a.txt").exists());
    assert_eq!(fs::read(run.join("data/b.txt")).unwrap(), b"b");
    assert_eq!(fs::read(run.join("top.txt")).unwrap(), b"t");
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(asked.contains(&Path::new("run_t4/data/a.txt").to_path_buf()));
    // The run dir itself is never asked about: it always comes.
    assert!(!asked.contains(&Path::new("run_t4").to_path_buf()));
}

#[test]
fn a_missing_input_or_empty_glob_is_named() {
    let base = tempfile::tempdir().unwrap();
    let err = plan_inputs(base.path(), &["nope.txt".into()]).unwrap_err();
    assert!(matches!(err, StageError::MissingInput { .. }));
    assert!(err.to_string().contains("\"nope.txt\""), "{err}");
    let err = plan_inputs(base.path(), &["*.none".into()]).unwrap_err();
    assert!(err.to_string().contains("*.none"), "{err}");
}

#[test]
fn two_inputs_flattened_to_one_name_collide() {
    let src = tempfile::tempdir().unwrap();
    let a = src.path().join("a/x.txt");
    let b = src.path().join("b/x.txt");
    write(&a, b"a");
    write(&b, b"b");
    let inputs = [
        a.to_string_lossy().into_owned(),
        b.to_string_lossy().into_owned(),
    ];
    let err = plan_inputs(src.path(), &inputs).unwrap_err();
    assert!(matches!(err, StageError::Collision { .. }), "{err}");
}

#[test]
fn relative_inputs_may_not_climb_out_of_their_base() {
    let src = tempfile::tempdir().unwrap();
    write(&src.path().join("outside.txt"), b"x");
    let base = src.path().join("project");
    fs::create_dir_all(&base).unwrap();
    let err = plan_inputs(&base, &["../outside.txt".into()]).unwrap_err();
    assert!(matches!(err, StageError::UnsafePath { .. }), "{err}");
}

/// A raw ustar header with any name, bypassing the tar crate's own checks, as a hostile
/// remote end could send.
fn raw_entry(name: &str, kind: tar::EntryType, link: &str, data: &[u8]) -> Vec<u8> {
    entry_bytes(name, kind, link, 0o644, data)
}

/// [`raw_entry`] with any mode.
fn entry_bytes(name: &str, kind: tar::EntryType, link: &str, mode: u32, data: &[u8]) -> Vec<u8> {
    let mut header = tar::Header::new_ustar();
    {
        let old = header.as_old_mut();
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    header.set_entry_type(kind);
    header.set_size(data.len() as u64);
    header.set_mode(mode);
    header.set_cksum();
    let mut out = header.as_bytes().to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

/// [`raw_entry`] of a file or directory with another mode.
fn raw_entry_with_mode(name: &str, kind: tar::EntryType, mode: u32, data: &[u8]) -> Vec<u8> {
    entry_bytes(name, kind, "", mode, data)
}

fn archive(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut out: Vec<u8> = entries.concat();
    out.extend_from_slice(&[0u8; 1024]);
    out
}

fn assert_refused(entries: &[Vec<u8>], expect: &str) {
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("root");
    let err = extract_tar(archive(entries).as_slice(), &root)
        .err()
        .unwrap_or_else(|| panic!("accepted a stream that should fail with {expect:?}"));
    assert!(
        err.to_string().contains(expect),
        "expected {expect:?} in: {err}"
    );
    // Nothing landed beside the root.
    let siblings: Vec<_> = fs::read_dir(outer.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(siblings, ["root"], "something was written outside the root");
}

#[test]
fn hostile_tar_entries_are_refused() {
    use tar::EntryType;
    assert_refused(
        &[raw_entry("../escape.txt", EntryType::Regular, "", b"x")],
        "contains `..`",
    );
    assert_refused(
        &[raw_entry(
            "a/../../escape.txt",
            EntryType::Regular,
            "",
            b"x",
        )],
        "contains `..`",
    );
    assert_refused(
        &[raw_entry("/tmp/escape.txt", EntryType::Regular, "", b"x")],
        "is absolute",
    );
    assert_refused(
        &[raw_entry("out", EntryType::Symlink, "../", b"")],
        "leading out",
    );
    assert_refused(
        &[raw_entry("abs", EntryType::Symlink, "/etc/passwd", b"")],
        "leading out",
    );
    assert_refused(
        &[raw_entry("hard", EntryType::Link, "/etc/passwd", b"")],
        "link",
    );
    assert_refused(&[raw_entry("fifo", EntryType::Fifo, "", b"")], "fifo");
    // Chained links: each points inside, together they lead out.
    assert_refused(
        &[
            raw_entry("d/up", EntryType::Symlink, "..", b""),
            raw_entry("esc", EntryType::Symlink, "d/up/..", b""),
        ],
        "through another link",
    );
    // A link to a directory planted first, then a file written "through" it.
    assert_refused(
        &[
            raw_entry("sub", EntryType::Symlink, ".", b""),
            raw_entry("sub/x.txt", EntryType::Regular, "", b"x"),
        ],
        "on its way is a link",
    );
}

/// Run dirs coming back (`extract_tar_keeping`) hold what jobs made: a link to a shared data
/// set, a hard link, a FIFO are left out (nothing is made for them, nothing is written
/// outside the root), and the rest of the stream still lands; a hostile name still fails it.
#[test]
fn what_a_job_can_make_but_is_not_unpacked_is_left_out_of_run_dirs_coming_back() {
    use tar::EntryType;
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("root");
    let entries = [
        raw_entry(
            "run_a/data.h5",
            EntryType::Symlink,
            "/scratch/shared/data.h5",
            b"",
        ),
        raw_entry("run_a/up", EntryType::Symlink, "../../x", b""),
        raw_entry("run_a/hard", EntryType::Link, "run_a/out.txt", b""),
        raw_entry("run_a/fifo", EntryType::Fifo, "", b""),
        raw_entry("run_a/d/up", EntryType::Symlink, "..", b""),
        raw_entry("run_a/esc", EntryType::Symlink, "d/up/..", b""),
        raw_entry("run_a/out.txt", EntryType::Regular, "", b"result"),
        raw_entry("run_b/out.txt", EntryType::Regular, "", b"other"),
    ];
    let files =
        xpr::stage::extract_tar_keeping(archive(&entries).as_slice(), &root, &mut |_, _| true)
            .unwrap();
    assert_eq!(fs::read(root.join("run_a/out.txt")).unwrap(), b"result");
    assert_eq!(fs::read(root.join("run_b/out.txt")).unwrap(), b"other");
    assert_eq!(files.len(), 2, "{files:?}");
    for left_out in ["data.h5", "up", "hard", "fifo", "esc"] {
        assert!(
            root.join("run_a")
                .join(left_out)
                .symlink_metadata()
                .is_err(),
            "{left_out} was made"
        );
    }
    let siblings: Vec<_> = fs::read_dir(outer.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(siblings, ["root"], "something was written outside the root");
    // Hostile names still fail the stream.
    let bad = [raw_entry("../escape.txt", EntryType::Regular, "", b"x")];
    let err = xpr::stage::extract_tar_keeping(archive(&bad).as_slice(), &root, &mut |_, _| true)
        .unwrap_err();
    assert!(err.to_string().contains("contains `..`"), "{err}");
}

#[test]
fn links_inside_the_run_dir_are_kept() {
    use tar::EntryType;
    let root = tempfile::tempdir().unwrap();
    let entries = [
        raw_entry("data/big.dat", EntryType::Regular, "", b"payload"),
        raw_entry("latest.dat", EntryType::Symlink, "data/big.dat", b""),
    ];
    extract_tar(archive(&entries).as_slice(), root.path()).unwrap();
    assert_eq!(
        fs::read(root.path().join("latest.dat")).unwrap(),
        b"payload"
    );
}

/// The streamed form packs on another thread into a pipe: read through it, the stream is the
/// same tar as `write_tar`'s, and a vanished input shows in `finish`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tar_stream_is_read_as_it_is_packed_and_reports_packing_errors() {
    use tokio::io::AsyncReadExt;
    use xpr::stage::TarStream;

    let src = tempfile::tempdir().unwrap();
    let base = src.path().join("project");
    // Bigger than the pipe and the packer's buffer, so both sides must take turns.
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    write(&base.join("big.bin"), &big);
    write(&base.join("dir/small.txt"), b"small");
    let entries = plan_inputs(&base, &["big.bin".to_owned(), "dir".to_owned()]).unwrap();
    let groups = vec![StageDir::of_inputs("run_x", entries)];

    let mut stream = TarStream::spawn(groups.clone()).unwrap();
    let mut bytes = Vec::new();
    stream.reader().read_to_end(&mut bytes).await.unwrap();
    stream.finish().await.unwrap();
    assert_eq!(bytes, write_tar(Vec::new(), &groups).unwrap());
    let out = tempfile::tempdir().unwrap();
    extract_tar(&bytes[..], out.path()).unwrap();
    assert_eq!(fs::read(out.path().join("run_x/big.bin")).unwrap(), big);
    assert_eq!(
        fs::read(out.path().join("run_x/dir/small.txt")).unwrap(),
        b"small"
    );

    fs::remove_file(base.join("big.bin")).unwrap();
    let mut stream = TarStream::spawn(groups).unwrap();
    let mut bytes = Vec::new();
    stream.reader().read_to_end(&mut bytes).await.unwrap();
    let err = stream.finish().await.unwrap_err();
    assert!(err.to_string().contains("big.bin"), "{err}");
}

/// Outputs keep the modes the job gave them, whatever this process's umask, without setuid,
/// setgid or sticky bits; a run dir is private whatever the stream says; and a directory
/// without write permission neither blocks the entries after it nor stays closed to xpr.
#[test]
fn extraction_keeps_modes_but_no_setuid_and_keeps_run_dirs_private() {
    use std::os::unix::fs::PermissionsExt;
    use tar::EntryType;
    let root = tempfile::tempdir().unwrap();
    let entries = [
        raw_entry_with_mode("run_a", EntryType::Directory, 0o777, b""),
        raw_entry_with_mode("run_a/shared.txt", EntryType::Regular, 0o666, b"x"),
        raw_entry_with_mode("run_a/private.txt", EntryType::Regular, 0o600, b"x"),
        raw_entry_with_mode("run_a/tool", EntryType::Regular, 0o6755, b"x"),
        raw_entry_with_mode("run_a/sticky", EntryType::Directory, 0o1751, b""),
        raw_entry_with_mode("run_a/closed", EntryType::Directory, 0o500, b""),
        raw_entry_with_mode("run_a/closed/inner.txt", EntryType::Regular, 0o640, b"x"),
        // A run dir with no entry of its own is private too.
        raw_entry_with_mode("run_b/out.txt", EntryType::Regular, 0o644, b"x"),
    ];
    extract_tar(archive(&entries).as_slice(), root.path()).unwrap();
    let mode = |name: &str| {
        fs::symlink_metadata(root.path().join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("run_a"), 0o700);
    assert_eq!(mode("run_b"), 0o700);
    assert_eq!(mode("run_a/shared.txt"), 0o666);
    assert_eq!(mode("run_a/private.txt"), 0o600);
    assert_eq!(mode("run_a/tool"), 0o755);
    assert_eq!(mode("run_a/sticky"), 0o751);
    assert_eq!(mode("run_a/closed"), 0o700);
    assert_eq!(mode("run_a/closed/inner.txt"), 0o640);
    assert_eq!(mode("run_b/out.txt"), 0o644);
}

/// The run dir entry [`write_tar`] makes says 0700, whatever the modes where xpr runs.
#[test]
fn packed_run_dirs_are_private() {
    let src = tempfile::tempdir().unwrap();
    write(&src.path().join("in.txt"), b"x");
    let plan = plan_inputs(src.path(), &["in.txt".to_owned()]).unwrap();
    let stream = write_tar(Vec::new(), &[StageDir::of_inputs("run_t", plan)]).unwrap();
    let mut archive = tar::Archive::new(stream.as_slice());
    let first = archive.entries().unwrap().next().unwrap().unwrap();
    assert_eq!(first.path().unwrap(), Path::new("run_t"));
    assert!(first.header().entry_type().is_dir());
    assert_eq!(first.header().mode().unwrap(), 0o700);
}

#[test]
fn a_path_that_exists_is_never_a_glob_and_the_base_dir_is_never_a_pattern() {
    let root = tempfile::tempdir().unwrap();
    // A base dir whose name reads as a character class.
    let base = root.path().join("proj[1]");
    std::fs::create_dir(&base).unwrap();
    std::fs::write(base.join("data[1].txt"), "literal").unwrap();
    std::fs::write(base.join("data1.txt"), "what the glob would match").unwrap();
    let plan = plan_inputs(&base, &["data[1].txt".into()]).unwrap();
    assert_eq!(plan.len(), 1);
    assert_eq!(plan[0].dest, std::path::Path::new("data[1].txt"));
    assert_eq!(std::fs::read_to_string(&plan[0].source).unwrap(), "literal");
    // A pattern still globs, inside a base dir with `[` in its name.
    let mut globbed: Vec<_> = plan_inputs(&base, &["data*.txt".into()])
        .unwrap()
        .into_iter()
        .map(|e| e.dest)
        .collect();
    globbed.sort();
    assert_eq!(
        globbed,
        [
            std::path::Path::new("data1.txt"),
            std::path::Path::new("data[1].txt")
        ]
    );
}
