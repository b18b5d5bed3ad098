"""Author and collaborator: set once, overridable by `make book AUTHOR=... COLLABORATOR=...`,
and a one-line warning while either is still the placeholder."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bnbook.runs import plan
from bnbook.tooling import build, names, training_schedule
from bnbook.tooling.build import PROJECT_ROOT

PLACEHOLDERS = dict(names.PLACEHOLDERS)
REAL = {"author": "Ada Lovelace", "collaborator": "Charles Babbage"}


def test_warning_while_a_name_is_the_placeholder():
    line = names.placeholder_warning(PLACEHOLDERS)
    assert line and "\n" not in line
    assert 'AUTHOR="..."' in line and 'COLLABORATOR="..."' in line and "_config.yml" in line
    only_collaborator = names.placeholder_warning({**REAL, "collaborator": ""})
    assert 'COLLABORATOR="..."' in only_collaborator and "AUTHOR=" not in only_collaborator.replace(
        "COLLABORATOR=", ""
    )


def test_no_warning_when_both_are_set():
    assert names.placeholder_warning(REAL) is None


def test_the_environment_overrides_the_config():
    env = {"BNBOOK_AUTHOR": "Ada Lovelace", "BNBOOK_COLLABORATOR": ""}
    assert names.resolve(PLACEHOLDERS, env) == {**PLACEHOLDERS, "author": "Ada Lovelace"}
    assert names.resolve(PLACEHOLDERS, {}) == PLACEHOLDERS


def test_config_yml_holds_the_names():
    assert set(names.from_config()) == {"author", "collaborator"}


def test_make_passes_the_names_to_the_build():
    dry = subprocess.run(
        ["make", "-n", "book", "AUTHOR=Ada Lovelace", "COLLABORATOR=Charles Babbage"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    command = next(line for line in dry.splitlines() if "bnbook.tooling.build" in line)
    assert 'BNBOOK_AUTHOR="Ada Lovelace"' in command
    assert 'BNBOOK_COLLABORATOR="Charles Babbage"' in command
    dry = subprocess.run(["make", "-n", "book"], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert "BNBOOK_AUTHOR" not in dry.stdout


@pytest.mark.parametrize("env, warns", [({}, True), (REAL, False)])
def test_the_build_ends_with_the_warning_only_while_unset(monkeypatch, capsys, env, warns):
    monkeypatch.setattr(names, "from_config", lambda: dict(PLACEHOLDERS))
    for role, variable in names.ENV_VARS.items():
        monkeypatch.setenv(variable, env.get(role, ""))
    monkeypatch.setattr(
        training_schedule,
        "run_experiments",
        lambda *args: (plan.Resolved({}, {}), 0.0, {"estimated_s": 0, "measured_s": 0, "runs": 0}),
    )
    monkeypatch.setattr(training_schedule, "write_summary", lambda resolved, path: None)
    monkeypatch.setattr(build, "jupyter_book", lambda root, builder, fresh: None)
    build.main(["--profile", "smoke", "--builders", "html"])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("warning:") == warns, last


@pytest.mark.book
def test_author_reaches_the_title_page(tmp_path):
    """A two-page book with our extension, built to LaTeX with the names in the
    environment (what `make book AUTHOR=... COLLABORATOR=...` sets)."""
    config = (PROJECT_ROOT / "_config.yml").read_text()
    (tmp_path / "_config.yml").write_text(
        config.replace("execute_notebooks: cache", "execute_notebooks: off")
    )
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: page\n")
    (tmp_path / "intro.md").write_text("# A tiny book\n\nText.\n")
    (tmp_path / "page.md").write_text("# A page\n\nMore text.\n")
    shutil.copytree(PROJECT_ROOT / "book" / "latex", tmp_path / "book" / "latex")
    env = {"BNBOOK_AUTHOR": "Ada Lovelace", "BNBOOK_COLLABORATOR": "Charles Babbage"}
    jb = str(Path(sys.executable).parent / "jupyter-book")
    subprocess.run(
        [jb, "build", str(tmp_path), "--builder", "latex"],
        env={**__import__("os").environ, **env}, check=True, capture_output=True,
    )  # fmt: skip
    tex = (tmp_path / "_build" / "latex" / "book.tex").read_text()
    title_page = tex[tex.index("\\begin{titlepage}") : tex.index("\\end{titlepage}")]
    assert "Ada Lovelace" in title_page and "Collaborator: Charles Babbage" in title_page
    assert "Student Name" not in tex and "Collaborator Name" not in tex
