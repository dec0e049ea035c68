"""The notebook kernel of a report: IPC transport, so the console stays clean.

ipykernel 7 logs ``Kernel is running over TCP without encryption`` whenever its sockets are TCP
without CurveZMQ keys. A report's kernel is a child on the same machine, so it talks over Unix
domain sockets (ZeroMQ ``ipc``) next to its connection file in Jupyter's runtime folder: no TCP
port is opened (nothing to race for when hundreds of kernels start on one machine) and the warning
has no cause. Pass :class:`IPCKernelManager` to papermill as ``kernel_manager_class``.
"""

from __future__ import annotations

from jupyter_client import AsyncKernelManager

__all__ = ["IPCKernelManager"]


class IPCKernelManager(AsyncKernelManager):
    """An :class:`~jupyter_client.AsyncKernelManager` on ZeroMQ's ``ipc`` transport."""

    transport = "ipc"
