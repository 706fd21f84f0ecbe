"""Inference: the model folder (:mod:`~tpir.inference.folder`), the restorer that ``tpir.load`` returns
(:mod:`~tpir.inference.restorer`: precision, tiling, any-input ``restore``), prompts as a restorer takes
them (:mod:`~tpir.inference.interpretation`), and training checkpoints turned into restorers."""
