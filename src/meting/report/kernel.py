"""The notebook kernel of a report: IPC transport and a quiet shutdown, so the console stays clean.

ipykernel 7 logs ``Kernel is running over TCP without encryption`` whenever its sockets are TCP
without CurveZMQ keys. A report's kernel is a child on the same machine, so it talks over Unix
domain sockets (ZeroMQ ``ipc``) next to its connection file in Jupyter's runtime folder: no TCP
port is opened (nothing to race for when hundreds of kernels start on one machine) and the warning
has no cause. Pass :class:`IPCKernelManager` to papermill as ``kernel_manager_class``.

jupyter_client interrupts a kernel (SIGINT) before every shutdown request, to stop a cell that
may still run. A report's kernel is idle by then (papermill shuts it down after the last cell), and
when the signal lands between two messages ipykernel logs ``ERROR | KeyboardInterrupt caught in
kernel`` on the console (seen under load in CI). The manager therefore skips the interrupt while it
shuts the kernel down; an interrupt asked for at any other time is sent as before.

A warm kernel (:func:`warm_kernel`, :class:`WarmKernelEngine`): the municipality reports of a run
are many and small, and a fresh kernel costs each about 2,5 s of CPU (its start and the imports of
the first cells). A worker process therefore keeps one kernel and renders its municipality reports
in it, one after the other: a first cell (:func:`reset_cell`) clears the previous report's names and
changes to the report's folder, and is removed from the executed notebook again
(:func:`drop_reset_cell`), so the report is the one a fresh kernel makes (tested byte for byte). A
failed report discards the kernel; after :data:`MAX_REPORTS_PER_KERNEL` reports a fresh one starts.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import uuid
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client import AsyncKernelManager
from jupyter_client.utils import run_sync
from jupyter_core.paths import jupyter_runtime_dir
from papermill.engines import NBClientEngine, papermill_engines

__all__ = [
    "RESET_TAG",
    "WARM_ENGINE",
    "IPCKernelManager",
    "WarmKernelEngine",
    "discard_kernel",
    "drop_reset_cell",
    "reset_cell",
    "warm_kernel",
]


class IPCKernelManager(AsyncKernelManager):
    """An :class:`~jupyter_client.AsyncKernelManager` on ZeroMQ's ``ipc`` transport that does not
    interrupt an idle kernel it is shutting down."""

    transport = "ipc"

    async def _async_interrupt_kernel(self) -> None:
        if self.shutting_down:  # the interrupt jupyter_client sends before a shutdown request
            return
        await super()._async_interrupt_kernel()

    interrupt_kernel = _async_interrupt_kernel


# --- a warm kernel per process, for the many small reports ----------------------------------------

#: The tag of the cell :func:`reset_cell` makes; :func:`drop_reset_cell` removes it again.
RESET_TAG = "meting-kernel-reset"
#: Reports one kernel renders before it is replaced by a fresh one (bounds what a long run keeps).
MAX_REPORTS_PER_KERNEL = 50

_WARM: dict[str, list[Any]] = {}  # kernel name -> [manager, reports rendered]


def reset_cell(cwd: str) -> nbformat.NotebookNode:
    """The first cell of a report in a warm kernel: clear the previous report's names (``%reset
    -f``; imported modules and their caches stay, which is the point) and work in ``cwd``."""
    # the folder first: %reset reads the working folder, the previous report's is gone
    # and the prompt counter: the report's first cell is In [1], as in a fresh kernel
    source = f"import os as _os\n_os.chdir({cwd!r})\n%reset -f\nget_ipython().execution_count = 1"
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = [RESET_TAG]
    cell.id = RESET_TAG
    return cell


def drop_reset_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``nb`` without the cell of :func:`reset_cell` (the executed notebook as a fresh kernel
    would have left it, execution counts renumbered from 1)."""
    nb.cells = [c for c in nb.cells if RESET_TAG not in c.get("metadata", {}).get("tags", [])]
    source = nb.get("metadata", {}).get("papermill", {}).get("input_path")
    if isinstance(source, dict) and "cells" in source:  # papermill keeps the input notebook
        source["cells"] = [
            c for c in source["cells"] if RESET_TAG not in c.get("metadata", {}).get("tags", [])
        ]
    count = 0
    for cell in nb.cells:
        if cell.cell_type != "code" or cell.get("execution_count") is None:
            continue
        count += 1
        cell.execution_count = count
        for output in cell.get("outputs", []):
            if "execution_count" in output:
                output["execution_count"] = count
    return nb


def warm_kernel(kernel_name: str) -> IPCKernelManager:
    """This process's kernel manager for ``kernel_name`` (nbclient starts its kernel on first use
    and leaves it running); a fresh one after :data:`MAX_REPORTS_PER_KERNEL` reports."""
    entry = _WARM.get(kernel_name)
    if entry is not None and entry[1] >= MAX_REPORTS_PER_KERNEL:
        discard_kernel(kernel_name)
        entry = None
    if entry is None:
        # the ipc socket files need an absolute place: by default they go to the working
        # folder of the first report, which is removed when that report is committed
        sockets = Path(jupyter_runtime_dir()) / f"meting-{os.getpid()}-{uuid.uuid4().hex[:8]}-ipc"
        sockets.parent.mkdir(parents=True, exist_ok=True)
        manager = IPCKernelManager(kernel_name=kernel_name, ip=str(sockets))
        entry = _WARM[kernel_name] = [manager, 0]
        if len(_WARM) == 1:
            atexit.register(_shutdown_all)
    entry[1] += 1
    return entry[0]


def discard_kernel(kernel_name: str) -> None:
    """Shut down this process's warm kernel (after a failed report, or at exit)."""
    entry = _WARM.pop(kernel_name, None)
    if entry is not None and entry[0].has_kernel:
        with contextlib.suppress(Exception):
            run_sync(entry[0].shutdown_kernel)(now=True)


def _shutdown_all() -> None:
    for name in list(_WARM):
        discard_kernel(name)


class WarmKernelEngine(NBClientEngine):
    """papermill's nbclient engine on a kernel manager it is given (``km=``), which it leaves
    running; it closes its own client's channels when done (nbclient keeps them open when it
    does not own the manager)."""

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man: Any,
        kernel_name: str,
        log_output: bool = False,
        stdout_file: Any = None,
        stderr_file: Any = None,
        start_timeout: int = 60,
        execution_timeout: int | None = None,
        **kwargs: Any,
    ) -> nbformat.NotebookNode:
        from papermill.clientwrap import PapermillNotebookClient
        from papermill.log import logger
        from papermill.utils import remove_args

        kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
        client = PapermillNotebookClient(
            nb_man,
            timeout=execution_timeout,
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log=logger,
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
            **kwargs,
        )
        # papermill writes the whole notebook to its output path at the start and the end of
        # every cell (about 80 writes of a notebook growing to 700 kB for a municipality
        # report); it writes it once more when the notebook completes or fails
        # (``notebook_complete``, after this method), which is the write a report needs
        output_path, nb_man.output_path = nb_man.output_path, None
        try:
            return client.execute()
        finally:
            nb_man.output_path = output_path
            if client.kc is not None:
                client.kc.stop_channels()


#: The papermill engine name of :class:`WarmKernelEngine` (registered on import).
WARM_ENGINE = "meting-warm-kernel"
papermill_engines.register(WARM_ENGINE, WarmKernelEngine)
