"""The Sphinx extension: a failed or interrupted page build is forgotten, and the pages
refuse records or code other than the build's."""

import os
import signal
import subprocess
import sys

import pytest

from bnbook.runs import cpu, experiments, provenance
from bnbook.tooling import build, sphinx_ext


def test_a_failed_sphinx_build_forgets_its_environment(tmp_path):
    from types import SimpleNamespace

    pickle = tmp_path / "environment.pickle"
    for warnings, error in ((1, None), (0, RuntimeError("boom"))):
        pickle.write_text("env")
        app = SimpleNamespace(doctreedir=str(tmp_path), _warncount=warnings)
        sphinx_ext._forget_a_failed_build(app, error)
        assert not pickle.exists(), "a failed build kept its environment: its pages ship next time"
    pickle.write_text("env")
    sphinx_ext._forget_a_failed_build(SimpleNamespace(doctreedir=str(tmp_path), _warncount=0), None)
    assert pickle.exists(), "a clean build must keep its environment (else no caching)"


def test_an_interrupted_page_build_is_stopped_waited_for_and_forgotten(tmp_path, monkeypatch):
    """Ctrl-C or SIGTERM while jupyter-book writes pages: the build forwards the signal,
    waits for jupyter-book to end, and drops Sphinx's saved environments (saved before
    the pages were written), so the next build reads every page again."""
    envs = [
        tmp_path / "_build" / d / "environment.pickle" for d in (".doctrees", ".doctrees_toc_pdf")
    ]
    for env in envs:
        env.parent.mkdir(parents=True)
        env.write_text("saved before writing")
    # A stand-in for jupyter-book: it writes pages until SIGINT, then takes a moment to end.
    script = tmp_path / "jb.py"
    script.write_text(
        "import signal, sys, time\n"
        "def stop(*a):\n    time.sleep(0.5); open(sys.argv[1], 'w').write('ended'); sys.exit(2)\n"
        "signal.signal(signal.SIGINT, stop)\nprint('writing output...', flush=True)\n"
        "time.sleep(60)\n"
    )
    ended = tmp_path / "ended"
    real_popen = subprocess.Popen
    monkeypatch.setattr(build, "kernel_environment", lambda: dict(os.environ))
    monkeypatch.setattr(
        build.subprocess, "Popen",
        lambda cmd, **kw: real_popen([sys.executable, str(script), str(ended)], **kw),
    )  # fmt: skip
    monkeypatch.setattr(build.signal, "signal", signal.signal)
    previous = signal.signal(signal.SIGALRM, lambda *a: (_ for _ in ()).throw(SystemExit(143)))
    try:
        signal.setitimer(signal.ITIMER_REAL, 1.0)  # the "SIGTERM" arrives mid-write
        with pytest.raises(SystemExit):
            build.jupyter_book(tmp_path, "html", fresh=False)
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert ended.read_text() == "ended", "jupyter-book was not waited for"
    assert not any(env.exists() for env in envs), "the saved environment would serve stale pages"


def test_the_book_key_follows_the_records_the_pages_read(monkeypatch):
    monkeypatch.setenv("BNBOOK_PROFILE", "smoke")
    monkeypatch.setattr(cpu, "flags", lambda: {"avx2", "avx512f", "avx512_bf16"})
    bf16_machine = sphinx_ext.book_key()
    monkeypatch.setattr(cpu, "flags", lambda: {"avx2"})
    assert sphinx_ext.book_key() != bf16_machine, "pages from another CPU would be served"
    same = sphinx_ext.book_key()
    monkeypatch.setattr(experiments, "library_versions", lambda: {"keras": "0.0"})
    assert sphinx_ext.book_key() != same, "records re-keyed but pages not"


def test_the_pages_refuse_code_edited_after_training(monkeypatch):
    from sphinx.errors import ExtensionError

    monkeypatch.setenv(sphinx_ext.TRAINED_CODE_ENV_VAR, "0" * 64)  # what the build trained
    with pytest.raises(ExtensionError, match="changed after this build trained"):
        sphinx_ext.check_trained_code()
    source = provenance.source_digest(experiments.TRAINING_MODULES)
    monkeypatch.setenv(sphinx_ext.TRAINED_CODE_ENV_VAR, source)
    sphinx_ext.check_trained_code()  # the same code: no error
