# The two commands of the README: `make demo` brings up the system, `make test` checks it.
.PHONY: setup demo test lint bench

setup:
	bash deploy/setup.sh

demo: setup
	.venv/bin/geoscada demo

lint: setup
	.venv/bin/ruff check .
	.venv/bin/mypy .

test: setup lint
	.venv/bin/pytest -q -n 2 --dist loadgroup

bench: setup
	@for b in bench/bench_*.py; do echo "== $$b"; .venv/bin/python $$b; done
