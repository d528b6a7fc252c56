"""The report: a self-contained HTML dashboard of the workflow outputs, with its figures and tables as files.

- `disclosure`: small-count suppression with complementary suppression, surgeon pseudonyms, month dates, 90+ ages.
- `inputs`: reads the workflow tables, the consolidation summary and the manifest (aggregates only).
- `prepare`, `quality`, `chartdata`: the data of each table and chart, the audience's disclosure applied.
- `formats`: the text of counts, n/N and rates with intervals.
- `tables` / `charts`: pure builders, data -> great-tables `GT` / plotnine `ggplot`.
- `sections`, `unit_sections`: which tables, charts and "not available" notes each section holds.
- `page`: the HTML page (contents bar, inline CSS, charts embedded); `render`: figures and files, written
  atomically; `workers` / `worker`: figures drawn in parallel processes.
- `stage`: the report stage, its declaration and the body `ector report` runs.

Nothing here imports plotnine at module level except `charts`: it costs about a second, and only the
processes that draw import it.
"""
