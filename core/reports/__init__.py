"""Reports: HTML reports, figures and the writers that turn a workflow's Run into the model
file(s), report (+ figure JSON) and per-sample table, nothing written until the run succeeded."""
