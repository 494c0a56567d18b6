"""Publishing: the onnx-community layout, a truthful model card, and the upload to the Hub.

``api.prepare_publish`` stages the layout and the card (local only, no request);
``api.upload_staged`` sends it. ``variants`` and ``layout`` are plain file work, ``card`` builds
the card with huggingface_hub's ``ModelCard``, ``hub`` talks to the Hub. May import inspection,
planning and the engine's plain modules; never the flow, the runner or the renderers.
huggingface_hub and onnx are imported inside the functions that need them.
"""
