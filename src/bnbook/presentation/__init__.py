"""How the chapters show results: `plots` (figures), `report` (tables, glue
helpers, profile notes) and `analysis` (the judgements the text states)."""
