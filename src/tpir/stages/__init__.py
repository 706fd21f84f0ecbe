"""The stage runners that ``conf/stage/`` names: stage 1 (``text``) and stage 2 (``restore``)."""
