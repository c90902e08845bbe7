"""Edge deployment: ONNX export, ONNX Runtime inference and int8 quantisation (issue #5).

Works for every model family whatever its inputs: a model's inputs are a tuple of model-ready tensors in
``model.input_names`` order, and the exported graph has one input per model input, named after them
(``"recurrence_plots"`` and/or ``"windows"``, dynamic batch axis).

* :mod:`insole_mtl.edge.onnx_export`: ``export_onnx``, ``onnx_session``, ``session_feed``, ``run_session``,
  ``torch_outputs``, ``compare_onnx_to_torch``, ``fold_batchnorm``.
* :mod:`insole_mtl.edge.quantization`: ``quantize_int8`` (static, QDQ, per-channel, calibrated with every
  input), ``quantize_dynamic_int8``, ``accuracy_cost``.
"""
