"""The exported model folder and its restorer (``tpir.load``), tiling, and the tpir-export and tpir-restore commands."""
