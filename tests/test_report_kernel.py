"""The report kernel's manager (meting.report.kernel): IPC transport, and no SIGINT to an idle
kernel that is being shut down (ipykernel logs 'KeyboardInterrupt caught in kernel' for it)."""

from __future__ import annotations

import asyncio
import signal
import sys
import time

import pytest

from meting.report.kernel import IPCKernelManager


class _Recorder(IPCKernelManager):
    """The manager with the signal recorded instead of sent (no kernel process is started)."""

    def __init__(self) -> None:
        super().__init__(kernel_name="python3")
        self.sent: list[int] = []

    @property
    def has_kernel(self) -> bool:  # the interrupt path needs a kernel
        return True

    async def _async_signal_kernel(self, signum: int) -> None:
        self.sent.append(signum)


def test_transport_is_ipc() -> None:
    assert IPCKernelManager(kernel_name="python3").transport == "ipc"


def test_no_interrupt_while_shutting_down_but_otherwise_as_before() -> None:
    km = _Recorder()
    km._kernel_spec = km.kernel_spec_manager.get_kernel_spec("python3")
    assert km.kernel_spec.interrupt_mode == "signal"
    asyncio.run(km.interrupt_kernel())
    assert km.sent == [signal.SIGINT]  # an interrupt asked for while running: sent
    km.shutting_down = True
    asyncio.run(km.interrupt_kernel())
    asyncio.run(km._async_interrupt_kernel())  # what _async_shutdown_kernel calls
    assert km.sent == [signal.SIGINT]  # none added during the shutdown


def test_reset_cell_is_dropped_and_the_counts_renumbered() -> None:
    import nbformat

    from meting.report.kernel import RESET_TAG, drop_reset_cell, reset_cell

    nb = nbformat.v4.new_notebook()
    first = nbformat.v4.new_code_cell("x = 1")
    first.execution_count = 2
    first.outputs = [nbformat.v4.new_output("execute_result", data={}, execution_count=2)]
    nb.cells = [reset_cell("/tmp/somewhere"), nbformat.v4.new_markdown_cell("tekst"), first]
    nb.metadata["papermill"] = {"input_path": {"cells": [dict(nb.cells[0]), dict(first)]}}
    assert "%reset -f" in nb.cells[0].source and "/tmp/somewhere" in nb.cells[0].source
    out = drop_reset_cell(nb)
    assert [c.cell_type for c in out.cells] == ["markdown", "code"]
    assert out.cells[1].execution_count == 1 and out.cells[1].outputs[0].execution_count == 1
    assert RESET_TAG not in str(out.metadata)


def test_task_cpu_counts_a_child_that_still_runs() -> None:
    """A warm kernel is not reaped between reports: its CPU seconds count while it runs."""
    import subprocess
    import sys
    import time

    from meting.report.distributed import _cpu

    before = _cpu()
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.5: pass\n"
    child = subprocess.Popen([sys.executable, "-c", burn + "time.sleep(30)"])
    try:
        deadline = time.monotonic() + 20
        while _cpu() - before < 0.5 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _cpu() - before >= 0.5 and child.poll() is None  # counted while alive
    finally:
        child.kill()
        child.wait()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM is Linux's")
def test_peak_memory_of_a_child_is_its_own_not_its_parents() -> None:
    """A child started while this process holds 400 MB reports its own peak (a bare
    interpreter: well under 200 MB), where ``ru_maxrss`` can start at the parent's size."""
    import subprocess

    import numpy as np
    import psutil

    from meting.report.distributed import _kernel_peak_mb, _peak_mb

    ballast = np.ones(50_000_000)  # 400 MB resident in this process
    own = _peak_mb()
    assert own is not None and own >= psutil.Process().memory_info().rss / 2**20 - 1
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.5)
        assert _peak_mb(child.pid) is not None
        assert _kernel_peak_mb() < 200 < own
    finally:
        child.kill()
        child.wait()
    del ballast
