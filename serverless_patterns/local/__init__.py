"""Local runtime: the example stacks (or your own) running end to end without Docker or AWS.

Development tooling, not part of the constructs: install ``serverless-patterns[local]``. It
runs moto's server with Python functions executed as local processes and event sources
wired as AWS documents them; docs/local.md has the fidelity table.
"""
