"""Carry a fine-tune (a GAN sibling) over to newer weights of its base: NEW + (FINETUNE − OLD).

    python tools/rebase_weights.py FINETUNE OLD NEW DST [--name large-gan --headline ... --note ...]

OLD is the checkpoint FINETUNE was fine-tuned from, NEW the newer weights of the same lineage
(e.g. the shipped `large` after more training); names of shipped weights work for all three.
Writes a checkpoint whose metadata is the fine-tune's, with the rebase recorded.
"""

from __future__ import annotations

import argparse

from qgac_cli import weights


def _norm(state: dict) -> float:
    """The Euclidean norm of all floating-point tensors of a state together."""
    return sum(float(v.norm() ** 2) for v in state.values() if v.is_floating_point()) ** 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("finetune")
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("dst")
    parser.add_argument("--name", default=None)
    parser.add_argument("--headline", default=None)
    parser.add_argument("--note", default=None)
    args = parser.parse_args()
    finetune, old, new = (weights.read(weights.resolve(n)) for n in (args.finetune, args.old, args.new))
    rebased = weights.rebase(finetune, old, new)
    changes = {k: v for k, v in (("name", args.name), ("headline", args.headline), ("note", args.note)) if v}
    model = weights.build(rebased, args.dst)  # refuses non-finite weights
    weights.save(model, args.dst, {**rebased.metadata, **changes})
    change = {k: finetune.state_dict[k] - v for k, v in old.state_dict.items() if v.is_floating_point()}
    print(f"{args.dst}: the fine-tune's change is {_norm(change) / _norm(old.state_dict):.2%} of the weights' norm")


if __name__ == "__main__":
    main()
