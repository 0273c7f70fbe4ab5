"""``sarco import-masks [DIR] [--manifest m.csv] --out SET [--tag-map MAP]``: expert masks into an import set."""

from __future__ import annotations

import argparse
import sys

from sarco_core.cli import print_json

NAME = "import-masks"
HELP = (
    "Import expert masks (Slice-O-Matic TAG, NIfTI, DICOM-SEG, PNG) with their CT into an import set "
    "that `sarco validate` reads."
)

EPILOG = """\
Cases come from a manifest, or (without --manifest) from DIR: every X.dcm.tag (or X.tag) under DIR with its
DICOM slice X.dcm beside it.

Manifest (CSV, header row, UTF-8): case_id,image,mask[,format,slice,height_m,weight_kg,sex]
  case_id    a case code (never a patient name or ID)
  image      the CT: DICOM file, series folder, .zip or NIfTI (may be empty for a TAG beside its X.dcm)
  mask       the expert mask: .tag, .nii/.nii.gz, DICOM-SEG (.dcm) or .png
  format     tag | nifti | seg | png (default: from the file)
  slice      canonical slice index (0 = most inferior), only when the mask does not tell
             (a PNG on a series, a 3-D mask traced on several slices)
  height_m, weight_kg, sex   patient data for SMI and the sarcopenia call (optional)
Relative paths are relative to DIR when given, else to the manifest's folder.

Values: TAG tags map by --tag-map (default alberta: 1 muscle, 2 IMAT -> muscle compartment, 5 VAT, 7 SAT);
PNG by --png-map (default labels: 0-3 our labels, 255 muscle); NIfTI must hold 0-3 unless --nifti-map is given.
A value the map does not name is refused: extend the map, e.g. --tag-map alberta,12=0.
Nothing is resampled: a mask on another grid (shape, spacing, orientation, position) is refused.

Output (--out SET): SET/import_report.csv (one line per row: ok, or error with its reason),
SET/import.json, SET/cases/<case_id>/{image.nii.gz, reference.nii.gz, case.json}.
With --store each case is also kept in the case database: a case holding the traced slice (de-identified),
its expert mask as a version with source imported:<format> (later analyses and edits add versions; the
imported one is never replaced). A case_id already used by another image is refused.
Exit code: 0 every row ok, 1 some rows failed (see the report), 2 the import could not start.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = EPILOG
    p.add_argument("folder", nargs="?", help="folder of X.dcm + X.dcm.tag pairs, or the base of the manifest's paths")
    p.add_argument("--manifest", help="CSV with case_id,image,mask[,format,slice,height_m,weight_kg,sex]")
    p.add_argument("--out", required=True, help="import-set folder to write (read by `sarco validate`)")
    p.add_argument("--tag-map", default="alberta", help="TAG value map (default alberta; e.g. alberta,12=0)")
    p.add_argument("--png-map", default="labels", help="PNG value map (default labels; e.g. 0=0,255=1)")
    p.add_argument("--nifti-map", default=None, help="NIfTI value map (default: the file holds our labels 0-3)")
    p.add_argument(
        "--store",
        action="store_true",
        help="also keep each imported case in the case database (SARCO_DB_URL), version source "
        "imported:<format>, for `sarco finetune --from-store` and the app",
    )
    p.add_argument("--actor", default=None, help="who imports (recorded in the audit trail; default $USER)")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")


def run(args: argparse.Namespace) -> int:
    from sarco_core.errors import ManifestError
    from sarco_core.masks import ImportOutcome, ValueMap, import_rows, read_manifest, scan_folder, write_import_set

    maps = {
        "tag_map": ValueMap.parse(args.tag_map),
        "png_map": ValueMap.parse(args.png_map),
        "nifti_map": ValueMap.parse(args.nifti_map) if args.nifti_map else None,
    }
    if args.manifest:
        rows = read_manifest(args.manifest, base=args.folder)
    elif args.folder:
        rows = scan_folder(args.folder)
    else:
        raise ManifestError("Give a folder of DICOM + TAG pairs, or --manifest m.csv (see `sarco import-masks -h`).")

    def progress(o: ImportOutcome) -> None:
        if not args.json:
            d = o.to_dict()
            tail = f"slice {d['slice_index']}" if d["status"] == "ok" else d["reason"]
            print(f"row {d['row']:>4} {d['case_id'] or '-':<24} {d['status']:<5} {tail}", file=sys.stderr)

    report = import_rows(rows, progress=progress, **maps)
    if args.store:
        import os

        from sarco_core.store import Store
        from sarco_core.store.imports import store_report

        with Store.open() as store:
            report = store_report(store, report, actor=args.actor or os.environ.get("USER") or "import-masks")
    out = write_import_set(report, args.out)
    if args.json:
        print_json(
            {
                "out": str(out),
                "n_rows": len(report.outcomes),
                "n_ok": report.n_ok,
                "n_error": report.n_error,
                "rows": [o.to_dict() for o in report.outcomes],
            }
        )
    else:
        print(
            f"{report.n_ok} of {len(report.outcomes)} rows imported into {out} "
            f"({report.n_error} errors; see {out / 'import_report.csv'})"
        )
    return 0 if report.n_error == 0 else 1
