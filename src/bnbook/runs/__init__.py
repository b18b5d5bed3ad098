"""Problem 4's runs: what is trained, on which data, and how results are kept.

`studies` lists every run the chapters read; `experiments` holds `Config` and
`run_or_load` (the records cache); `data` loads and verifies MNIST; `records`,
`profiles`, `precision` and `provenance` are the store, the full/smoke
profiles, the CPU's precision and the cache keys.
"""
