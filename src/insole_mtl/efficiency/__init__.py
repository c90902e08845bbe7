"""Efficiency of a model, in one vocabulary for every model family and every kind of run.

Modules: :mod:`~insole_mtl.efficiency.complexity` (parameters, MACs, size), :mod:`~insole_mtl.efficiency.latency`
(PyTorch, ONNX Runtime and CUDA timing), :mod:`~insole_mtl.efficiency.memory` (peak RSS of inference in a fresh
process, training memory), :mod:`~insole_mtl.efficiency.figures` (a protocol run's figures) and
:mod:`~insole_mtl.efficiency.inference` (the benchmark stage's figures: ONNX fp32/int8, throughput, MTL vs
single-task). An example is one window per model input, in ``model.input_names`` order.

The keys every figure uses (protocol ``run_result.efficiency``, the single run's ``efficiency.json``,
MLflow ``efficiency.*``):

==========================  ==========================================================================
``params``                  trainable parameter elements
``macs``                    multiply-accumulates of one window: convolutions, linear and recurrent layers
                            (the paper's "MACs" column)
``macs_with_elementwise``   ``macs`` + ptflops' BatchNorm, activation and pooling element counts
``model_size_mb``           ``torch.save(state_dict)`` bytes / 2**20
``latency_ms_<engine>_bs1`` batch-1 latency (mean; ``_std``, ``_median``, ``_min``), engine ``cpu`` (eager
                            PyTorch), ``cuda``, ``onnx`` (ONNX Runtime fp32), ``int8``
``throughput_windows_per_s_<engine>``  windows/s at ``throughput_batch``
``peak_rss_mb_<engine>_bs1``  peak RSS of batch-1 inference in a fresh process
``activation_mb_per_window``  bytes autograd saves for backward per window / 2**20
``train_memory_mb``         estimated training memory at ``memory_batch_size`` (fp32, AdamW)
``cuda_peak_train_mb``      measured peak CUDA memory of one training step (None without CUDA)
==========================  ==========================================================================
"""
