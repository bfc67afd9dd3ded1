"""Make a training checkpoint a shipped one: copy it with its name, headline and note set.

    python tools/stamp_weights.py SRC DST --name large --headline "Live-1 q10 ..." --note "..." [--fp16]

The weights and every other metadata field are kept as training wrote them; --fp16 stores
the learned tensors in half precision (half the bytes; `qgac_cli.weights.read` upcasts them),
which the shipped weights use where Live-1 moves by < 0.001 dB (weights/README.md).
Without --name/--headline the metadata is kept as it is (for --fp16 alone).
"""

from __future__ import annotations

import argparse
import os

import torch

from qgac_cli import weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src")
    parser.add_argument("dst")
    parser.add_argument("--name")
    parser.add_argument("--headline")
    parser.add_argument("--note")
    parser.add_argument("--fp16", action="store_true", help="store the learned tensors in half precision")
    args = parser.parse_args()
    data = torch.load(args.src, map_location="cpu", weights_only=True)
    weights.read(args.src)  # refuses anything that is not a qgac checkpoint
    stamped = {"name": args.name, "headline": args.headline, "note": args.note}
    data["metadata"] = {**data["metadata"], **{k: v for k, v in stamped.items() if v is not None}}
    if args.fp16:
        data["state_dict"] = weights.halved(data["state_dict"])
    torch.save(data, args.dst + ".tmp")
    os.replace(args.dst + ".tmp", args.dst)


if __name__ == "__main__":
    main()
