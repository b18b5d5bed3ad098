# nbconvert settings for `make notebook-pdf`: one chapter, executed, to PDF via XeLaTeX.
# Graphviz graphs are SVG-only outputs; convert them with rsvg-convert (librsvg2-bin,
# installed by scripts/setup.sh) instead of nbconvert's default, Inkscape.
import re

from nbconvert.preprocessors import Preprocessor

from bnbook.tooling.authors import book_names
from bnbook.tooling.print_tags import parts_left_out

c = get_config()  # noqa: F821
c.SVG2PDFPreprocessor.command = ["rsvg-convert", "-f", "pdf", "-o", "{to_filename}", "{from_filename}"]
c.ExecutePreprocessor.timeout = 3600  # as the book: training may run when the cache is cold
c.TemplateExporter.exclude_input_prompt = True
c.TemplateExporter.exclude_output_prompt = True
# Graphs and figures at the width of the text (nbconvert's default shrinks only, to 0.9).
c.LatexExporter.extra_template_basedirs = ["book/latex"]
c.LatexExporter.template_name = "chapter"

GLUE = re.compile(r"\{glue(?::text|:any)?\}`([\w.-]+)(?::([^`]*))?`")


class PrintedChapter(Preprocessor):
    """After execution, the chapter as the book prints it: its own title and the names
    from _config.yml (or AUTHOR=/COLLABORATOR=), no cells the book hides in print, no
    stderr (TensorFlow's start-up log), glued numbers in place of their roles."""

    def preprocess(self, nb, resources):
        glued = {}
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                name = output.get("metadata", {}).get("scrapbook", {}).get("name")
                if name and "text/plain" in output.get("data", {}):
                    glued[name] = output["data"]["text/plain"].strip("'\"")
        kept = []
        for cell in nb.cells:
            left_out = parts_left_out(cell.get("metadata", {}).get("tags"))
            if left_out == {"input", "output"}:
                continue
            if cell.cell_type == "code":
                if "input" in left_out:
                    cell.transient = {"remove_source": True}
                if "output" in left_out:
                    cell.outputs = []
                cell.outputs = [o for o in cell.outputs if o.get("name") != "stderr"]
                if not cell.outputs and "input" in left_out:
                    continue
            elif cell.cell_type == "markdown":
                cell.source = GLUE.sub(lambda m: _format(glued, m[1], m[2]), cell.source)
            kept.append(cell)
        nb.cells = kept
        heading = re.compile(r"^# (.+)\n?", re.MULTILINE)
        first = next((cell for cell in nb.cells if cell.cell_type == "markdown"), None)
        if first is not None and (match := heading.search(first.source)):
            nb.metadata["title"] = re.sub(r"\$([^$]*)\$", r"\1", match[1])
            first.source = heading.sub("", first.source, count=1)
        names = book_names()
        nb.metadata["authors"] = [
            {"name": names["author"]},
            {"name": names["collaborator"]},
        ]
        return nb, resources


def _format(glued: dict, name: str, spec: str | None) -> str:
    value = glued.get(name, name)
    try:
        return format(float(value), spec) if spec else value
    except ValueError:
        return value


c.LatexExporter.preprocessors = [PrintedChapter]
