"""Restoring: DCT maths (`dct`), coefficients as tensors and the projection (`coefficients`),
the model's one path (`restoration`), tiles bounded in memory (`tiling`), and batches of files
(`batch`). `qgac_cli.api` is the entry for one image."""
