"""Memory of a model: peak resident memory of inference in a fresh process, and training memory.

* :func:`run_child` runs code in a FRESH interpreter and reports that child's own peak RSS (``VmHWM``),
  so a measurement is not the high-water mark of what ran before in the same process;
* :func:`inference_peak_rss`: batch-1 inference (3 passes) of eager PyTorch and ONNX Runtime sessions;
* :func:`saved_activation_bytes` / :func:`cuda_peak_training_mb`: the training-memory figures of
  :func:`insole_mtl.efficiency.figures.model_efficiency`.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from insole_mtl.efficiency.latency import Example, as_example, repeat_batch
from insole_mtl.models import MultitaskModel

logger = logging.getLogger(__name__)


def _child_env() -> dict[str, str]:
    # The child must import insole_mtl exactly as this process does (src layout, editable or not).
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}


#: Child-side peak-RSS probe in KiB. ``ru_maxrss`` is NOT reset by exec on Linux, so a child forked from a
#: big parent reports the parent's peak; ``VmHWM`` belongs to the new address space and is. Falls back to
#: ``ru_maxrss`` where /proc is absent (macOS).
_PEAK_KB_SOURCE = """
def _peak_kb():
    try:
        with open("/proc/self/status") as _f:
            for _line in _f:
                if _line.startswith("VmHWM:"):
                    return int(_line.split()[1])
    except OSError:
        pass
    import resource as _r
    return _r.getrusage(_r.RUSAGE_SELF).ru_maxrss * (1 if __import__("sys").platform != "darwin" else 1 / 1024)
"""


def run_child(code: str, stdin: bytes = b"", timeout: float = 3600.0) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter; it must print one JSON object as its last stdout line.

    The returned dict gets ``peak_rss_mb`` (the child's own peak RSS, ``VmHWM``, in MiB) and ``wall_s`` added.
    """
    wrapped = _PEAK_KB_SOURCE + code + textwrap.dedent(
        """
        import json as _json, sys as _sys
        _result["peak_rss_kb"] = _peak_kb()
        _sys.stdout.write("\\n" + _json.dumps(_result) + "\\n")
        """
    )
    start = time.perf_counter()
    process = subprocess.run(
        [sys.executable, "-c", wrapped], input=stdin, capture_output=True, timeout=timeout, env=_child_env()
    )
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise RuntimeError(f"memory-benchmark child failed (exit {process.returncode}):\n{process.stderr.decode()[-3000:]}")
    lines = [line for line in process.stdout.decode().splitlines() if line.strip()]
    result = json.loads(lines[-1])
    result["peak_rss_mb"] = result.pop("peak_rss_kb") / 2**10
    result["wall_s"] = wall
    return result


def _peak_rss_code(kind: str, n_inputs: int) -> str:
    engine = "import onnxruntime as ort\n" if kind == "onnx" else "import torch\nimport insole_mtl.models\n"
    load = (
        "opts = ort.SessionOptions(); opts.log_severity_level = 3\n"
        "model = ort.InferenceSession(blob, opts, providers=['CPUExecutionProvider'])\n"
        "feed = dict(zip([i.name for i in model.get_inputs()], xs))\n"  # graph inputs in input_names order
        "for _ in range(3): model.run(None, feed)\n"
        if kind == "onnx"
        else "model = torch.load(io.BytesIO(blob), weights_only=False).eval()\n"
        "xt = [torch.from_numpy(x) for x in xs]\n"
        "with torch.inference_mode():\n"
        "    for _ in range(3): model(*xt)\n"
    )
    return (
        "import io, sys\nimport numpy as np\n" + engine
        + "baseline = _peak_kb()\n"
        + "blob = open(MODEL, 'rb').read()\n"
        + f"with np.load(EXAMPLE) as _f: xs = [np.ascontiguousarray(_f['x{{}}'.format(i)]) for i in range({n_inputs})]\n"
        + load
        + "_result = {'baseline_rss_kb': baseline}\n"
    )  # fmt: skip


