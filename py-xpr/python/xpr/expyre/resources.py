"""ExPyRe's ``Resources``: what a job asks for, as the resource dict xpr's node finder reads.

``Resources(max_time="1h", num_nodes=1)`` is the same request as the dict
``{"max_time": "1h", "num_nodes": 1}``; :meth:`ExPyRe.start <xpr.expyre.func.ExPyRe.start>`
takes either. Units are ExPyRe's: a time is seconds (int) or a string such as ``"30m"``,
``"4h"``, ``"1-00:00:00"``; memory is kB (int) or a string such as ``"2GB"``. Values are
checked by the library when the job starts, so its errors name the key at fault.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

#: A time: seconds, or a string (``"30m"``, ``"4h"``, ``"HH:MM:SS"``, ``"D-HH:MM:SS"``).
Time = Union[int, str, None]
#: An amount of memory: kB, or a string (``"512MB"``, ``"2GB"``).
Memory = Union[int, str, None]


class Resources:
    """A job's request: a time, whole nodes or cores, memory, and partition regexps.

    Exactly one of ``num_nodes`` and ``num_cores``; at most one of ``max_mem_tot`` and
    ``max_mem_per_core``. ``partitions`` (or its synonym ``queues``) are regexps, each
    matching a whole partition name of the system. ``max_time=None`` asks for no limit (the
    partition's own applies).
    """

    def __init__(
        self,
        max_time: Time = None,
        num_nodes: Optional[int] = None,
        num_cores: Optional[int] = None,
        max_mem_tot: Memory = None,
        max_mem_per_core: Memory = None,
        partitions: Union[None, str, Sequence[str]] = None,
        queues: Union[None, str, Sequence[str]] = None,
    ) -> None:
        if (num_nodes is None) == (num_cores is None):
            raise ValueError(
                "Resources needs exactly one of num_nodes and num_cores, got "
                f"num_nodes={num_nodes!r}, num_cores={num_cores!r} (hint: num_nodes=1 takes "
                "a whole node; num_cores=N with partial_node=True takes N cores of one)"
            )
        if max_mem_tot is not None and max_mem_per_core is not None:
            raise ValueError(
                "Resources takes at most one of max_mem_tot and max_mem_per_core, got both"
            )
        if partitions is not None and queues is not None:
            raise ValueError(
                "Resources takes partitions or its synonym queues, not both (hint: give "
                "partitions only)"
            )
        #: The longest run time (None: no limit asked).
        self.max_time = max_time
        #: Whole nodes asked for, or None.
        self.num_nodes = num_nodes
        #: Cores asked for, or None.
        self.num_cores = num_cores
        #: Memory for the whole job, or None.
        self.max_mem_tot = max_mem_tot
        #: Memory per core, or None.
        self.max_mem_per_core = max_mem_per_core
        # Upstream accepts `queues` and then drops it; here it is the partitions it names.
        chosen = partitions if partitions is not None else queues
        #: Partition regexps (each matches a whole name), or None for any partition.
        self.partitions: Optional[List[str]] = (
            None if chosen is None else [chosen] if isinstance(chosen, str) else list(chosen)
        )

    def as_dict(self) -> Dict[str, Any]:
        """The request as xpr's (and ExPyRe's) resource dict, leaving out what is not set."""
        out: Dict[str, Any] = {"max_time": self.max_time}
        for key in ("num_nodes", "num_cores", "max_mem_tot", "max_mem_per_core", "partitions"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.as_dict().items())
        return f"Resources({fields})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Resources) and other.as_dict() == self.as_dict()


def resources_dict(
    resources: Union[Resources, Mapping[str, Any]],
    *,
    exact_fit: bool = True,
    partial_node: bool = False,
) -> Dict[str, Any]:
    """The resource dict for the native session: ``resources`` (a :class:`Resources` or a
    dict) with ``exact_fit`` and ``partial_node`` added, unless the dict already sets them."""
    if isinstance(resources, Resources):
        out = resources.as_dict()
    elif isinstance(resources, Mapping):
        out = dict(resources)
        if "partitions" in out and isinstance(out["partitions"], str):
            out["partitions"] = [out["partitions"]]
        if "queues" in out and isinstance(out["queues"], str):
            out["queues"] = [out["queues"]]
    else:
        raise TypeError(
            f"resources must be a dict or an xpr.expyre.resources.Resources, not "
            f"{type(resources).__name__} (hint: {{'max_time': '1h', 'num_nodes': 1}})"
        )
    out.setdefault("max_time", None)
    out.setdefault("exact_fit", bool(exact_fit))
    out.setdefault("partial_node", bool(partial_node))
    return out
