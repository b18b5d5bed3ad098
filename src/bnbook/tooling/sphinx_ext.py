"""Sphinx extension: key the book's execution cache on what the pages read, and never
keep a failed page.

Jupyter Book's cache sees only a notebook's cells, not the code it imports or
the records it loads. We point it at a folder named by a hash of the profile,
our whole package source, the library versions and the key of every record
the chapters read (`runs.studies.chapter_configs`; a record key covers the
config, with its CPU-dependent precision, the training code, the thread count,
oneDNN and the CPU's kernel features), and register the same hash as a config
value that forces Sphinx to re-read every page when it changes. A page can
therefore never describe other code, other records or another machine.

A build that ends with a warning or an error (with -W --keep-going Sphinx still
saves its environment, failed pages included) deletes the saved environment,
so the next build reads every page again instead of serving the failed one.
"""

import os
from pathlib import Path
from unittest import mock

from bnbook.runs import provenance
from bnbook.runs.profiles import current_profile
from bnbook.runs.provenance import digest, library_versions, source_digest


def record_keys() -> list[str]:
    """The key of every record the chapters load, in book order, as the kernels compute them.

    The kernels run with TensorFlow's thread count from the environment, by
    default provenance.TRAIN_THREADS (`_key_the_cache` sets it for them).
    """
    from bnbook.runs.experiments import TRAINING_MODULES, record_key
    from bnbook.runs.records import RecordStore
    from bnbook.runs.selection import NotReady
    from bnbook.runs.studies import chapter_configs

    profile, source, store = current_profile(), source_digest(TRAINING_MODULES), RecordStore()
    with mock.patch.dict(os.environ):
        provenance.default_threads_env()

        asked = []

        def load(config):  # never trains: which runs a page reads follows from the records
            asked.append(config)
            return store.get(record_key(config, profile, source))

        try:
            configs = [c for cs in chapter_configs(load).values() for c in cs]
        except NotReady:  # selection runs missing (the pages will train them): key on those
            configs = asked
        return [record_key(c, profile, source) for c in configs]


def book_key() -> str:
    return digest(
        {
            "profile": current_profile().name,
            "source": source_digest(),
            "versions": library_versions(),
            "records": record_keys(),
        }
    )[:16]


def _key_the_cache(app, config):
    provenance.default_threads_env()  # the kernels inherit it: records keyed as in the build
    key = book_key()
    config.bnbook_book_key = key
    # Caches under other keys are left alone: another build (say, of the PDF)
    # may be using one right now. `make clean` removes them all.
    base = Path(config.nb_execution_cache_path or Path(app.outdir).parent / ".jupyter_cache")
    config.nb_execution_cache_path = str(base / key)


def _forget_a_failed_build(app, exception):
    if exception is not None or getattr(app, "_warncount", 0):
        from sphinx.application import ENV_PICKLE_FILENAME

        Path(app.doctreedir, ENV_PICKLE_FILENAME).unlink(missing_ok=True)


def setup(app):
    # rebuild="env": when the key changes, Sphinx re-reads (and so re-executes) every page.
    app.add_config_value("bnbook_book_key", "", "env")
    app.connect("config-inited", _key_the_cache, priority=100)
    app.connect("build-finished", _forget_a_failed_build)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
