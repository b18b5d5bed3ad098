"""Sphinx extension: key the book's execution cache on everything outside the notebooks.

Jupyter Book's cache sees only a notebook's cells, not the code it imports. We
point it at a folder named by a hash of the profile, our whole package source
and the library versions, and register the same hash as a config value that
forces Sphinx to re-read every page when it changes. A change in src/ can
therefore never leave stale outputs in the book.
"""

from pathlib import Path

from bnbook.runs.profiles import current_profile
from bnbook.runs.provenance import digest, library_versions, source_digest


def book_key() -> str:
    return digest(
        {
            "profile": current_profile().name,
            "source": source_digest(),
            "versions": library_versions(),
        }
    )[:16]


def _key_the_cache(app, config):
    key = book_key()
    config.bnbook_book_key = key
    # Caches under other keys are left alone: another build (say, of the PDF)
    # may be using one right now. `make clean` removes them all.
    base = Path(config.nb_execution_cache_path or Path(app.outdir).parent / ".jupyter_cache")
    config.nb_execution_cache_path = str(base / key)


def setup(app):
    # rebuild="env": when the key changes, Sphinx re-reads (and so re-executes) every page.
    app.add_config_value("bnbook_book_key", "", "env")
    app.connect("config-inited", _key_the_cache, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
