"""Author and collaborator: set once, overridable by `make book AUTHOR=... COLLABORATOR=...`,
and a one-line warning while either is still the placeholder."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bnbook.runs import plan
from bnbook.tooling import authors, build, training_schedule
from bnbook.tooling.build import PROJECT_ROOT

PLACEHOLDERS = dict(authors.PLACEHOLDERS)
REAL = {"author": "Ada Lovelace", "collaborator": "Charles Babbage"}


def test_warning_while_a_name_is_the_placeholder():
    line = authors.placeholder_warning(PLACEHOLDERS)
    assert line and "\n" not in line
    assert 'AUTHOR="..."' in line and 'COLLABORATOR="..."' in line and "_config.yml" in line
    only_collaborator = authors.placeholder_warning({**REAL, "collaborator": ""})
    assert 'COLLABORATOR="..."' in only_collaborator and "AUTHOR=" not in only_collaborator.replace(
        "COLLABORATOR=", ""
    )


def test_no_warning_when_both_are_set():
    assert authors.placeholder_warning(REAL) is None


def test_the_environment_overrides_the_config():
    env = {"BNBOOK_AUTHOR": "Ada Lovelace", "BNBOOK_COLLABORATOR": ""}
    assert authors.resolve(PLACEHOLDERS, env) == {**PLACEHOLDERS, "author": "Ada Lovelace"}
    assert authors.resolve(PLACEHOLDERS, {}) == PLACEHOLDERS


def test_the_names_are_read_from_config_yml_and_a_missing_one_is_empty(tmp_path):
    config = tmp_path / "_config.yml"
    config.write_text("author: Ada Lovelace\nsphinx:\n  config:\n    bnbook_collaborator: C. B.\n")
    assert authors.from_config(config) == {"author": "Ada Lovelace", "collaborator": "C. B."}
    config.write_text("title: no names\n")
    assert authors.from_config(config) == {"author": "", "collaborator": ""}


TRICKY = ['Ann "Nan" Lee', "Jo$e Smith", 'O"Neil', "Jane <jane@example.edu>",
          "$(shell echo made) `echo sh` $$HOME d'Arc \\ #1"]  # fmt: skip


def make_sees(tmp_path, target, *args, env=None):
    """What the command of `make <target>` gets as BNBOOK_AUTHOR and BNBOOK_COLLABORATOR
    (set-up skipped; $(PY) replaced by a script that writes them down)."""
    seen = tmp_path / "seen"
    fake = tmp_path / "python"
    fake.write_text(
        '#!/bin/sh\nprintf "%s\\n%s\\n" "${BNBOOK_AUTHOR-unset}" "${BNBOOK_COLLABORATOR-unset}"'
        f' > "{seen}"\n'
    )
    fake.chmod(0o755)
    env = {
        k: v for k, v in (env or __import__("os").environ).items() if not k.startswith("BNBOOK_")
    }
    cmd = ["make", "-s", "-o", "setup", target, f"PY={fake}", *args]
    subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, check=True, capture_output=True)
    return seen.read_text().split("\n")[:2]


@pytest.mark.parametrize("name", TRICKY)
def test_make_passes_any_name_to_the_build_as_typed(tmp_path, name):
    args = [f"AUTHOR={name}", f"COLLABORATOR={name}!"]
    assert make_sees(tmp_path, "book", *args) == [name, f"{name}!"]
    assert make_sees(tmp_path, "smoke", *args) == [name, f"{name}!"]


def test_make_takes_the_names_from_the_environment_too(tmp_path):
    env = {**__import__("os").environ, "AUTHOR": "Jo$e Smith"}
    assert make_sees(tmp_path, "book", env=env) == ["Jo$e Smith", "unset"]


def test_make_sets_no_name_unless_asked(tmp_path):
    assert make_sees(tmp_path, "book") == ["unset", "unset"]


@pytest.mark.parametrize("env, warns", [({}, True), (REAL, False)])
def test_the_build_ends_with_the_warning_only_while_unset(monkeypatch, capsys, env, warns):
    monkeypatch.setattr(authors, "from_config", lambda: dict(PLACEHOLDERS))
    for role, variable in authors.ENV_VARS.items():
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


def tiny_book(tmp_path):
    """A two-page book with our extensions and _config.yml, executing nothing."""
    config = (PROJECT_ROOT / "_config.yml").read_text()
    (tmp_path / "_config.yml").write_text(
        config.replace("execute_notebooks: cache", "execute_notebooks: off")
    )
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: page\n")
    (tmp_path / "intro.md").write_text("# A tiny book\n\nText.\n")
    (tmp_path / "page.md").write_text("# A page\n\nMore text.\n")
    for folder in ("latex", "_static"):
        shutil.copytree(PROJECT_ROOT / "book" / folder, tmp_path / "book" / folder)
    return tmp_path


def build_tiny_book(book, builder, author, collaborator):
    """Build `book` with the names in the environment (what `make book AUTHOR=...` sets)."""
    env = {"BNBOOK_AUTHOR": author, "BNBOOK_COLLABORATOR": collaborator}
    jb = str(Path(sys.executable).parent / "jupyter-book")
    subprocess.run(
        [jb, "build", str(book), "--builder", builder],
        env={**os.environ, **env}, check=True, capture_output=True,
    )  # fmt: skip
    return book / "_build" / builder


@pytest.mark.book
def test_author_reaches_the_title_page(tmp_path):
    tex = (build_tiny_book(tiny_book(tmp_path), "latex", *REAL.values()) / "book.tex").read_text()
    title_page = tex[tex.index("\\begin{titlepage}") : tex.index("\\end{titlepage}")]
    assert "Ada Lovelace" in title_page and "Collaborator: Charles Babbage" in title_page
    assert "Student Name" not in tex and "Collaborator Name" not in tex


HOSTILE = "Jane <jane@example.edu> & <img src=x onerror=alert(1)>"


@pytest.mark.book
def test_the_html_footer_shows_any_name_escaped(tmp_path):
    html = build_tiny_book(tiny_book(tmp_path), "html", HOSTILE, 'O"Neil <b>')
    for page in ("intro.html", "page.html"):
        text = (html / page).read_text()
        assert "<img src=x" not in text and "<jane@" not in text and "<b>" not in text, page
        footer = text[text.index('class="component-author"') :][:400]
        assert "Jane &lt;jane@example.edu&gt; &amp; &lt;img src=x onerror=alert(1)&gt;" in footer
        assert "O&#34;Neil &lt;b&gt;" in footer or "O&quot;Neil &lt;b&gt;" in footer, footer


def test_the_title_page_escapes_any_name_for_latex():
    """Unit-level, as _configure calls it: at config-inited, before the LaTeX builder."""
    from types import SimpleNamespace

    from bnbook.tooling import pages

    config = SimpleNamespace(
        bnbook_course="C", bnbook_assignment="A", project="P", html_title="T", today="x",
        today_fmt=None, bnbook_author="Jo$e & O_Neil{1} #2 50%", bnbook_collaborator="~^\\",
    )  # fmt: skip
    tex = pages.title_page(config)
    assert r"{\Large Jo\$e \& O\_Neil\{1\} \#2 50\%\par}" in tex, tex
    assert r"Collaborator: \textasciitilde{}\textasciicircum{}\textbackslash{}\par" in tex, tex


@pytest.mark.book
def test_the_built_title_page_escapes_any_name_for_latex(tmp_path):
    book = build_tiny_book(tiny_book(tmp_path), "latex", "Jo$e & O_Neil 50% #1", "~x^")
    tex = (book / "book.tex").read_text()
    title_page = tex[tex.index("\\begin{titlepage}") : tex.index("\\end{titlepage}")]
    assert r"Jo\$e \& O\_Neil 50\% \#1" in title_page, title_page
    assert "~x^" not in title_page, title_page
