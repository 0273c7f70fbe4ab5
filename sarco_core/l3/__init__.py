"""L3 slice selection: find the mid-body slice of the third lumbar vertebra, with confidence and alternatives.

See docs/l3.md for the method (vertebral bodies and discs along the spine, levels counted up from the sacrum
and down from the last rib) and its checks.
"""

from sarco_core.l3.find import SliceLook, assess_slice, find_l3, override
from sarco_core.l3.result import Candidate, L3Result, Level

__all__ = ["Candidate", "L3Result", "Level", "SliceLook", "assess_slice", "find_l3", "override"]
