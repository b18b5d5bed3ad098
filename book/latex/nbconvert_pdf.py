# nbconvert settings for `make notebook-pdf`: one chapter, executed, to PDF via XeLaTeX.
# Graphviz graphs are SVG-only outputs; convert them with rsvg-convert (librsvg2-bin,
# installed by scripts/setup.sh) instead of nbconvert's default, Inkscape.
c = get_config()  # noqa: F821
c.SVG2PDFPreprocessor.command = ["rsvg-convert", "-f", "pdf", "-o", "{to_filename}", "{from_filename}"]
c.ExecutePreprocessor.timeout = 3600  # as the book: training may run when the cache is cold
c.TemplateExporter.exclude_input_prompt = True
c.TemplateExporter.exclude_output_prompt = True
