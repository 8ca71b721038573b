"""ExPyRe's ``ExPyRe`` class: one Python function call run as a job, over xpr's Session.

The call is a task of xpr's jobs DB (``xpr ls`` shows it), started, followed and brought
back by the library as any other; the function runs remotely in xpr's small runner. What is
ExPyRe's here is the surface: the constructor's arguments, ``start``/``get_results`` and their
defaults, the restart rule (a call with the same name, function, arguments but those in
``hash_ignore``, and input files reuses the earlier job), the exceptions, the
``(result, stdout, stderr)`` triple and output files copied into the current directory.
"""

from __future__ import annotations

import json
import os
import pickle
import shlex
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from .. import _pyfunc
from .._session import Task
from .._xpr import WaitTimeout, XprError
from . import _starts, config
from ._files import copy_outputs, env_var_commands
from .errors import ExPyReJobDiedError, ExPyReTimeoutError
from .jobsdb import expyre_status, find_reusable, stored_spec
from .resources import Resources, resources_dict

__all__ = ["ExPyRe", "ExPyReJobDiedError", "ExPyReTimeoutError"]

#: Characters ExPyRe refuses in a job's name (it becomes a path and a glob).
_BAD_NAME_CHARS = set("/[]{}*\\")

#: How much of the job's stdout and stderr a died-job message carries.
_TAIL = 4000

PathLike = Union[str, "os.PathLike[str]"]


