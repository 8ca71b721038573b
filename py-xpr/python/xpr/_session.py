"""The Pythonic API: a :class:`Session` over the xpr library, and the :class:`Task` objects it
hands out.

Everything goes through the native session (``xpr._xpr.NativeSession``, the library's own
``Session``): tasks are recorded in the same jobs DB, staged, submitted and followed as by the
``xpr`` command, and ``xpr ls`` shows them. A task is a command (a list of words, or a shell
line) or a Python function call (:meth:`Session.call`, :meth:`Session.map`): the call is
pickled here and run in the job by a small runner that needs only the remote Python.
"""

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from . import _pyfunc
from ._xpr import NativeSession, WaitTimeout, XprError

#: What a command may be: a list of words (each passed as one argument), or a shell line.
Command = Union[str, Sequence[str]]

#: The statuses a task no longer leaves by itself.
FINISHED = frozenset({"succeeded", "failed", "died", "processed", "cleaned"})


class TaskFailed(XprError):
    """A task ended without success; ``.results`` holds what xpr knows of its end."""

    def __init__(self, message: str, results: "Results") -> None:
        super().__init__(message)
        self.results = results


class JobDiedError(XprError):
    """A job ended without a word from its task: no result, no exception (killed, vanished,
    out of memory ...)."""


@dataclass(frozen=True)
class Results:
    """What xpr knows of a task's end (``xpr results``)."""

    #: The task's id.
    id: str
    #: Its status (``succeeded``, ``failed``, ``died`` ...).
    status: str
    #: How its attempt ended (``succeeded``, ``failed``, ``timeout``, ``out_of_memory`` ...).
    end_state: Optional[str]
    #: The command's exit code, when known.
    exit_code: Optional[int]
    #: Why it ended as it did, when known.
    reason: Optional[str]
    #: The local run dir: the outputs and logs, once finished.
    local_dir: Path
    #: Every attempt (dicts: number, scheduler_job_id, end_state, exit_code ...), first first.
    attempts: List[Dict[str, Any]]
    #: The end of the command's standard output.
    stdout_tail: str
    #: The end of the command's standard error.
    stderr_tail: str


@dataclass(frozen=True)
class Logs:
    """A task attempt's standard output and error, as text."""

    stdout: str
    stderr: str


def _words(value: Union[None, str, Iterable[str]]) -> List[str]:
    """A list of strings from one string or an iterable of them."""
    if value is None:
        return []
    if isinstance(value, (str, os.PathLike)):
        return [os.fspath(value)]
    return [os.fspath(v) for v in value]


def _ids(parents: Union[None, str, "Task", Iterable[Union[str, "Task"]]]) -> List[str]:
    """Task ids (or names) from tasks, ids or names."""
    if parents is None:
        return []
    if isinstance(parents, (str, Task)):
        parents = [parents]
    return [p.id if isinstance(p, Task) else str(p) for p in parents]


