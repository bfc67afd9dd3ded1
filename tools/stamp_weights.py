"""Make a training checkpoint a shipped one: copy it with its name, headline and note set.

    python tools/stamp_weights.py SRC DST --name large --headline "Live-1 q10 ..." --note "..."

The weights and every other metadata field are kept as training wrote them.
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
    parser.add_argument("--name", required=True)
    parser.add_argument("--headline", required=True)
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    data = torch.load(args.src, map_location="cpu", weights_only=True)
    weights.read(args.src)  # refuses anything that is not a qgac checkpoint
    data["metadata"] = {**data["metadata"], "name": args.name, "headline": args.headline, "note": args.note}
    torch.save(data, args.dst + ".tmp")
    os.replace(args.dst + ".tmp", args.dst)


if __name__ == "__main__":
    main()
