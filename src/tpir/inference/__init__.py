"""Restoring photos of any size: reading and writing them in their own form, tiling the model over them."""
