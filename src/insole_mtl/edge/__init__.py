"""Edge deployment: ONNX export, ONNX Runtime inference and int8 quantisation (issue #5).

Works for every model family whatever its inputs: a model's inputs are a tuple of model-ready tensors in
``model.input_names`` order, and the exported graph has one input per model input, named after them
(``"recurrence_plots"`` and/or ``"windows"``, dynamic batch axis).

* :mod:`insole_mtl.edge.onnx_export`: ``export_onnx``, ``onnx_session``, ``session_feed``, ``run_session``,
  ``torch_outputs``, ``compare_onnx_to_torch``, ``fold_batchnorm``.
* :mod:`insole_mtl.edge.quantization`: ``quantize_int8`` (static, QDQ, per-channel, calibrated with every
  input), ``quantize_dynamic_int8``, ``accuracy_cost``.
* :mod:`insole_mtl.edge.raw_window` (issue #11): the SELF-CONTAINED graph, raw windows ``(batch, C, L)`` in sensor
  units in, recurrence plots (bit-identical to the encoder's, in the formulation ONNX Runtime runs fastest:
  ``RecurrenceCounts``) and amplitude statistics computed inside it (``export_raw_window_onnx``,
  ``export_int8_raw_window_onnx``), the tuned batch-1 session and the per-CPU default variant.
* :mod:`insole_mtl.edge.conv_channels`: ``pad_conv_input_channels``, zero input channels for the convolutions ONNX
  Runtime's CPU kernels run slowly at their width (the edge graphs' 14-channel stem), exact.
* :mod:`insole_mtl.edge.raw_benchmark`: ``python -m insole_mtl.edge.raw_benchmark --data-dir data/test``, every
  path side by side in one run (PyTorch pipeline, stock ORT fp32, tuned fp32/int8) with agreement figures.
"""
