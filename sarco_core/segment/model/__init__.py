"""The trained U-Net: loading and inference (``segmenter``), pre-/post-processing (``prep``), confidence and QC
flags (``qc``), arms against the trunk (``arms``)."""

from sarco_core.segment.model.segmenter import (
    ONNX_FILE,
    ONNX_META_FILE,
    WEIGHTS_FILE,
    ModelConfig,
    Segmenter,
    cpu_threads,
    load_state_dict,
    sha256_file,
)

__all__ = [
    "ONNX_FILE",
    "ONNX_META_FILE",
    "WEIGHTS_FILE",
    "ModelConfig",
    "Segmenter",
    "cpu_threads",
    "load_state_dict",
    "sha256_file",
]
