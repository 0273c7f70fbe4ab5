"""The anatomical teacher (no learning): the segmenter (``segmenter``), anatomy (``anatomy``: vertebra, psoas,
back muscles), tissue tests (``tissue``) and the abdominal wall (``wall``). Body outline and morphology helpers
live in :mod:`sarco_core.body`."""

from sarco_core.segment.teacher.segmenter import TeacherSegmenter, TeacherSlice, segment_slice, segment_work

__all__ = ["TeacherSegmenter", "TeacherSlice", "segment_slice", "segment_work"]
