"""The smoke-profile book builds with warnings as errors, and nothing in it can be stale."""

import json
import re
import shutil

import yaml

from bnbook.runs import provenance
from bnbook.runs.provenance import TRAIN_THREADS
from bnbook.tooling import quiet
from bnbook.tooling.build import PROJECT_ROOT
from bnbook.tooling.sphinx_ext import book_key


def toc_files():
    toc = yaml.safe_load((PROJECT_ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


def test_every_toc_entry_has_a_page(smoke_book):
    for file in toc_files():
        page = smoke_book / "html" / f"{file}.html"
        assert page.exists(), f"{file} has no page in the built book"


def test_no_page_shows_a_traceback_or_an_error_output(smoke_book):
    for file in toc_files():
        html = (smoke_book / "html" / f"{file}.html").read_text()
        assert "Traceback (most recent call last)" not in html, file
        assert not re.search(r'class="[^"]*output[^"]*(stderr|traceback)', html), file


def not_info(text: str) -> list[str]:
    """The lines of a stderr stream that are not TensorFlow's start-up notices."""
    return [line for line in text.splitlines() if line.strip() and not quiet.is_noise(line)]


def test_no_notebook_writes_to_stderr(smoke_book):
    """The pages hide stderr (`stderr_output: remove`), so read the executed notebooks."""
    notebooks = sorted((smoke_book / "jupyter_execute").rglob("*.ipynb"))
    assert notebooks, "no executed notebooks to check"
    for notebook in notebooks:
        for cell in json.loads(notebook.read_text())["cells"]:
            for output in cell.get("outputs", []):
                assert output["output_type"] != "error", notebook.name
                if output.get("name") == "stderr":
                    other = not_info("".join(output["text"]))
                    assert not other, f"{notebook.name} wrote to stderr: {other[:3]}"


def test_the_stderr_check_can_fail():
    preamble = "WARNING: All log messages before absl::InitializeLog() is called are written"
    info = "I0000 00:00:1733.5 1 port.cc:153] oneDNN custom operations are on.\n"
    assert not_info(preamble + "\n" + info) == []
    assert not_info(info + "Traceback (most recent call last):\n") != []
    assert not_info("W0000 00:00:17.5 1 x.cc:1] a warning\n") != []
    assert not_info("  0%|          | 0/30 [00:00<?, ?step/s]") != []


def test_every_notebook_is_in_the_toc():
    listed = set(toc_files())
    for notebook in (PROJECT_ROOT / "notebooks").glob("*.ipynb"):
        assert f"notebooks/{notebook.stem}" in listed, f"{notebook.name} is not in _toc.yml"


def test_results_pages_name_their_profile(smoke_book):
    for file in toc_files():
        if file.startswith("notebooks/04") or file.startswith("notebooks/0") is False:
            continue
        html = (smoke_book / "html" / f"{file}.html").read_text()
        if "run_or_load" in html or "run_seeds" in html:
            assert "Smoke profile" in html, f"{file} trains but does not say its profile"


def test_book_cache_key_follows_the_source(tmp_path, monkeypatch):
    key = book_key()
    copy = tmp_path / "bnbook"
    shutil.copytree(provenance.PACKAGE_DIR, copy)
    monkeypatch.setattr(provenance, "PACKAGE_DIR", copy)
    assert book_key() == key
    plots = copy / "presentation" / "plots.py"
    plots.write_text(plots.read_text() + "\n# a changed line\n")
    assert book_key() != key


def test_book_cache_key_follows_the_profile(monkeypatch):
    monkeypatch.setenv("BNBOOK_PROFILE", "smoke")
    smoke = book_key()
    monkeypatch.setenv("BNBOOK_PROFILE", "full")
    assert book_key() != smoke


def test_the_execution_cache_lives_under_the_key(smoke_book, monkeypatch):
    monkeypatch.setenv("BNBOOK_PROFILE", "smoke")
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", str(TRAIN_THREADS))  # as in the build
    assert (smoke_book / ".jupyter_cache" / book_key()).is_dir()


def test_summary_json_has_every_headline_and_comparison_with_seeds(smoke_book):
    import json

    from bnbook.runs.profiles import PROFILES

    summary = json.loads((smoke_book / "results" / "summary.json").read_text())
    assert set(summary["headline"]) == {"mlp", "mlp_bn", "cnn", "cnn_bn"}  # read, not planned
    for entry in summary["headline"].values():
        assert len(entry["seeds"]) == len(PROFILES["smoke"].seeds)
        assert 0 <= entry["mean"] <= 1 and entry["margin_needed"] > 0
    names = [c["name"] for c in summary["comparisons"]]
    assert {"MLP: batch norm", "CNN: batch norm, shift 0 px"} <= set(names)
    for c in summary["comparisons"]:
        low, high = c["ci95"]
        assert low <= c["mean_difference"] <= high and len(c["per_seed_difference"]) >= 2
        assert c["verdict"] == ("helped" if low > 0 else "hurt" if high < 0 else "within noise")


def test_both_arms_of_every_pair_trained_on_the_same_batches(smoke_book, monkeypatch):
    from dataclasses import replace

    from bnbook.runs import plan
    from bnbook.runs.experiments import lookup

    monkeypatch.setenv("BNBOOK_PROFILE", "smoke")
    resolved = plan.resolve(lookup())
    pairs = [c for c in [*plan.mlp_pair(), *plan.cnn_factorial()] if not c.batch_norm]
    fingerprints = set()
    for c in pairs:
        plain, bn = resolved.records[c], resolved.records[replace(c, batch_norm=True)]
        assert plain["batch_fingerprint"] == bn["batch_fingerprint"], c.label()
        fingerprints.add((c.shift, plain["batch_fingerprint"]))
    assert len(fingerprints) == len({(c.shift, c.seed) for c in pairs})  # seeds differ
