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
from limen.detect.persistence import MAX_STATE_BYTES, load_baselines, save_baselines
from limen.detect.reasons import CODES, Reason
from limen.detect.registry import IdentityInfo, Registry
from limen.detect.replay import ReplaySummary, read_events, replay

__all__ = [
    "CODES",
    "MAX_STATE_BYTES",
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
    "ReplaySummary",
    "Severity",
    "Verdict",
    "load_baselines",
    "observe",
    "partition_of",
    "read_events",
    "replay",
    "save_baselines",
    "severity_of",
]