class Task:
    """One task of the jobs DB. Its status and results are read fresh each time (another
    process may be following it)."""

    def __init__(self, session: "Session", id: str) -> None:
        self._session = session
        #: The task's id (``name_<hash>_<n>``), as ``xpr ls`` shows it.
        self.id = id

    def __repr__(self) -> str:
        return f"<xpr.Task {self.id} {self.status}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Task) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def record(self) -> Dict[str, Any]:
        """The task's row in the jobs DB, as a dict (``xpr ls --json``'s fields)."""
        return json.loads(self._session._native.get(self.id))

    @property
    def name(self) -> str:
        """The task's name."""
        return self.record()["name"]

    @property
    def system(self) -> str:
        """The system it runs on."""
        return self.record()["system"]

    @property
    def status(self) -> str:
        """Its status now: created, waiting, staged, submitted, started, succeeded, failed,
        died, processed, cleaned."""
        return self.record()["status"]

    @property
    def scheduler_job_id(self) -> Optional[str]:
        """The scheduler's job id of its current attempt, once submitted."""
        return self.record().get("scheduler_job_id")

    @property
    def done(self) -> bool:
        """True once it has finished, however."""
        return self.status in FINISHED

    @property
    def is_function(self) -> bool:
        """True for a Python function call (:meth:`Session.call`, :meth:`Session.map`)."""
        spec = json.loads(self.record()["spec"]).get("spec", {})
        argv = spec.get("command", {}).get("argv") or []
        return len(argv) == 2 and argv[1] == _pyfunc.RUNNER_FILE

    def results(self) -> Results:
        """What xpr knows of its end (status, end state, exit code, reason, attempts)."""
        r = json.loads(self._session._native.results(self.id))
        return Results(
            id=r["id"],
            status=r["status"],
            end_state=r.get("end_state"),
            exit_code=r.get("exit_code"),
            reason=r.get("reason"),
            local_dir=Path(r["local_dir"]),
            attempts=r.get("attempts") or [],
            stdout_tail=r.get("stdout_tail") or "",
            stderr_tail=r.get("stderr_tail") or "",
        )

    def wait(self, timeout: Optional[float] = None) -> "Task":
        """Follows the task until it has finished (raises :class:`WaitTimeout` after
        ``timeout`` seconds); Ctrl-C stops the wait, not the task. Returns the task."""
        self._session.wait([self], timeout=timeout)
        return self

    async def wait_async(self, timeout: Optional[float] = None) -> "Task":
        """:meth:`wait` for asyncio: the wait runs in a worker thread, the loop goes on."""
        import asyncio  # here: importing asyncio costs 20 ms, and only these use it

        await asyncio.get_running_loop().run_in_executor(None, self.wait, timeout)
        return self

    def result(self, timeout: Optional[float] = None) -> Any:
        """Waits for the task (``timeout`` as :meth:`wait`; 0 only looks), then: for a
        function call, its return value, or the remote exception raised again as its own type
        (its remote traceback in a note), or :class:`JobDiedError` when the job left neither;
        for a command, its :class:`Results`, or :class:`TaskFailed` when it did not succeed."""
        if timeout is None or timeout > 0:
            self.wait(timeout)
        elif not self.done:
            raise WaitTimeout(f"task {self.id} has not finished (status {self.status})")
        results = self.results()
        if self.is_function:
            outcome = _pyfunc.read_outcome(results.local_dir)
            return _pyfunc.raise_or_return(
                outcome,
                died_error_factory=lambda message: JobDiedError(
                    f"task {self.id} ended {results.end_state or results.status}"
                    + (f" ({results.reason})" if results.reason else "")
                    + f": {message}"
                ),
            )
        if results.status not in ("succeeded", "processed"):
            raise TaskFailed(
                f"task {self.id} ended {results.end_state or results.status}"
                + (f": {results.reason}" if results.reason else ""),
                results,
            )
        return results

    async def result_async(self, timeout: Optional[float] = None) -> Any:
        """:meth:`result` for asyncio."""
        import asyncio  # here: importing asyncio costs 20 ms, and only these use it

        return await asyncio.get_running_loop().run_in_executor(None, self.result, timeout)

    def logs(self, attempt: Optional[int] = None) -> Logs:
        """The standard output and error of its current attempt (or attempt ``attempt``)."""
        native = self._session._native
        folder = (
            Path(native.local_run_dir(self.id))
            if attempt is None
            else Path(native.attempt_dir(self.id, attempt))
        )

        def read(name: str) -> str:
            try:
                return (folder / name).read_text(errors="replace")
            except FileNotFoundError:
                return ""

        return Logs(stdout=read("xpr.stdout"), stderr=read("xpr.stderr"))

    def cancel(self) -> bool:
        """Cancels the task; True when the scheduler was asked to."""
        return bool(self._session._native.cancel([self.id]))

    def clean(self) -> None:
        """Removes its remote run dir (the local one stays)."""
        self._session._native.clean([self.id])

    def retry(self) -> bool:
        """Runs it again as a new attempt (housekeeper's ``retry()``); True when it was."""
        return bool(self._session._native.retry([self.id]))

    def mark_processed(self) -> None:
        """Marks its results used: an identical task submitted later runs anew."""
        self._session._native.mark_processed(self.id)

    def on_success(self, callback: Callable[["Task"], Any]) -> "Task":
        """Calls ``callback(task)`` once, when a wait sees it succeed."""
        self._session._callbacks.add(self.id, "success", callback)
        return self

    def on_failure(self, callback: Callable[["Task"], Any]) -> "Task":
        """Calls ``callback(task)`` once, when a wait sees it end without success."""
        self._session._callbacks.add(self.id, "failure", callback)
        return self

    def on_exit(self, callback: Callable[["Task"], Any]) -> "Task":
        """Calls ``callback(task)`` once, when a wait sees it end, however."""
        self._session._callbacks.add(self.id, "exit", callback)
        return self


