"""How the chapters show results: `evidence` (each section's table, figure data and
glued facts), `comparisons` (paired differences, t-intervals, verdicts), `analysis`
(measurements read from records), `plots` (figures), `report` (tables and the profile
note) and `graph_drawing` (the computational graphs)."""
