"""The book's machinery, none of it needed to answer the homework: `build` (train
then build HTML and PDF), `bench` (speed measurements), `sphinx_ext` and `pages`
(Sphinx extensions: execution-cache keying; title page, appendix, HTML fix)."""
