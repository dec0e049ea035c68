"""The report kernel's manager (meting.report.kernel): IPC transport, and no SIGINT to an idle
kernel that is being shut down (ipykernel logs 'KeyboardInterrupt caught in kernel' for it)."""

from __future__ import annotations

import asyncio
import signal

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
