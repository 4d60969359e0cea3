"""Console panels. Each panel has ``apply(snapshot)``, called by the app inside
``batch_update()`` only when the engine published a new snapshot; panels never call the engine.
"""

from tui.widgets.banner import Banner
from tui.widgets.book import BookPanel
from tui.widgets.charts import ChartsPanel
from tui.widgets.funding import FundingPanel
from tui.widgets.ladders import LaddersPanel
from tui.widgets.legs import LegsPanel
from tui.widgets.log import EventLog
from tui.widgets.risk import EquityPanel, RiskPanel
from tui.widgets.status import StatusLine
from tui.widgets.table import KeyedTable

__all__ = [
    "Banner",
    "BookPanel",
    "ChartsPanel",
    "EquityPanel",
    "EventLog",
    "FundingPanel",
    "KeyedTable",
    "LaddersPanel",
    "LegsPanel",
    "RiskPanel",
    "StatusLine",
]
