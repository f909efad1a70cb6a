"""The machine a benchmark ran on, in the one line its JSON results carry as "machine": numbers
from a shared or small machine only mean something next to it."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def describe_machine(torch_threads: int | None = None, load_at_start: float | None = None) -> str:
    """CPU model, the cores this process may use, Python, torch (when it is used) and the load.

    Args:
        torch_threads: the torch threads the benchmark runs on; None leaves torch out.
        load_at_start: the 1-minute load average when the benchmark began, for a description
            written at its end: both loads are then given. None gives the load now.

    Returns:
        e.g. "AMD EPYC 7B13 (x86_64), 2 cores, Python 3.11.7, torch 2.11.0 with 1 thread,
        load average 1.52".
    """
    parts = [_cpu(), f"{_usable_cores()} cores", f"Python {platform.python_version()}"]
    if torch_threads is not None:
        import torch  # only benchmarks that use it pay for its import

        threads = f"{torch_threads} thread{'s' if torch_threads != 1 else ''}"
        parts.append(f"torch {torch.__version__} with {threads}")
    load = os.getloadavg()[0]
    if load_at_start is None:
        parts.append(f"load average {load:.2f}")
    else:
        parts.append(f"load average {load_at_start:.2f} at the start and {load:.2f} at the end")
    return ", ".join(parts)


def _cpu() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux) and its architecture."""
    architecture = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({architecture})"
    except OSError:
        pass
    model = platform.processor()
    return f"{model} ({architecture})" if model and model != architecture else architecture


def _usable_cores() -> int:
    """The cores this process may run on: its CPU affinity where the system has one."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
