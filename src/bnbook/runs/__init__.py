"""Problem 4's runs: what is trained, on which data, and how results are kept.

`plan` declares every run the chapters read (and `selection` how each arm's own
best is chosen); `config` is one run; `experiments` the records cache (keys,
`stored_record`); `data` and `split` load MNIST and hold out validation;
`records`, `profiles`, `precision` and `provenance` are the store, the
full/smoke profiles, the CPU's precision and what goes into keys.
"""