class _hybridmethod:
    """A method callable on the class and on its instances alike (ExPyRe's
    ``sync_remote_results_status`` is called both ways)."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self._function = function
        self.__doc__ = function.__doc__

    def __get__(self, instance: Any, owner: type) -> Callable[..., Any]:
        bound = instance if instance is not None else owner
        return self._function.__get__(bound, owner)


def _tail(text: str) -> str:
    """The end of ``text``, marked as cut when it is."""
    return text if len(text) <= _TAIL else "[...]\n" + text[-_TAIL:]


class ExPyRe:
    """A call of ``function(*args, **kwargs)`` to run remotely as a job.

    ``input_files`` are staged into the job's run dir (relative paths keep their relative
    path, absolute ones go by their base name) and hashed into the restart identity;
    ``output_files`` (paths or globs in the run dir) come back and are copied into the
    current directory by :meth:`get_results`. ``env_vars`` are ``NAME=value`` (expanded by
    the job's shell) or a bare ``NAME`` (this process's value). ``pre_run_commands`` and
    ``post_run_commands`` are shell lines around the call. With ``try_restart_from_prev``
    (the default) an earlier job with the same name and identity that can still produce
    results is reused: ``recreated`` is then True and :meth:`start` does nothing.
    """

    def __init__(
        self,
        name: str,
        *,
        input_files: Sequence[PathLike] = (),
        env_vars: Sequence[str] = (),
        pre_run_commands: Sequence[str] = (),
        post_run_commands: Sequence[str] = (),
        output_files: Sequence[PathLike] = (),
        try_restart_from_prev: bool = True,
        hash_ignore: Sequence[Union[int, str]] = (),
        function: Optional[Callable[..., Any]] = None,
        args: Sequence[Any] = (),
        kwargs: Optional[Mapping[str, Any]] = None,
    ) -> None:
        bad = sorted(_BAD_NAME_CHARS.intersection(str(name)))
        if not name or bad:
            raise ValueError(
                f"ExPyRe name {name!r}: must be non-empty and hold none of / [ ] {{ }} * \\ "
                f"(found {' '.join(bad) or 'an empty name'})"
            )
        if function is None or not callable(function):
            raise TypeError(
                f"ExPyRe {name!r}: function= must be the callable to run, not {function!r}"
            )
        #: The job's name (its task id begins with it).
        self.name = str(name)
        #: The function to call remotely, its positional and keyword arguments.
        self.function = function
        self.args = list(args)
        self.kwargs = dict(kwargs or {})
        self.input_files = [os.fspath(f) for f in input_files]
        self.output_files = [os.fspath(f) for f in output_files]
        self.env_vars = [str(v) for v in env_vars]
        self.pre_run_commands = list(pre_run_commands)
        self.post_run_commands = list(post_run_commands)
        self.hash_ignore = list(hash_ignore)
        self.try_restart_from_prev = bool(try_restart_from_prev)
        # ExPyRe's identity (name kept apart: the library hashes it with this key).
        self._identity_key = _pyfunc.expyre_identity(
            self.name, function, self.args, self.kwargs, self.hash_ignore, self.input_files
        )
        self._id: Optional[str] = None
        # Why the batch this job's start went in failed (raised when the job is next used).
        self._start_error: Optional[BaseException] = None
        #: The system it runs on, once started or recreated.
        self.system_name: Optional[str] = None
        #: True when this object took over an earlier job (the restart rule or from_jobsdb).
        self.recreated = False
        if self.try_restart_from_prev:
            previous = find_reusable(self.name, self._identity_key)
            if previous is not None:
                self._attach(previous["id"], previous["system"])
                self.recreated = True

    # --- what it is now -------------------------------------------------------------------

    def _attach(self, id: str, system: str) -> None:
        self._id = id
        self.system_name = system

    @property
    def id(self) -> Optional[str]:
        """The task id, once started or recreated (None before). A start still queued (see
        ``_starts``) is sent first, with the others queued."""
        if _starts.PENDING.holds(self):
            _starts.PENDING.send()
        if self._start_error is not None:
            raise self._start_error
        return self._id

    @property
    def task(self) -> Task:
        """The xpr :class:`~xpr.Task` behind this job (once started)."""
        if self.id is None:
            raise XprError(
                f"ExPyRe {self.name!r} has not been started (hint: call .start(resources, "
                "system_name) first)"
            )
        return Task(config.session(), self.id)

    def _record(self) -> Optional[Dict[str, Any]]:
        return None if self.id is None else self.task.record()

    @property
    def status(self) -> str:
        """ExPyRe's status of the job now: ``created`` (also before ``start``), ``submitted``,
        ``started``, ``succeeded``, ``failed``, ``died``, ``processed``, ``cleaned``."""
        record = self._record()
        return "created" if record is None else expyre_status(record["status"])

    @property
    def remote_id(self) -> Optional[str]:
        """The scheduler's job id, once submitted."""
        record = self._record()
        return None if record is None else record.get("scheduler_job_id")

    @property
    def stage_dir(self) -> Optional[Path]:
        """The job's local run dir (its results and outputs once back), once started."""
        if self.id is None:
            return None
        return Path(config.session()._native.local_run_dir(self.id))

    def __repr__(self) -> str:
        return f"<ExPyRe {self.id or self.name} {self.status}>"

    # --- starting -------------------------------------------------------------------------

    def start(
        self,
        resources: Union[Resources, Mapping[str, Any]],
        system_name: Optional[str] = None,
        header_extra: Sequence[str] = (),
        exact_fit: bool = True,
        partial_node: bool = False,
        python_cmd: str = "python3",
        force_rerun: bool = False,
    ) -> None:
        """Starts the job on ``system_name`` (default: ``$EXPYRE_SYS``, read now) with
        ``resources`` (a dict or :class:`Resources`; ``exact_fit`` and ``partial_node`` as
        in ExPyRe). Does nothing for a job already started or recreated, unless
        ``force_rerun``, which submits it afresh. ``python_cmd`` is the remote Python (may
        be several words, e.g. ``"python3 -u"``). The job is checked at once and submitted
        with the other starts of the moment in one batch (see ``xpr.expyre._starts``)."""
        if (_starts.PENDING.holds(self) or self._id is not None) and not force_rerun:
            return
        system_name = system_name if system_name is not None else os.environ.get("EXPYRE_SYS")
        if not system_name:
            raise ValueError(
                f"ExPyRe {self.name!r}: no system to run on (hint: pass system_name= or set "
                "EXPYRE_SYS to a system of config.json)"
            )
        known = config.loaded_systems()
        if known is not None and system_name not in known:
            raise XprError(
                f"ExPyRe {self.name!r}: system {system_name!r} is not in expyre.config.systems "
                f"(known: {', '.join(sorted(known)) or 'none'})"
            )
        python = shlex.split(python_cmd)
        if not python:
            raise ValueError("python_cmd is empty (hint: python_cmd='python3')")
        session = config.session()
        runner = session._py_file(_pyfunc.RUNNER_FILE, _pyfunc.runner_source().encode())
        by_value = _by_value(self.function)
        call_file = session._py_call(self.function, self.args, self.kwargs, by_value)
        request = session._request(
            python + [_pyfunc.RUNNER_FILE],
            name=self.name,
            system=system_name,
            resources=resources_dict(resources, exact_fit=exact_fit, partial_node=partial_node),
            inputs=[str(call_file), str(runner)] + self.input_files,
            outputs=self.output_files,
            pre_commands=self.pre_run_commands + env_var_commands(self.env_vars),
            post_commands=self.post_run_commands,
            header=list(header_extra),
            base_dir=os.getcwd(),
            force_rerun=bool(force_rerun) or not self.try_restart_from_prev,
            identity_key=self._identity_key,
        )
        # Checked now, so that what is wrong with it raises here as in ExPyRe; sent with the
        # other starts of this moment in one batch (see `_starts`).
        session._native.check(json.dumps([request]))
        self._start_error = None
        self.system_name = system_name
        _starts.PENDING.add(self, request)

    # --- results --------------------------------------------------------------------------

    def get_results(
        self,
        timeout: Optional[float] = 3600,
        check_interval: float = 30,
        sync: bool = True,
        sync_all: bool = True,
        force_sync: bool = False,
        force_remote_status: bool = False,
        quiet: bool = False,
        verbose: bool = False,
    ) -> Tuple[Any, str, str]:
        """Waits up to ``timeout`` seconds for the job (``0``: only looks, once), then returns
        ``(value, stdout, stderr)`` and copies ``output_files`` into the current directory;
        or raises the function's own exception (its remote traceback in
        ``__xpr_remote_traceback__`` and a note), :class:`ExPyReJobDiedError` when the job
        left neither, :class:`ExPyReTimeoutError` past ``timeout``.

        ``sync=False`` with ``timeout=0`` only reads the DB, without asking the scheduler.
        ``check_interval``, ``sync_all``, ``force_sync``, ``force_remote_status``, ``quiet``
        and ``verbose`` are accepted for ExPyRe's sake: the library follows every job of a
        system in one query per poll at its own pace."""
        del check_interval, sync_all, force_sync, force_remote_status, quiet, verbose
        task = self.task
        if timeout is not None and timeout <= 0:
            unreachable = ""
            if sync and not task.done:
                try:
                    config.session().poll()
                except XprError as err:
                    # A probe answers "not yet" when the scheduler cannot be asked this
                    # time (wfl probes in a loop); the reason goes into the answer.
                    unreachable = f"; asking the scheduler failed: {err}"
            if not task.done:
                raise ExPyReTimeoutError(
                    f"job {self.id} has not finished (status {self.status}); "
                    f"get_results(timeout=0) only looks{unreachable}"
                )
        else:
            try:
                task.wait(timeout)
            except WaitTimeout:
                raise ExPyReTimeoutError(
                    f"job {self.id} did not finish within {timeout} s (status {self.status}; "
                    "hint: call get_results again later, it keeps running)"
                ) from None
        results = task.results()
        logs = task.logs()
        outcome = _pyfunc.read_outcome(results.local_dir)
        if outcome.kind is _pyfunc.OutcomeKind.VALUE:
            self._deliver_outputs(results.local_dir)
            return outcome.value, logs.stdout, logs.stderr
        if outcome.kind is _pyfunc.OutcomeKind.RAISED:
            assert outcome.exception is not None
            # `from None`: an exception the caller is handling has nothing to do with it.
            raise outcome.exception from None
        how = results.end_state or results.status
        why = f" ({results.reason})" if results.reason else ""
        detail = (
            f"the function failed without an exception that could be raised here:\n"
            f"{outcome.traceback_text}"
            if outcome.kind is _pyfunc.OutcomeKind.FAILED
            else "it left neither a result nor an exception"
        )
        raise ExPyReJobDiedError(
            f"job {self.id} on {self.system_name} died, ended {how}{why}: {detail}\n"
            f"--- stdout\n{_tail(logs.stdout)}\n--- stderr\n{_tail(logs.stderr)}"
        )

    def _deliver_outputs(self, run_dir: Path) -> None:
        """Copies the output files into the current directory (a different file already
        there is kept as NAME.~N~), warning about outputs that never appeared."""
        _, missing = copy_outputs(run_dir, self.output_files, Path.cwd())
        if missing:
            warnings.warn(
                f"job {self.id}: output_files {', '.join(missing)} matched nothing in its run "
                f"dir {run_dir}",
                stacklevel=3,
            )

    # --- after ----------------------------------------------------------------------------

    def mark_processed(self) -> None:
        """Marks the job's results used: an identical ExPyRe made later runs anew."""
        self.task.mark_processed()

    def cancel(self, verbose: bool = False) -> None:
        """Cancels the job through its scheduler."""
        cancelled = self.task.cancel()
        if verbose:
            print(f"job {self.id}: {'cancelled' if cancelled else 'nothing to cancel'}")

    def clean(
        self, wipe: bool = False, dry_run: bool = False, remote_only: bool = False
    ) -> List[str]:
        """Removes the job's remote run dir; with ``wipe`` (and not ``remote_only``) its
        local run dir too (the results are then gone). ``dry_run`` only says what it would
        remove. Returns those dirs."""
        task = self.task
        record = task.record()
        targets = [f"{record['system']}:{record.get('remote_dir')}"]
        local = self.stage_dir
        if wipe and not remote_only and local is not None:
            targets.append(str(local))
        if dry_run:
            for target in targets:
                print(f"would remove {target}")
            return targets
        task.clean()
        if wipe and not remote_only and local is not None:
            shutil.rmtree(local, ignore_errors=True)
        return targets

    @_hybridmethod
    def sync_remote_results_status(
        self_or_cls: Any, sync_all: bool = True, force_sync: bool = False
    ) -> None:
        """Asks the schedulers once about every job in flight and brings back those that
        ended (``xpr sync``); callable on the class or on a job."""
        del self_or_cls, sync_all, force_sync
        config.session().poll()

    # --- from the DB ----------------------------------------------------------------------

    @classmethod
    def from_jobsdb(
        cls, db_jobs: Union[Mapping[str, Any], Iterable[Mapping[str, Any]]]
    ) -> List["ExPyRe"]:
        """ExPyRe objects for rows of ``expyre.config.db.jobs(...)`` (one row or a list), each
        ``recreated``, with its function and arguments read back from its call file when
        they unpickle here (else None)."""
        rows = [db_jobs] if isinstance(db_jobs, Mapping) else list(db_jobs)
        return [cls._from_record(Task(config.session(), r["id"]).record()) for r in rows]

    @classmethod
    def _from_record(cls, record: Mapping[str, Any]) -> "ExPyRe":
        """The ExPyRe object of an xpr task record, made without the constructor (which
        would hash the call: the record already says what the job is)."""
        stored = stored_spec(record)
        spec = stored.get("spec", {})
        self = cls.__new__(cls)
        self.name = record["name"]
        self.function, self.args, self.kwargs = _load_call(stored)
        ours = {_pyfunc.CALL_FILE, _pyfunc.RUNNER_FILE}
        self.input_files = [i for i in spec.get("inputs", []) if Path(i).name not in ours]
        self.output_files = list(spec.get("outputs", []))
        self.env_vars = []
        self.pre_run_commands = list(spec.get("pre_commands", []))
        self.post_run_commands = list(spec.get("post_commands", []))
        self.hash_ignore = []
        self.try_restart_from_prev = True
        self._identity_key = spec.get("identity_key")
        self._id = record["id"]
        self._start_error = None
        self.system_name = record["system"]
        self.recreated = True
        return self


