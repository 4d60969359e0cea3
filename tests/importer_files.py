"""The real download files in tests/data that the importer tests read, and their specs."""

from __future__ import annotations

from pathlib import Path

import msgspec

from core.domain.events import InstrumentSpec

DATA = Path(__file__).parent / "data"
SPECS = msgspec.json.decode((DATA / "instruments_btc.json").read_bytes(), type=list[InstrumentSpec])
HOUR_MS = 3_600_000

API = "binance_um_BTCUSDT_fundingRate_2020-03_api.csv"
VISION = "binance_um_BTCUSDT_fundingRate_2020-01_2020-04.csv"
BITMEX_FUNDING = "bitmex_XBTUSD_funding_2020-01_2020-04.csv"
REST = "polyoxide_funding_rate.json"
REST_2019 = "polyoxide_funding_rate_2019.json"
FT_FUNDING = "XRP_USDT-8h-funding_rate.json"
FT_MARK = "XRP_USDT-1h-mark.json"
KLINES = "binance_um_BTCUSDT_1h_2020-03-01_and_2020-03-12.csv"
BINS_1H = "bitmex_XBTUSD_1h_2020-03-01_and_2020-03-12.csv"
BINS_1M = "bitmex_XBTUSD_1m_2020-03-01T00_and_2020-03-12T20-24.csv"

# March 2024, 8 h: Binance USD-M BTCUSDT, Bybit linear BTCUSDT and inverse BTCUSD (63 rows each).
SPECS_2024 = msgspec.json.decode(
    (DATA / "instruments_binance_bybit.json").read_bytes(), type=list[InstrumentSpec]
)
WEBEXPORT_2024 = "binance_um_BTCUSDT_fundingRate_2024-03-01_2024-03-21_webexport.csv"
BINANCE_FUNDING_AHA = "binance_um_BTCUSDT_funding_8h_2024-03-01_2024-03-21_aha.csv"
BYBIT_FUNDING_AHA = "bybit_linear_BTCUSDT_funding_8h_2024-03-01_2024-03-21_aha.csv"
BYBIT_INV_FUNDING_AHA = "bybit_inverse_BTCUSD_funding_8h_2024-03-01_2024-03-21_aha.csv"
BINANCE_BARS_AHA = "binance_um_BTCUSDT_8h_2024-03-01_2024-03-21_aha.csv"
BYBIT_BARS_AHA = "bybit_linear_BTCUSDT_8h_2024-03-01_2024-03-21_aha.csv"
BYBIT_INV_BARS_AHA = "bybit_inverse_BTCUSD_8h_2024-03-01_2024-03-21_aha.csv"
#: The inputs of replays/btc_binance_bybit_2024-03.jsonl.gz, in the order of its README command.
REPLAY_2024_INPUTS = (
    WEBEXPORT_2024,
    BYBIT_FUNDING_AHA,
    BYBIT_INV_FUNDING_AHA,
    BINANCE_BARS_AHA,
    BYBIT_BARS_AHA,
    BYBIT_INV_BARS_AHA,
)
