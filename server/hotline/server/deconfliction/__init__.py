"""The deconfliction engine: zones, unit tracks and the alerts they raise.

Pure domain code, with time always passed in; see :class:`DeconflictionEngine`.
"""

from hotline.server.deconfliction.engine import DeconflictionEngine
from hotline.server.deconfliction.findings import Finding, Picture, TrackedUnit
from hotline.server.deconfliction.separation import SeparationMinima

__all__ = ["DeconflictionEngine", "Finding", "Picture", "SeparationMinima", "TrackedUnit"]
