"""Problem 4's runs: what is trained, on which data, and how results are kept.

`plan` declares every run the chapters read, `resolution` resolves it against the
stored records, and `selection` chooses each arm's own best; `config` is one run;
`experiments` turns a run into its record and its key; `records` is the store;
`data` and `split` load MNIST and hold out validation (`mnist_wheel` converts the
PyPI wheel once); `profiles`, `precision`, `devices`, `cpu` and `provenance` are the
full/smoke profiles, the precision, the devices, the CPU and what goes into keys.
"""
