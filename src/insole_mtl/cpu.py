"""What CPU this is: its model name and feature flags (``/proc/cpuinfo`` on Linux).

Every timing names the flags it ran with (AVX2, AVX-512 bf16 / VNNI, AMX), and the edge model picks its
variant from them, so both read them here.
"""

from __future__ import annotations

import platform


def cpu_info() -> tuple[str | None, set[str] | None]:
    """``(model name, flags)`` of the first CPU in ``/proc/cpuinfo``; the flags are None where it is absent."""
    name, flags = None, None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and name is None:
                    name = value.strip()
                elif key == "flags" and flags is None:
                    flags = set(value.split())
                if name is not None and flags is not None:
                    break
    except OSError:
        pass
    return name or platform.processor() or None, flags
