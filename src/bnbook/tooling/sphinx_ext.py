"""Sphinx extension: the execution cache keyed on what the pages read; no failed page kept.

Jupyter Book's cache sees only a notebook's cells, not the code it imports or
the records it loads. We point it at a folder named by a hash of the profile,
our whole package source, the library versions and the key of every record
the chapters read (`runs.plan`: each record's contents, so an edited number
re-executes the pages, and its key, which covers the config with its
CPU-dependent precision, the training code, the thread count, oneDNN and the
CPU's kernel features), and register the same hash as a config
value that forces Sphinx to re-read every page when it changes. A page can
therefore never describe other code, other records or another machine.

A build that ends with a warning or an error (with -W --keep-going Sphinx still
saves its environment, failed pages included) deletes the saved environment,
so the next build reads every page again instead of serving the failed one.
"""

import os
from pathlib import Path

from bnbook.runs import provenance
from bnbook.runs.profiles import current_profile
from bnbook.runs.provenance import digest, library_versions, source_digest


def record_keys() -> list[str]:
    """A digest of every record the chapters read (its key and its contents), in plan
    order, as the kernels will find them (the build's thread count, never training)."""
    from bnbook.runs.experiments import TRAINING_MODULES, lookup, record_key
    from bnbook.runs.plan import resolve
    from bnbook.runs.provenance import TRAIN_THREADS

    profile, source = current_profile(), source_digest(TRAINING_MODULES)
    resolved = resolve(lookup())
    configs = [c for cs in resolved.configs.values() for c in cs]
    return [
        record_key(c, profile, source, TRAIN_THREADS) + digest(resolved.records.get(c))
        for c in configs
    ]


def book_key() -> str:
    return digest(
        {
            "profile": current_profile().name,
            "source": source_digest(code_only=False),
            "versions": library_versions(),
            "records": record_keys(),
        }
    )[:16]


TRAINED_CODE_ENV_VAR = "BNBOOK_TRAINED_CODE"  # set by the build: the code its records came from


def check_trained_code() -> None:
    """Under the build, fail if the training code on disk is not the code that trained."""
    from bnbook.runs.experiments import TRAINING_MODULES

    trained = os.environ.get(TRAINED_CODE_ENV_VAR)
    if trained and trained != source_digest(TRAINING_MODULES):
        from sphinx.errors import ExtensionError

        raise ExtensionError(
            "the training code changed after this build trained; run the build again"
        )


def _key_the_cache(app, config):
    check_trained_code()
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
