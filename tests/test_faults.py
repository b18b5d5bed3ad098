"""Fault injection: nothing stale, nothing failed, no other machine's numbers ever ships.

One test (or a few) per item of issue 11, each failing on the code before the
fix. Cheap by design: fake records, monkeypatching, and subprocesses only where
a process boundary is the point (signals, locks, environment).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tracemalloc
import zipfile

import psutil
import pytest

from bnbook.paths import PROJECT_ROOT
from bnbook.runs import cpu, data, experiments, mnist_wheel, plan, provenance
from bnbook.runs.config import Config
from bnbook.runs.experiments import record_key
from bnbook.runs.profiles import Profile
from bnbook.runs.records import RecordStore
from bnbook.tooling import build, scan, sphinx_ext, training_schedule

TINY = Profile("tiny-test", 512, 100, 200, 12, seeds=(0,))
SMALL_MLP = Config(model="mlp", widths=(32, 16), epochs=1, batch_size=64)


def fake_record(steps=3, **extra) -> dict:
    """A complete record, as networks.train + train_and_store make it (no training)."""
    evals = [
        {"step": steps, "epoch": 1.0, "val_loss": 0.5, "val_accuracy": 0.9,
         "train_loss": 0.4, "train_accuracy": 0.95}
    ]  # fmt: skip
    return {
        "config": SMALL_MLP.as_dict(),
        "profile": TINY.name,
        "versions": provenance.library_versions(),
        "machine": provenance.machine(),
        "train_examples": 512,
        "val_examples": 100,
        "test_examples": 200,
        "steps": steps,
        "losses": [1.0] * steps,
        "evals": evals,
        "probes": [],
        "val_accuracy": 0.9,
        "val_loss": 0.5,
        "test_accuracy": 0.9,
        "test_loss": 0.5,
        "train_time_s": 1.0,
        "wall_time_s": 1.5,
        "images_per_second": 100.0,
        "parameters": 10,
        "created": time.time(),
        **extra,
    }


@pytest.fixture
def store(tmp_path):
    return RecordStore(tmp_path / "records")


# 1. A failed page ships on the next build -----------------------------------


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


def test_the_scan_names_a_page_with_an_error_output_or_a_raw_glue_role(tmp_path):
    html = tmp_path / "html" / "notebooks"
    html.mkdir(parents=True)
    (html / "ok.html").write_text("<p>fine</p><pre>x = '{glue:text}`a`'</pre>")
    (html / "01_data.html").write_text(
        '<div class="cell_output docutils container"><div class="output traceback highlight">'
        "<pre>DataError Traceback (most recent call last)</pre></div></div>"
    )
    (html / "05.html").write_text("<p>accuracy {glue:text}`mlp_acc`</p>")
    problems = scan.scan_html(tmp_path / "html")
    assert any(p.startswith("notebooks/01_data.html") for p in problems), problems
    assert any(p.startswith("notebooks/05.html") and "glue" in p for p in problems), problems
    assert not any("ok.html" in p for p in problems), problems


def test_the_build_fails_when_the_scan_finds_a_problem(tmp_path, monkeypatch):
    page = tmp_path / "_build" / "html" / "notebooks" / "01_data.html"
    page.parent.mkdir(parents=True)
    page.write_text('<div class="output stderr"><pre>oops</pre></div>')
    with pytest.raises(SystemExit, match="problem"):
        build.scan_book(tmp_path, ["html"])


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler's pdftotext")
def test_the_pdf_scan_names_the_page(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    pdf = tmp_path / "book.pdf"
    with PdfPages(pdf) as pages:
        for text in ("4.1 MLP: accuracy 98%", "4.3 CNN: accuracy {glue:text}`cnn_acc`"):
            figure = Figure()
            figure.text(0.1, 0.5, text)
            pages.savefig(figure)
    problems = scan.scan_pdf(pdf)
    assert len(problems) == 1 and "page 2 (4.3 CNN" in problems[0], problems


def test_the_built_smoke_book_passes_the_scan(smoke_book):
    assert scan.scan_pdf(smoke_book / "latex" / "book.pdf") == []
    assert scan.scan_html(smoke_book / "html") == []


# 2. A record made by old code stored under the new code's key --------------


def test_a_record_is_keyed_on_the_code_that_trained_it(store, tmp_path, monkeypatch):
    copy = tmp_path / "bnbook"
    shutil.copytree(provenance.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(provenance, "PACKAGE_DIR", copy)
    monkeypatch.setattr(experiments, "_LOADED_SOURCE", None)
    old_key = record_key(SMALL_MLP, TINY)  # the worker imports the modules: code "old"
    train_py = copy / "networks" / "train.py"

    def train_while_someone_edits(*args):
        train_py.write_text(train_py.read_text() + "\nEDITED_DURING_THE_RUN = True\n")
        drop = ("machine", "config", "profile", "versions", "created")
        return {k: v for k, v in fake_record().items() if k not in drop}

    monkeypatch.setattr("bnbook.networks.train.train", train_while_someone_edits)
    monkeypatch.setattr("bnbook.runs.data.load_mnist", lambda: {})
    monkeypatch.setattr("bnbook.runs.split.split", lambda data, profile: data)
    experiments.train_and_store(SMALL_MLP, TINY, store, progress=False)
    new_source = provenance.source_digest(experiments.TRAINING_MODULES)
    assert store.get(old_key) is not None, "the record is not under the code that made it"
    assert store.get(record_key(SMALL_MLP, TINY, new_source)) is None, "old code, new key"


# 3. The notebook-output cache ignores what the pages describe ---------------


def test_the_book_key_follows_the_records_the_pages_read(monkeypatch):
    monkeypatch.setenv("BNBOOK_PROFILE", "smoke")
    monkeypatch.setattr(cpu, "flags", lambda: {"avx2", "avx512f", "avx512_bf16"})
    bf16_machine = sphinx_ext.book_key()
    monkeypatch.setattr(cpu, "flags", lambda: {"avx2"})
    assert sphinx_ext.book_key() != bf16_machine, "pages from another CPU would be served"
    same = sphinx_ext.book_key()
    monkeypatch.setattr(experiments, "library_versions", lambda: {"keras": "0.0"})
    assert sphinx_ext.book_key() != same, "records re-keyed but pages not"


# 4. Results depend on things outside the key ---------------------------------


def test_threads_onednn_and_cpu_kernels_are_in_the_record_key(monkeypatch):
    source = "fixed"
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)  # key from the environment
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "1")
    one = record_key(SMALL_MLP, TINY, source)
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "2")
    assert record_key(SMALL_MLP, TINY, source) != one, "1 and 2 threads share records"
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "1")
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    assert record_key(SMALL_MLP, TINY, source) != one, "oneDNN on and off share records"
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS")
    monkeypatch.setattr(cpu, "flags", lambda: {"avx512_bf16", "amx_bf16"})
    assert record_key(SMALL_MLP, TINY, source) != one, "other CPU kernels share records"


def test_kernels_train_with_the_workers_thread_count(monkeypatch):
    env = build.kernel_environment()
    assert env["TF_NUM_INTRAOP_THREADS"] == str(provenance.TRAIN_THREADS)
    assert env["TF_NUM_INTEROP_THREADS"] == str(provenance.TRAIN_THREADS)


# 5. Ctrl-C and SIGTERM stop training -----------------------------------------


def training_build(tmp_path):
    """A smoke-profile build that only trains, into its own records folder."""
    env = {**os.environ, "BNBOOK_RECORDS_DIR": str(tmp_path / "records"), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "bnbook.tooling.build", "--profile", "smoke", "--builders", ""]
    out = open(tmp_path / "out.txt", "w")  # noqa: SIM115 - closed by the caller's process end
    return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_every_worker_within_5_s_and_the_next_build_resumes(
    tmp_path, signum, monkeypatch
):
    records = tmp_path / "records"
    proc = training_build(tmp_path)
    workers = []
    try:
        deadline = time.monotonic() + 240
        while not list(records.glob("*.json")):  # wait until training is well under way
            assert proc.poll() is None, (tmp_path / "out.txt").read_text()
            assert time.monotonic() < deadline, "no record after 4 minutes"
            time.sleep(0.2)
        workers += psutil.Process(proc.pid).children(recursive=True)
        assert workers, "no worker processes"
        if signum == signal.SIGINT:  # Ctrl-C: the terminal signals the whole process group
            for pid in [proc.pid] + [w.pid for w in workers]:
                os.kill(pid, signum)
        else:
            proc.send_signal(signum)
        start = time.monotonic()
        proc.wait(timeout=15)
        _, alive = psutil.wait_procs(workers, timeout=max(0.1, 5 - (time.monotonic() - start)))
        assert time.monotonic() - start < 5.5 and not alive, f"still running: {alive}"
        assert proc.returncode != 0
    finally:  # never leave a build training behind a failed test
        if proc.poll() is None:
            proc.kill()
        for worker in workers:
            if worker.is_running():
                worker.kill()
        proc.wait(timeout=10)
    store = RecordStore(records)
    for path in records.glob("*.json"):
        assert store.get(path.stem) is not None, f"partial record {path.name}"
    # Resume: what finished is cached, so the next build trains only the rest.
    monkeypatch.setenv("BNBOOK_PROFILE", "smoke")
    resolved = plan.resolve(experiments.lookup(store=store))
    assert len(resolved.records) == len(list(records.glob("*.json"))) > 0


# 6. BNBOOK_FORCE leaks into the notebooks' kernels ----------------------------


def test_force_retrains_in_the_build_but_never_in_the_kernels(monkeypatch, tmp_path):
    seen = {}

    def run_experiments(force, workers, scheduler=None):
        seen["force"] = force
        return (plan.Resolved({}, {}), 0.0, {"estimated_s": 0, "measured_s": 0, "runs": 0})

    class FakeJupyterBook:
        def __init__(self, cmd, **kwargs):
            seen["env"] = kwargs.get("env")
            self.returncode = 0

        def wait(self, timeout=None):
            return 0

    for name in ("BNBOOK_PROFILE", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        monkeypatch.setenv(name, os.environ.get(name, ""))  # restored after the test
    monkeypatch.setenv(experiments.FORCE_ENV_VAR, "1")
    monkeypatch.setattr("bnbook.runs.records.RECORDS_DIR", tmp_path / "records")
    monkeypatch.setattr(build, "output_root", lambda profile: tmp_path)
    monkeypatch.setattr(training_schedule, "run_experiments", run_experiments)
    monkeypatch.setattr(training_schedule, "write_summary", lambda resolved, path: None)
    monkeypatch.setattr(build, "scan_book", lambda root, builders: None, raising=False)
    monkeypatch.setattr(build.signal, "signal", lambda *args: None)
    monkeypatch.setattr(subprocess, "Popen", FakeJupyterBook)
    build.main(["--profile", "smoke", "--builders", "html"])
    assert seen["force"] is True, "BNBOOK_FORCE=1 must still force the build's training"
    kernel_env = seen["env"] if seen["env"] is not None else os.environ
    assert experiments.FORCE_ENV_VAR not in kernel_env, "the kernels would re-train every run"


# 7. Two builds at once -----------------------------------------------------


def test_a_second_build_waits_for_the_first_and_says_who_holds_it(tmp_path):
    import fcntl

    lock_path = build.output_root("smoke") / "_build" / ".build.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.seek(0), held.truncate(), held.write("pid 4242\n"), held.flush()
        proc = training_build(tmp_path)
        try:
            time.sleep(8)
            out = (tmp_path / "out.txt").read_text()
            assert proc.poll() is None and "pid 4242" in out, out
            assert not (tmp_path / "records").exists(), "the second build trained meanwhile"
        finally:
            for p in [*psutil.Process(proc.pid).children(recursive=True), proc]:
                p.kill()
            proc.wait(timeout=10)


def test_the_summary_is_written_through_a_unique_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "summary.json"
    path.with_suffix(".tmp").mkdir()  # the fixed name of the old code cannot be used
    monkeypatch.setattr("bnbook.presentation.evidence.comparisons", lambda resolved: [])
    monkeypatch.setattr("bnbook.presentation.evidence.headline", lambda resolved: {})
    monkeypatch.setattr("bnbook.presentation.evidence.matched_pairs", lambda resolved: {})
    training_schedule.write_summary(plan.Resolved({}, {}), path)
    expected = {"comparisons": [], "pairs": {}, "headline": {}, "all_runs": []}
    assert json.loads(path.read_text()) == expected


# 8. Tampered, truncated and foreign records ------------------------------------


@pytest.mark.parametrize(
    "damage",
    [
        lambda r: {"key": r["key"]},  # tampered: only the key
        lambda r: {k: v for k, v in r.items() if k != "evals"},  # a field missing
        lambda r: {**r, "losses": r["losses"][:-1]},  # truncated losses
        lambda r: {**r, "test_accuracy": "0.99"},  # wrong type
        lambda r: {**r, "key": "someone-else"},  # foreign
    ],
)
def test_a_bad_record_is_a_miss_with_a_note(store, damage, capsys):
    store.put("k", fake_record())
    record = json.loads(store.path("k").read_text())
    store.path("k").write_text(json.dumps(damage(record)))
    assert store.get("k") is None
    assert "ignoring record" in capsys.readouterr().err


def test_a_truncated_file_is_a_miss(store, capsys):
    store.put("k", fake_record())
    store.path("k").write_text(store.path("k").read_text()[:-20])
    assert store.get("k") is None and "ignoring record" in capsys.readouterr().err


def test_an_incomplete_record_is_never_written(store):
    with pytest.raises(ValueError, match="missing"):
        store.put("k", {"losses": []})
    assert not store.path("k").exists()


# 9. Relative folders in the environment -----------------------------------------


def test_relative_env_folders_mean_the_same_in_the_build_and_the_kernels():
    code = "from bnbook.runs import data, records; print(records.RECORDS_DIR, data.DATA_DIR)"
    env = {**os.environ, "BNBOOK_RECORDS_DIR": "out/records", "BNBOOK_DATA_DIR": "out/data"}
    seen = [
        subprocess.run(
            [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True
        ).stdout.split()
        for cwd in (PROJECT_ROOT, PROJECT_ROOT / "notebooks")
    ]
    assert seen[0] == seen[1] == [str(PROJECT_ROOT / "out/records"), str(PROJECT_ROOT / "out/data")]


# 10. Data errors outside DataError -------------------------------------------------


def test_a_read_only_or_full_data_folder_is_one_line(tmp_path, monkeypatch):
    import errno
    import tempfile

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    arrays = {k: [0] for k in data.KEYS}
    monkeypatch.setattr(tempfile, "mkstemp", no_space)
    with pytest.raises(data.DataError, match="cannot write"):
        data.write_npz_atomically(arrays, tmp_path / "mnist.npz")
    monkeypatch.undo()
    (tmp_path / "ro").mkdir()
    monkeypatch.setattr(
        data.np,
        "savez",
        lambda f, **a: (_ for _ in ()).throw(OSError(errno.EROFS, "Read-only file system")),
    )
    with pytest.raises(data.DataError, match="Read-only"):
        data.write_npz_atomically(arrays, tmp_path / "ro" / "mnist.npz")
    assert list((tmp_path / "ro").iterdir()) == [], "a temporary file was left behind"


def test_a_cache_removed_by_another_process_is_not_a_traceback(tmp_path, monkeypatch):
    (tmp_path / data.CACHE_NAME).write_bytes(b"corrupt")

    def read_and_vanish(path):
        path.unlink()  # the other process removes it while we read
        raise data.DataError(f"{path} is unreadable (BadZipFile)")

    monkeypatch.setattr(data, "read_npz", read_and_vanish)
    with pytest.raises(data.DataError, match="no MNIST source"):
        data.load_mnist(tmp_path, keras_cache=None)


def test_a_huge_archive_member_is_refused_before_it_is_read(tmp_path):
    wheel = tmp_path / mnist_wheel.WHEEL_NAME
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(mnist_wheel.PICKLE_MEMBER, bytes(64 * 2**20))  # 64 MB of zeros, ~64 kB zipped
    tracemalloc.start()
    try:
        with pytest.raises(data.DataError, match="bytes, expected"):
            mnist_wheel.read_verified_pickle(wheel)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, f"read {peak / 2**20:.0f} MB before checking the size"


def test_a_data_error_in_the_build_is_one_line(monkeypatch, tmp_path, capsys):
    def no_data(force, workers, scheduler=None):
        raise data.DataError("no MNIST source found in data; run `make setup`")

    for name in ("BNBOOK_PROFILE", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        monkeypatch.setenv(name, os.environ.get(name, ""))  # restored after the test
    monkeypatch.setattr("bnbook.runs.records.RECORDS_DIR", tmp_path / "records")
    monkeypatch.setattr(build, "output_root", lambda profile: tmp_path)
    monkeypatch.setattr(training_schedule, "run_experiments", no_data)
    monkeypatch.setattr(build.signal, "signal", lambda *args: None)
    assert build.main(["--profile", "smoke", "--builders", ""]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: no MNIST source found in data; run `make setup`"
    ]


# 11. Set-up integrity ------------------------------------------------------------


def test_a_deleted_venv_package_is_found(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    (site / "fakepkg").mkdir()
    (site / "fakepkg" / "__init__.py").write_text("")
    info = site / "fakepkg-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakepkg\nVersion: 1.0\n")
    (info / "RECORD").write_text("fakepkg/__init__.py,,\nfakepkg-1.0.dist-info/METADATA,,\n")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# pins\nfakepkg==1.0\n-e .\n")
    check = [str(venv / "bin" / "python"), str(PROJECT_ROOT / "scripts" / "check_venv.py")]
    assert subprocess.run([*check, str(requirements)], capture_output=True).returncode == 0
    shutil.rmtree(site / "fakepkg")
    out = subprocess.run([*check, str(requirements)], capture_output=True, text=True)
    assert out.returncode == 1 and out.stdout.split() == ["fakepkg==1.0"]


# 12. Honest labels ----------------------------------------------------------------


def test_the_profile_note_says_when_and_where_its_records_were_made(monkeypatch):
    from bnbook.presentation.report import profile_note

    monkeypatch.setenv("BNBOOK_PROFILE", "full")
    old = fake_record(created=time.mktime((2025, 3, 1, 12, 0, 0, 0, 0, 0)))
    text = profile_note([old]).data
    assert "run that built this book" not in text
    assert "2025-03-01" in text and cpu.model_name() in text
    assert f"{old['machine']['threads']} TensorFlow thread(s)" in text
    assert "Python" in text and "TensorFlow 2" in text


# A record's numbers and its key; code edited between training and the pages -------


def test_a_record_whose_config_is_not_its_keys_is_never_read(store, monkeypatch):
    monkeypatch.setattr(experiments, "TRAIN_THREADS", 1)
    source = provenance.source_digest(experiments.TRAINING_MODULES)
    inputs = experiments.key_inputs(SMALL_MLP, TINY, source, 1)
    key = provenance.digest(inputs)
    record = {**fake_record(), "config": SMALL_MLP.as_dict(), "profile": TINY.name}
    store.put(key, {**record, "key_inputs": inputs})
    assert experiments.stored_record(SMALL_MLP, TINY, store, source) is not None
    forged = {**record, "config": {**SMALL_MLP.as_dict(), "lr": 0.5}, "key_inputs": inputs}
    store.put(key, forged)  # another run's numbers filed under this key
    assert experiments.stored_record(SMALL_MLP, TINY, store, source) is None


def test_the_pages_refuse_code_edited_after_training(monkeypatch):
    from sphinx.errors import ExtensionError

    monkeypatch.setenv(sphinx_ext.TRAINED_CODE_ENV_VAR, "0" * 64)  # what the build trained
    with pytest.raises(ExtensionError, match="changed after this build trained"):
        sphinx_ext.check_trained_code()
    source = provenance.source_digest(experiments.TRAINING_MODULES)
    monkeypatch.setenv(sphinx_ext.TRAINED_CODE_ENV_VAR, source)
    sphinx_ext.check_trained_code()  # the same code: no error
