"""Tissue ids of the phantom's fine ``tissue`` map, their measurement labels, and vertebra ids.

``TISSUES`` maps a tissue name to its id in ``PhantomSlice.tissue``; ``LABEL_OF[id]`` gives the measurement
label (0 background/other, 1 skeletal muscle compartment, 2 SAT, 3 VAT: the convention of
:mod:`sarco_core.metrics`). Muscle tissues, including the intermuscular fat streaks (``imat``) and the thin
fat planes between abdominal-wall layers, are label 1; ``sat`` and its fibrous ``sat_septa`` are label 2;
intra-abdominal and retroperitoneal fat (``vat``, ``renal_sinus_fat``, ``mesentery`` strands) is label 3;
skin, bone, organs, bowel, vessels, lymph nodes, the diaphragm and its crura, arms and the table are label 0
(the diaphragm is skeletal muscle, but the L3 protocol's skeletal muscle area leaves it out, and so does this
package at every level).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

TISSUES: dict[str, int] = {
    "air": 0,  # outside the body, inside the field of view
    "outside_fov": 1,  # outside the reconstruction circle (padding, -1024 HU)
    "skin": 2,
    "sat": 3,
    "vat": 4,
    "imat": 5,  # fat streaks / fat planes inside the muscle compartment
    "sat_septa": 6,  # thin fibrous septa inside subcutaneous fat (label 2; HU between fat and soft tissue)
    "rectus": 10,
    "external_oblique": 11,
    "internal_oblique": 12,
    "transversus": 13,
    "latissimus": 14,
    "psoas": 15,
    "quadratus_lumborum": 16,
    "erector_spinae": 17,
    "multifidus": 18,
    "iliacus": 19,
    "gluteal": 20,
    "vertebral_body": 30,  # cancellous bone
    "vertebral_cortex": 31,  # cortical rim and endplates
    "posterior_elements": 32,  # pedicles, transverse processes, laminae, spinous process
    "disc": 33,
    "spinal_canal": 34,
    "rib": 35,
    "cartilage": 36,  # costal cartilage
    "sacrum": 37,
    "ilium": 38,
    "femur": 39,
    "calcification": 40,
    "liver": 50,
    "spleen": 51,
    "kidney": 52,
    "renal_sinus_fat": 53,
    "renal_pelvis": 54,
    "pancreas": 55,
    "aorta": 56,
    "ivc": 57,
    "vessel": 58,  # other vessels: renal, mesenteric, iliac, hepatic
    "bowel_wall": 60,
    "bowel_content": 61,  # fluid / chyme
    "bowel_gas": 62,
    "oral_contrast": 63,
    "feces": 64,
    "lung": 65,
    "bladder": 66,
    "gallbladder": 67,
    "diaphragm": 68,  # crura and posterior diaphragm (contacts="hard"): label 0, not skeletal muscle area
    "lymph_node": 69,  # para-aortic nodes (contacts="hard"), label 0
    "mesentery": 7,  # thin mesenteric vessel / fibrous strands inside VAT (contacts="hard"; label 3 like sat_septa)
    "arm_fat": 70,
    "arm_muscle": 71,
    "arm_bone": 72,
    "table": 80,
    "table_foam": 81,
    "mattress": 82,
}

T = TISSUES
MUSCLE_TISSUES = (
    "rectus",
    "external_oblique",
    "internal_oblique",
    "transversus",
    "latissimus",
    "psoas",
    "quadratus_lumborum",
    "erector_spinae",
    "multifidus",
    "iliacus",
    "gluteal",
    "imat",
)
BONE_TISSUES = (
    "vertebral_body",
    "vertebral_cortex",
    "posterior_elements",
    "rib",
    "sacrum",
    "ilium",
    "femur",
    "arm_bone",
)

LABEL_OF = np.zeros(256, dtype=np.uint8)
for _name in MUSCLE_TISSUES:
    LABEL_OF[T[_name]] = 1
LABEL_OF[T["sat"]] = 2
LABEL_OF[T["sat_septa"]] = 2
LABEL_OF[T["vat"]] = 3
LABEL_OF[T["renal_sinus_fat"]] = 3
LABEL_OF[T["mesentery"]] = 3

# TotalSegmentator vertebra ids (v2 "total" task) plus "L6" for a six-lumbar spine (no TotalSegmentator id).
VERTEBRA_IDS: dict[str, int] = {
    "sacrum": 25,
    "S1": 26,
    "L5": 27,
    "L4": 28,
    "L3": 29,
    "L2": 30,
    "L1": 31,
    "T12": 32,
    "T11": 33,
    "T10": 34,
    "T9": 35,
    "T8": 36,
    "T7": 37,
    "T6": 38,
    "L6": 90,
    "T13": 91,  # phantom only (13 thoracic vertebrae); TotalSegmentator has no T13
}
VERTEBRA_NAMES: dict[int, str] = {v: k for k, v in VERTEBRA_IDS.items()}


def labels_from_tissue(tissue: np.ndarray) -> npt.NDArray[np.uint8]:
    """The 0-3 measurement label map of a tissue map."""
    labels: npt.NDArray[np.uint8] = LABEL_OF[tissue]  # NumPy's stubs type fancy indexing as Any
    return labels
