"""Detection: per-identity baselines learned online from the event log, scores with reasons,
and alert episodes.

The detector reads event documents (the shape ``limen audit search --jsonl`` prints) and
never writes the log itself; whoever runs it (the server, ``limen detect replay``) decides
what to do with its verdicts. See ``docs/detect.md``.
"""

from limen.detect.alerts import Alert, Severity, severity_of
from limen.detect.baseline import Baseline
from limen.detect.detector import DetectConfig, Detector, Verdict, partition_of
from limen.detect.errors import AlertNotFound, InvalidBaseline, InvalidEventDocument
from limen.detect.observation import Observation, observe
from limen.detect.reasons import CODES, Reason
from limen.detect.registry import IdentityInfo, Registry

__all__ = [
    "CODES",
    "Alert",
    "AlertNotFound",
    "Baseline",
    "DetectConfig",
    "Detector",
    "IdentityInfo",
    "InvalidBaseline",
    "InvalidEventDocument",
    "Observation",
    "Reason",
    "Registry",
    "Severity",
    "Verdict",
    "observe",
    "partition_of",
    "severity_of",
]
