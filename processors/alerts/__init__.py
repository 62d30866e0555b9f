"""Spike alerts (issue 15): a key's story rate jumps well above its baseline. The pure core.

    keys.py      the keys of an article: each tag, each tag|entity pair
    model.py     AlertInput (what the detector needs of an article), Alert (with evidence)
    config.py    DetectorConfig: every parameter; the article and count-series presets
    profile.py   the event-time clock and the shared time-of-day x weekday/weekend profile
    baseline.py  a key's baseline: EWMA levels over that profile, its own hour/day deviation
    window.py    the trailing window of a key's stories; the no-single-source count
    tails.py     Poisson and quasi-Poisson tail probabilities (standard library)
    detector.py  SpikeDetector: observe / observe_count / advance, snapshot / restore
    state.py     the JSON snapshot format's checks
    replay.py    JSON lines in, alert lines out (``newsflow alerts replay``)
    evaluate.py  the measured evaluation (``python -m processors.alerts.evaluate``)

No Kafka, Faust, Elasticsearch or HTTP library, no wall clock: the live worker and the
replay run the same detector (README.md).
"""

from processors.alerts.config import ARTICLE_DEFAULTS, COUNT_DEFAULTS, DetectorConfig
from processors.alerts.detector import DetectorStats, SpikeDetector
from processors.alerts.model import Alert, AlertInput

__all__ = ["ARTICLE_DEFAULTS", "COUNT_DEFAULTS", "Alert", "AlertInput", "DetectorConfig",
           "DetectorStats", "SpikeDetector"]
