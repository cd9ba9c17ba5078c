# Sourced by the bench scripts, from the repository root: $PY is $PYTHON, else
# .venv-bench/bin/python (see BENCHMARKS.md), else python3.
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  if [ -x .venv-bench/bin/python ]; then PY=.venv-bench/bin/python; else PY=python3; fi
fi
