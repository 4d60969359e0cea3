"""``arbtui import``: exchange downloads (CSV/JSON) -> one replay file of normalised events.

Layouts (:data:`LAYOUTS`) live in the venue packages (``core/venues/<name>/history.py``) and
are detected from a CSV header or the JSON shape. Funding becomes
:class:`~core.domain.events.FundingSettled` at the settlement instant (jitter removed, interval per
record) plus, for a venue that fixes its rate one interval ahead, a fixed
:class:`~core.domain.events.FundingRate` one interval earlier; klines and trade bins become
:class:`~core.domain.events.Bar` known at their true close (the layout says where a bar's label
sits). Every bad line raises :class:`ImportDataError` naming file, line and field, or is skipped
and counted.
"""

from core.analysis.importer.build import ImportResult, run_import, write_replay
from core.analysis.importer.errors import ImportDataError
from core.analysis.importer.layouts import LAYOUTS, Layout

__all__ = ["LAYOUTS", "ImportDataError", "ImportResult", "Layout", "run_import", "write_replay"]
