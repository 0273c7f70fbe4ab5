"""``sarco export-tag (--case ID | IMAGE MASK) --out FILE [--slice K]``: a mask as a Slice-O-Matic TAG file."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "export-tag"
HELP = "Write a mask (a stored case's latest version, or a mask file on a DICOM image) as a Slice-O-Matic .tag."

EPILOG = """\
The TAG holds one byte per pixel of the DICOM slice in its stored pixel order, with the Alberta tags
(1 muscle, 2 IMAT = muscle-compartment pixels in -190..-30 HU, 5 VAT, 7 SAT; --no-imat writes IMAT as 1).
Name it X.dcm.tag and put it beside the slice's DICOM file X.dcm so sliceOmatic opens it with the image.
Only DICOM images have a TAG (a NIfTI input has no DICOM slice to open it with).
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = EPILOG
    p.add_argument("image", nargs="?", help="CT: DICOM file/folder/zip (with MASK)")
    p.add_argument("mask", nargs="?", help="mask on the image: .nii/.nii.gz, DICOM-SEG, .png or .tag")
    p.add_argument("--case", type=int, help="a case id of the case database (its latest mask version)")
    p.add_argument("--slice", type=int, help="canonical slice (0 = most inferior) when the mask does not tell")
    p.add_argument("--tag-map", default="alberta", help="tag values of our labels (default alberta)")
    p.add_argument("--no-imat", action="store_true", help="write muscle-compartment fat pixels as muscle (tag 1)")
    p.add_argument("--out", required=True, help="the .tag file to write (e.g. IM0001.dcm.tag)")


def run(args: argparse.Namespace) -> int:
    from sarco_core.errors import InputNotFoundError
    from sarco_core.masks import ValueMap, import_case, mask_to_tag

    tag_map = ValueMap.parse(args.tag_map)
    if args.case is not None:
        from sarco_core.store import Store

        with Store.open() as store:
            v = store.latest_version(args.case)
            volume, labels, k = store.load_volume(args.case), store.get_mask(v.id), v.slice_index
    elif args.image and args.mask:
        case = import_case(args.mask, args.image, slice_index=args.slice)
        volume, labels, k = case.volume, case.mask.labels, 0
    else:
        raise InputNotFoundError("Give --case ID, or an IMAGE and its MASK (see `sarco export-tag -h`).")
    mask_to_tag(volume, labels, k, Path(args.out), tag_map=tag_map, imat_from_hu=not args.no_imat)
    print(f"wrote {args.out}")
    return 0
