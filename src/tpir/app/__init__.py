"""``tpir-app``: a local web page over ``tpir.load(...).restore(...)`` (Gradio, the optional ``app`` extra)."""
