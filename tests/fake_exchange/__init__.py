"""Hand-written fakes of Binance USD-M and BitMEX that speak the venues' real wire formats
on 127.0.0.1 and stream real recorded frames from ``tests/data/feeds`` (sources in
``tests/data/README.md``). Fault knobs are plain attributes a test flips while they run."""