def inference_peak_rss(
    model: MultitaskModel | None,
    example: Example,
    onnx_model: bytes | None = None,
    onnx_model_int8: bytes | None = None,
) -> dict[str, float | None]:
    """Peak RSS (MiB) of batch-1 inference (3 passes) on ``example``, each engine in a fresh subprocess.

    Any number of model inputs: the
    pickled model (``torch.save``) or ONNX bytes and the example's arrays (``.npz``) go to the child
    through a temporary folder; ONNX sessions are fed the arrays in graph-input (= ``input_names``) order.

    Returns:
        ``peak_rss_mb_{torch,onnx,int8}_bs1``: the child's peak RSS (None for an engine not given) and
        ``inference_rss_mb_{...}_bs1``: the part above the child's RSS right after its imports.
    """
    inputs = tuple(x.detach().to("cpu", torch.float32).numpy() for x in as_example(example))
    torch_blob = None
    if model is not None:
        buffer = io.BytesIO()
        torch.save(model.to("cpu"), buffer)
        torch_blob = buffer.getvalue()
    engines = {"torch": ("torch", torch_blob), "onnx": ("onnx", onnx_model), "int8": ("onnx", onnx_model_int8)}
    result: dict[str, float | None] = {}
    with tempfile.TemporaryDirectory(prefix="insole_rss_") as tmp:
        example_path = Path(tmp, "example.npz")
        np.savez(example_path, **{f"x{i}": x for i, x in enumerate(inputs)})
        for key, (kind, blob) in engines.items():
            if blob is None:
                result[f"peak_rss_mb_{key}_bs1"] = result[f"inference_rss_mb_{key}_bs1"] = None
                continue
            model_path = Path(tmp, f"{key}.bin")
            model_path.write_bytes(blob)
            code = f"MODEL = {str(model_path)!r}\nEXAMPLE = {str(example_path)!r}\n" + _peak_rss_code(kind, len(inputs))
            child = run_child(code, timeout=600)
            result[f"peak_rss_mb_{key}_bs1"] = child["peak_rss_mb"]
            result[f"inference_rss_mb_{key}_bs1"] = child["peak_rss_mb"] - child["baseline_rss_kb"] / 2**10
            model_path.unlink()
    return result


def saved_activation_bytes(model: nn.Module, example: Example) -> int:
    """Bytes of the tensors autograd saves for backward in one training-mode forward of ``example``.

    Runs on a copy of ``model`` (BatchNorm running statistics of the original stay untouched).
    """
    probe = copy.deepcopy(model).train()
    storages: dict[tuple[int, int], int] = {}
    parameter_ptrs = {p.data_ptr() for p in probe.parameters()}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameter_ptrs:
            storages[(storage.data_ptr(), storage.nbytes())] = storage.nbytes()
        return tensor

    with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        device = next(probe.parameters()).device
        probe(*(x.to(device) for x in as_example(example)))
    return int(sum(storages.values()))


def cuda_peak_training_mb(model: nn.Module, example: Example, batch_size: int) -> float | None:
    """Measured peak CUDA memory (MiB) of one forward+backward step at ``batch_size``; None without CUDA.

    The step runs as the training engine runs it on CUDA: ``precision="auto"`` autocast (bf16, or fp16 on
    GPUs without bf16) and channels_last for 4-D inputs. None (and a warning) when it does not fit.
    """
    if not torch.cuda.is_available():
        return None
    from insole_mtl.training.engine import autocast_context, resolve_precision

    device = torch.device("cuda")
    precision = resolve_precision("auto", device)
    try:
        probe = copy.deepcopy(model).to(device).train()
        batch = tuple(x.to(device) for x in repeat_batch(example, batch_size))
        if any(x.ndim == 4 for x in batch):
            probe = probe.to(memory_format=torch.channels_last)
            batch = tuple(x.contiguous(memory_format=torch.channels_last) if x.ndim == 4 else x for x in batch)
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        with autocast_context(device, precision):
            outputs = probe(*batch)
        loss = sum(value.float().sum() for value in outputs.values())
        loss.backward()
        torch.cuda.synchronize(device)
        return float(torch.cuda.max_memory_allocated(device) / 2**20)
    except torch.cuda.OutOfMemoryError:
        logger.warning("one training step at batch %d does not fit on the GPU: peak memory not measured", batch_size)
        return None
    finally:
        probe = batch = outputs = loss = None  # noqa: F841 - release before emptying the cache
        torch.cuda.empty_cache()
