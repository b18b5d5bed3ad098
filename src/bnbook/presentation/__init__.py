"""How the chapters show results: `plots` (figures), `graph_drawing` (the
computational graphs), `report` (tables, glue helpers, profile notes) and
`analysis` (the judgements the text states)."""
