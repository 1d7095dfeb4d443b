"""Networks: one file per architecture. Each maps `x` (numeric columns, then one code per categorical column) to
`(batch, n_outputs)`, or `(batch, k, n_outputs)` for an ensemble of k members. See docs/extending.md."""
