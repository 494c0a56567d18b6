"""Routes for model types optimum cannot export: choosing them and running them.

Light (engine side): ``routes`` (which routes to offer, their words), ``outlook`` (which route
``--auto-fix`` takes first and its measured odds, from ``data/coverage.json``). Child side,
heavy imports inside functions: ``child`` (the export child's entry), ``ladder`` (routes in
order until one validates), ``lineage`` (the registered type a model derives from), ``borrow``
(optimum with that type's ONNX config: KV cache, encoder-decoder split and merge), ``generic``
and ``cached`` (torch.onnx on config-built inputs, decoders with their KV cache), ``inputs``
(inputs from a config at traced and untraced shapes), ``verify`` (validation at untraced shapes).
"""
