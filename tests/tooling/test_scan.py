"""The scan of the built book: an error output, a raw glue role or a PDF problem is named
with its page, and fails the build."""

import shutil

import pytest

from bnbook.tooling import build, scan


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
