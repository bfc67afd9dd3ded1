"""Carry a fine-tune (a GAN sibling) over to newer weights of its base: NEW + (FINETUNE − OLD).

    python tools/rebase_weights.py FINETUNE OLD NEW DST [--name large-gan --headline ... --note ...]

OLD is the checkpoint FINETUNE was fine-tuned from, NEW the newer weights of the same lineage
(e.g. the shipped `large` after more training); names of shipped weights work for all three.
Writes a checkpoint whose metadata is the fine-tune's, with the rebase recorded.
"""

from __future__ import annotations

import argparse

from qgac_cli import weights


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
    delta = (
        sum(
            float((finetune.state_dict[k] - old.state_dict[k]).norm() ** 2)
            for k in rebased.state_dict
            if rebased.state_dict[k].is_floating_point()
        )
        ** 0.5
    )
    size = sum(float(v.norm() ** 2) for v in old.state_dict.values() if v.is_floating_point()) ** 0.5
    print(f"{args.dst}: the fine-tune's change is {delta / size:.2%} of the weights' norm")


if __name__ == "__main__":
    main()
