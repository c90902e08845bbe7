"""The paper's experimental protocol as plain Python: design (variants x folds x seeds), per-run
efficiency figures, aggregation of runs into the paper's tables, and the paper's published numbers.

Nothing here imports Kedro; :mod:`insole_mtl.pipelines.protocol` wires it into the pipeline.
"""