class _Callbacks:
    """Callbacks by task, each called once by the thread whose wait saw the task end."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_task: Dict[str, List[Tuple[str, Callable[[Task], Any]]]] = {}

    def add(self, task_id: str, when: str, callback: Callable[[Task], Any]) -> None:
        with self._lock:
            self._by_task.setdefault(task_id, []).append((when, callback))

    def fire(self, task: Task, status: str) -> None:
        if status not in FINISHED:
            return
        with self._lock:
            callbacks = self._by_task.pop(task.id, [])
        succeeded = status in ("succeeded", "processed")
        for when, callback in callbacks:
            if when == "exit" or (when == "success") == succeeded:
                callback(task)


class Session:
    """The xpr library for Python: the systems of the config, the jobs DB, the connections.

    ``config``: None finds the config as the ``xpr`` command does (``EXPYRE_ROOT``, else
    ``.expyre``/``_expyre`` dirs from the current directory up, and ``~/.expyre``; with no
    config only the built-in ``local`` system exists); a path or a list of paths takes
    exactly those ``config.json`` files (shallowest first).
    """

    def __init__(
        self, config: Union[None, str, os.PathLike, Sequence[Union[str, os.PathLike]]] = None
    ) -> None:
        files = None if config is None else _words(config)
        self._native = NativeSession(files)
        self._callbacks = _Callbacks()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def stage_root(self) -> Path:
        """Where the jobs DB and the local run dirs are."""
        return Path(self._native.stage_root)

    @property
    def systems(self) -> List[str]:
        """The names of the systems this session can run on."""
        return list(self._native.system_names())

    def close(self) -> None:
        """Closes the session's connections (tasks go on running)."""
        self._native.close()

    # --- starting tasks -------------------------------------------------------------------

    def submit(
        self,
        command: Command,
        *,
        system: Optional[str] = None,
        profile: Optional[str] = None,
        name: Optional[str] = None,
        resources: Optional[Mapping[str, Any]] = None,
        inputs: Union[None, str, Iterable[str]] = None,
        outputs: Union[None, str, Iterable[str]] = None,
        env: Optional[Mapping[str, str]] = None,
        args: Any = None,
        pre_commands: Iterable[str] = (),
        post_commands: Iterable[str] = (),
        after_ok: Any = None,
        after_fail: Any = None,
        after_any: Any = None,
        max_retries: Optional[int] = None,
        retry_on: Optional[Iterable[str]] = None,
        base_dir: Union[None, str, os.PathLike] = None,
        header: Iterable[str] = (),
        force_rerun: bool = False,
        mode: str = "individual",
        pack: Optional[int] = None,
        jobs: Optional[int] = None,
        sweep: Optional[str] = None,
    ) -> Task:
        """Starts ``command`` (a list of words, or one shell line) on ``system`` and returns
        its task at once (submitted, or waiting for its parents).

        ``system``: none given, the profile's, else ``$EXPYRE_SYS``, else ``local``.
        ``profile``: a profile of the config whose system, resources, header lines and
        environment are the defaults (arguments given here win).
        ``resources`` is ExPyRe's dict (``max_time``, ``num_cores`` | ``num_nodes``,
        ``max_mem_tot`` | ``max_mem_per_core``, ``partitions``, ``exact_fit``,
        ``partial_node``, ``gpus``, ``account``); none: one core on a node it may share, for
        the system's ``default_max_time`` (else an hour). ``inputs`` are
        taken relative to ``base_dir`` (default: the current directory), ``outputs`` brought
        back. ``after_ok`` / ``after_fail`` / ``after_any``: tasks (or ids, names) it waits
        for. An identical task that can still produce results is reused unless
        ``force_rerun``.
        """
        request = self._request(
            command,
            system=system,
            profile=profile,
            name=name,
            resources=resources,
            inputs=inputs,
            outputs=outputs,
            env=env,
            args=args,
            pre_commands=pre_commands,
            post_commands=post_commands,
            after_ok=after_ok,
            after_fail=after_fail,
            after_any=after_any,
            max_retries=max_retries,
            retry_on=retry_on,
            base_dir=base_dir,
            header=header,
            force_rerun=force_rerun,
            mode=mode,
            pack=pack,
            jobs=jobs,
            sweep=sweep,
        )
        return self._start([request])[0]

    def call(
        self,
        function: Callable[..., Any],
        *args: Any,
        xpr_options: Optional[Mapping[str, Any]] = None,
        **kwargs: Any,
    ) -> Task:
        """Starts ``function(*args, **kwargs)`` as a task (options as :meth:`map`'s, in
        ``xpr_options``); ``task.result()`` gives its return value."""
        options = dict(xpr_options or {})
        return self.map_calls(function, [(args, kwargs)], **options)[0]

    def map(
        self,
        function: Callable[..., Any],
        iterable: Iterable[Any],
        **options: Any,
    ) -> List[Task]:
        """Starts ``function(item)`` for each item, one task each, in one batch (submitit's
        ``map_array``, wfl's chunks). ``mode``: ``individual`` (a job each), ``array`` (job
        arrays) or ``packed`` (``pack=K`` calls per job, or ``jobs=J`` jobs). Options:
        ``system``, ``resources``, ``name`` (default the function's), ``python`` (the remote
        interpreter, default ``python3``), ``by_value`` (pickle the function itself with
        cloudpickle: for functions of a script or notebook; the remote side needs
        cloudpickle), and :meth:`submit`'s ``inputs``, ``env``, ``pre_commands``,
        ``max_retries``, ``retry_on``, ``after_ok`` ..., ``force_rerun``, ``sweep``."""
        return self.map_calls(function, [((item,), {}) for item in iterable], **options)

    def map_calls(
        self,
        function: Callable[..., Any],
        calls: Iterable[Tuple[Sequence[Any], Mapping[str, Any]]],
        *,
        name: Optional[str] = None,
        python: str = "python3",
        by_value: bool = False,
        inputs: Union[None, str, Iterable[str]] = None,
        **options: Any,
    ) -> List[Task]:
        """:meth:`map` over ``(args, kwargs)`` pairs."""
        name = name or getattr(function, "__name__", "call")
        runner = self._py_file(_pyfunc.RUNNER_FILE, _pyfunc.runner_source().encode())
        requests = []
        for args, kwargs in calls:
            call_file = self._py_call(function, args, kwargs, by_value)
            requests.append(
                self._request(
                    [python, _pyfunc.RUNNER_FILE],
                    name=name,
                    inputs=[str(call_file), str(runner)] + _words(inputs),
                    **options,
                )
            )
        return self._start(requests)

    def _py_file(self, name: str, data: bytes) -> Path:
        """``data`` as file ``name`` in a dir of the stage root named by its contents (kept:
        a retry stages its inputs again)."""
        digest = hashlib.sha256(data).hexdigest()[:24]
        folder = self.stage_root / "py_calls" / digest
        path = folder / name
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            temp = folder / f".{name}.{os.getpid()}.tmp"
            temp.write_bytes(data)
            os.replace(temp, path)
        return path

    def _py_call(
        self,
        function: Callable[..., Any],
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        by_value: bool,
    ) -> Path:
        """The pickled call, as a file to stage."""
        scratch = self.stage_root / "py_calls" / f".new.{os.getpid()}.{threading.get_ident()}"
        _pyfunc.write_call(scratch, function, args, kwargs, by_value=by_value)
        try:
            return self._py_file(_pyfunc.CALL_FILE, scratch.read_bytes())
        finally:
            scratch.unlink()

    def _request(self, command: Command, **o: Any) -> Dict[str, Any]:
        """The native request for one task."""
        if isinstance(command, str):
            cmd: Dict[str, Any] = {"shell": command}
            default_name = command.split()[0] if command.split() else "task"
        else:
            words = [os.fspath(w) for w in command]
            cmd = {"argv": words}
            default_name = os.path.basename(words[0]) if words else "task"
        env = o.get("env") or {}
        request: Dict[str, Any] = {
            "name": o.get("name") or default_name,
            **cmd,
            "system": o.get("system"),
            "inputs": _words(o.get("inputs")),
            "outputs": _words(o.get("outputs")),
            "env": [[str(k), str(v)] for k, v in env.items()],
            "pre_commands": list(o.get("pre_commands") or ()),
            "post_commands": list(o.get("post_commands") or ()),
            "extra_header": list(o.get("header") or ()),
            "force_rerun": bool(o.get("force_rerun")),
            "after_ok": _ids(o.get("after_ok")),
            "after_fail": _ids(o.get("after_fail")),
            "after_any": _ids(o.get("after_any")),
        }
        if o.get("args") is not None:
            request["args"] = o["args"]
        if o.get("resources") is not None:
            request["resources"] = dict(o["resources"])
        if o.get("base_dir") is not None:
            request["base_dir"] = os.fspath(o["base_dir"])
        if o.get("max_retries") is not None:
            request["max_retries"] = int(o["max_retries"])
        if o.get("retry_on") is not None:
            request["retry_on"] = list(o["retry_on"])
        mode = o.get("mode") or "individual"
        if mode not in ("individual", "array", "packed"):
            raise XprError(
                f"mode {mode!r}: give 'individual', 'array' or 'packed' (with pack=K or jobs=J)"
            )
        request["submission"] = mode
        for key in ("pack", "jobs", "sweep", "identity_key", "profile"):
            if o.get(key) is not None:
                request[key] = o[key]
        unknown = set(o) - {
            "name", "system", "inputs", "outputs", "env", "pre_commands", "post_commands",
            "header", "force_rerun", "after_ok", "after_fail", "after_any", "args",
            "resources", "base_dir", "max_retries", "retry_on", "mode", "pack", "jobs",
            "sweep", "identity_key", "profile",
        }  # fmt: skip
        if unknown:
            raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
        return request

    def _start(self, requests: List[Dict[str, Any]]) -> List[Task]:
        started = json.loads(self._native.start_many(json.dumps(requests)))
        return [Task(self, s["id"]) for s in started]

    # --- the tasks of the jobs DB ---------------------------------------------------------

    def task(self, id: str) -> Task:
        """The task ``id`` (an :class:`XprError` when the DB has none)."""
        self._native.get(id)
        return Task(self, id)

    def tasks(
        self,
        *,
        ids: Iterable[str] = (),
        names: Iterable[str] = (),
        statuses: Iterable[str] = (),
        systems: Iterable[str] = (),
        sweep: Optional[str] = None,
    ) -> List[Task]:
        """The tasks of the jobs DB the filters select (regexps matching whole ids, names,
        systems; statuses or ``ongoing``/``can_produce_results``), oldest first."""
        filter = {
            "ids": _words(ids),
            "names": _words(names),
            "statuses": _words(statuses),
            "systems": _words(systems),
            "sweep": sweep,
        }
        records = json.loads(self._native.list(json.dumps(filter)))
        return [Task(self, r["id"]) for r in records]

    def wait(self, tasks: Iterable[Task], timeout: Optional[float] = None) -> List[Task]:
        """Follows ``tasks`` until all have finished, calling their callbacks as they end;
        raises :class:`WaitTimeout` after ``timeout`` seconds. Ctrl-C stops the wait (with
        ``KeyboardInterrupt``), never the tasks, and leaves nothing half-written."""
        tasks = list(tasks)
        try:
            records = json.loads(self._native.wait([t.id for t in tasks], timeout))
        finally:
            # Those that ended before a timeout or Ctrl-C get their callbacks too.
            for task in tasks:
                if self._callbacks._by_task.get(task.id):
                    self._callbacks.fire(task, task.status)
        for task, record in zip(tasks, records):
            self._callbacks.fire(task, record["status"])
        return tasks

    async def wait_async(
        self, tasks: Iterable[Task], timeout: Optional[float] = None
    ) -> List[Task]:
        """:meth:`wait` for asyncio: the wait runs in a worker thread, the loop goes on."""
        tasks = list(tasks)
        import asyncio  # here: importing asyncio costs 20 ms, and only these use it

        return await asyncio.get_running_loop().run_in_executor(None, self.wait, tasks, timeout)

    def poll(self) -> None:
        """One round of following every system with tasks in flight (``xpr sync``)."""
        self._native.poll()