def _by_value(function: Callable[..., Any]) -> bool:
    """Whether to pickle ``function`` by value: only when pickle cannot name it (a script's
    or a notebook's function, a lambda) and cloudpickle is here to do it, standing in for
    ExPyRe's use of dill. The remote side then needs cloudpickle too."""
    try:
        _pyfunc._check_importable(function)
        return False
    except _pyfunc.CallPicklingError as refused:
        try:
            import cloudpickle  # noqa: F401
        except ImportError:
            raise _pyfunc.CallPicklingError(
                f"{refused} [in xpr.expyre: by value means cloudpickle installed here and "
                "remotely, standing in for ExPyRe's dill]"
            ) from None
        return True


def _load_call(stored: Mapping[str, Any]) -> Tuple[Any, List[Any], Dict[str, Any]]:
    """The function and arguments of a stored task, from its staged call file; ``(None, [],
    {})`` when the file is gone or does not unpickle here (a line on stderr says why)."""
    for source, dest in stored.get("inputs", []):
        if Path(dest).name == _pyfunc.CALL_FILE:
            try:
                with open(source, "rb") as f:
                    call = pickle.load(f)
                return call["function"], list(call["args"]), dict(call["kwargs"])
            except Exception as err:  # an old file, a module not importable here
                print(f"xpr.expyre: cannot read the call back from {source}: {err}",
                      file=sys.stderr)  # fmt: skip
    return None, [], {}
