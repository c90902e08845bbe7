"""Edge deployment: ONNX export, ONNX Runtime inference and int8 quantisation (issue #5).

* :mod:`insole_mtl.edge.onnx_export`: ``export_onnx``, ``onnx_session``, ``compare_onnx_to_torch``,
  ``fold_batchnorm``.
* :mod:`insole_mtl.edge.quantization`: ``quantize_int8`` (static, QDQ, per-channel),
  ``quantize_dynamic_int8``, ``accuracy_cost``.
"""
