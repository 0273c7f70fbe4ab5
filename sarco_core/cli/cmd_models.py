"""``sarco models list | promote NAME | rollback [--to NAME]``: the model registry (see sarco_core.model_registry)."""

from __future__ import annotations

import argparse

from sarco_core.cli import print_json

NAME = "models"
HELP = (
    "Model registry: list models (the active one marked), promote a fine-tuned candidate (only when it beats its "
    "parent on the held-out site cases by the written rule), roll back to the previous or a named earlier model."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="list registered models; * marks the active one")
    ls.add_argument("--json", action="store_true", help="print one JSON object")
    pr = sub.add_parser("promote", help="promote a candidate by the registry's rule")
    pr.add_argument("name")
    rb = sub.add_parser("rollback", help="re-activate the previously active model (or --to NAME)")
    rb.add_argument("--to", default=None, help="a shipped or earlier promoted model")


def run(args: argparse.Namespace) -> int:
    from sarco_core.model_registry import Registry

    reg = Registry.load()
    if args.action == "promote":
        reg, why = reg.promote(args.name)
        print(f"promoted {args.name}: {why}")
        return 0
    if args.action == "rollback":
        reg = reg.rollback(args.to)
        a = reg.active
        print(f"active model: {a.name if a else '-'} ({a.path if a else '-'})")
        return 0
    active = reg.active
    if getattr(args, "json", False):
        print_json(
            {
                "registry": str(reg.root),
                "active": active.name if active else None,
                "entries": [e.to_dict() for e in reg.entries],
                "history": list(reg.history),
            }
        )
        return 0
    print(f"registry: {reg.root}")
    for e in reg.entries:
        mark = "*" if active is not None and e.name == active.name else " "
        sc = (
            ""
            if e.child_scores is None
            else (
                f"  held-out Dice {e.child_scores.dice_median:.3f} (parent {e.parent_scores.dice_median:.3f})"
                if e.parent_scores
                else ""
            )
        )
        print(f"{mark} {e.name:<28} {e.status.value:<9} parent={e.parent or '-'}{sc}")
        if e.decision:
            print(f"    {e.decision}")
    return 0
