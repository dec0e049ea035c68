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
"""

from __future__ import annotations

from jupyter_client import AsyncKernelManager

__all__ = ["IPCKernelManager"]


class IPCKernelManager(AsyncKernelManager):
    """An :class:`~jupyter_client.AsyncKernelManager` on ZeroMQ's ``ipc`` transport that does not
    interrupt an idle kernel it is shutting down."""

    transport = "ipc"

    async def _async_interrupt_kernel(self) -> None:
        if self.shutting_down:  # the interrupt jupyter_client sends before a shutdown request
            return
        await super()._async_interrupt_kernel()

    interrupt_kernel = _async_interrupt_kernel
